"""Signing in and out, and a failed sign-in."""

import time

from django.contrib import auth

from accounts import credentials, emails, lockout
from accounts.audit import Kind, record
from accounts.flows import mailbox
from accounts.middleware import SEEN_AT


def sign_in(request, member) -> None:
    """Sign the member in. Called inside the sign-in post's one transaction (accounts.views
    .login): the session row is written here with the rest, not after the response."""
    with_defaults = getattr(member, "signed_in_with_default_password", False)
    previous = member.last_login
    auth.login(request, member)  # a new session key: no fixation; sets last_login to now
    request.session["signed_in_at"] = request.session[SEEN_AT] = int(time.time())
    if previous:  # what the dashboard shows as "last sign-in": the one before this
        request.session["previous_sign_in"] = previous.isoformat()
    if with_defaults:
        # The first-sign-in gate keeps this member to the mailbox, PIN and password steps.
        # The mailbox code's email doubles as the "was this you?" notice.
        record(request, Kind.SIGN_IN_DEFAULT, member)
        # The published password opens thousands of imported accounts: an address that gets
        # into many of them is spraying it, so each such sign-in counts against the address.
        lockout.count_against_address(request)
        if mailbox.due(request):
            mailbox.send_code(request, member)
        else:
            emails.send_member_email(member, "default_sign_in", {"when": member.last_login})
    else:
        record(request, Kind.SIGN_IN, member)
    request.session.save()


def sign_in_failed(request, member_id_typed: str, *, captcha: bool = False) -> None:
    """Log a failed sign-in. A wrong or missing captcha never reached authenticate(), so it
    is reported to the lockout here, against the address only: a bot that cannot read the
    picture runs out of tries, and cannot pause the member whose ID it typed."""
    member_id_typed = credentials.printable(credentials.normalise_member_id(member_id_typed))
    if captcha:
        lockout.captcha_failed(request, member_id_typed)
    if getattr(request, "jenco_paused_before", False):
        return  # a post during a pause was not checked: it writes nothing (issue 12 retest)
    record(request, Kind.SIGN_IN_FAILED, member_id_typed=member_id_typed)


def sign_out(request) -> None:
    if request.user.is_authenticated:
        record(request, Kind.SIGN_OUT, request.user)
    auth.logout(request)
