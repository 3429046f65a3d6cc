"""The PIN: confirming a change with it (each try counted), and changing it."""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import credentials, emails, sign_in_sql
from accounts.audit import Kind, record
from accounts.flows import sessions
from accounts.flows.credential_change import save_new_pin
from accounts.models import Member


@dataclass(frozen=True)
class PinCheck:
    """The outcome of a PIN (or, on an account without one, the password) that confirms a
    change."""

    right: bool
    # The PIN-confirmed actions are locked until then (by this try or an earlier one).
    locked_until: datetime.datetime | None = None
    tries_left: int = 0
    # Every try is taken by requests still being checked: they decide whether it locks.
    busy: bool = False


def confirm_change(request, member, typed: str) -> PinCheck:
    """Check what confirms a change, one counted try: the PIN, or on an account without one
    (staff made with create_staff) the password it signs in with."""
    if member.has_pin:
        return confirm_pin(request, member, typed)
    return _counted_try(
        request,
        member,
        lambda: member.check_password(typed),
        failed=Kind.CONFIRM_PASSWORD_FAILED,
        locked=Kind.CONFIRM_PASSWORD_LOCKED,
    )


def confirm_pin(request, member, raw_pin: str) -> PinCheck:
    """Check the PIN that confirms a change; each call costs the member one try."""
    return _counted_try(
        request,
        member,
        lambda: credentials.pin_matches(member, raw_pin),
        failed=Kind.PIN_FAILED,
        locked=Kind.PIN_LOCKED,
    )


def _counted_try(request, member, matches, *, failed: Kind, locked: Kind) -> PinCheck:
    signed_with = member.get_session_auth_hash()
    checked = _count_a_try(request, member, matches, failed=failed, locked=locked)
    if member.get_session_auth_hash() != signed_with:
        # A right PIN or password hashed again at today's parameters (credentials.rehasher,
        # Django's own for the password): both sign the session, so this one follows them,
        # as after a change; the member's other sessions end, as at a sign-in's rehash.
        sessions.keep_this_one(request, member)
    return checked


def _count_a_try(request, member, matches, *, failed: Kind, locked: Kind) -> PinCheck:
    """One try at what confirms a change; `matches()` says whether it was right.

    Wrong tries in a row are counted in the database (so every app server sees them), each
    written to the security log as `failed`; at JENCO_PIN_ATTEMPTS the changes that need
    confirming lock for JENCO_PIN_LOCK_MINUTES (`locked` in the log, and an email). A right
    one sets the count back to nothing.

    The try, its check and its outcome are one transaction: the UPDATE that takes the try's
    place in the count (sign_in_sql.take_a_try) holds the member's row, on SQLite the write
    lock, until the outcome is written. Tries sent at once are checked one after another,
    each told its own tries left, no more than the limit are checked, and the last alone
    locks; a try whose app server dies mid-check takes nothing with it (its place was not
    left taken, with every later try answered "being checked").
    """
    with transaction.atomic():
        now = timezone.now()
        limit = settings.JENCO_PIN_ATTEMPTS
        place = sign_in_sql.take_a_try(member.pk, limit, now)
        if place is None:  # locked: no try is taken while the lock lasts
            until = Member.objects.values_list("pin_locked_until", flat=True).get(pk=member.pk)
            if until and until > now:
                return PinCheck(right=False, locked_until=until)
            return PinCheck(right=False, busy=True)  # a count left at the limit, unlocked
        if matches():
            Member.objects.filter(pk=member.pk).update(pin_failures=0, pin_locked_until=None)
            member.pin_failures, member.pin_locked_until = 0, None
            return PinCheck(right=True)
        record(request, failed, member)
        if place >= limit:
            return PinCheck(right=False, locked_until=_lock(request, member, locked, limit))
        member.pin_failures = place
        return PinCheck(right=False, tries_left=limit - place)


def _lock(request, member, kind: Kind, limit: int) -> datetime.datetime:
    until = timezone.now() + datetime.timedelta(minutes=settings.JENCO_PIN_LOCK_MINUTES)
    Member.objects.filter(pk=member.pk).update(pin_failures=0, pin_locked_until=until)
    member.pin_locked_until = until
    record(request, kind, member)
    # Wrong tries in a row inside a signed-in session: if not the member's own, someone else
    # has the session. The email says so, and the way to end every session.
    emails.send_member_email(
        member,
        "changes_locked",
        {"until": until, "with_pin": kind == Kind.PIN_LOCKED, "limit": limit},
    )
    return until


@transaction.atomic
def change_pin(request, member, new_pin: str) -> bool:
    """Like a password change: this session stays signed in, every other one ends (the PIN
    is part of the session hash, see Member._get_session_auth_hash), view-only ones too.
    Whether any other was signed in, which the page and the email then say (helper-162:
    the email never did), as the password's do."""
    signed_out_elsewhere = sessions.others_signed_in(request, member)
    save_new_pin(member, new_pin)
    sessions.keep_this_one(request, member)
    record(request, Kind.PIN_CHANGED, member)
    context = {"signed_out_elsewhere": signed_out_elsewhere}
    emails.send_member_email(member, "pin_changed", context)
    return signed_out_elsewhere
