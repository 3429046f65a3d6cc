"""The PIN: confirming a change with it (each try counted), and changing it."""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.contrib import auth
from django.db import transaction
from django.utils import timezone

from accounts import credentials, emails, sign_in_sql
from accounts.audit import Kind, record
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
    """One try at what confirms a change; `matches()` says whether it was right.

    Wrong tries in a row are counted in the database (so every app server sees them), each
    written to the security log as `failed`; at JENCO_PIN_ATTEMPTS the changes that need
    confirming lock for JENCO_PIN_LOCK_MINUTES (`locked` in the log). A right one sets the
    count back to nothing, and ends a lock that wrong tries checked beside it set. Each try
    takes its place in the count before it is checked, and reads it back, in one UPDATE
    (sign_in_sql.take_a_try): requests sent at the same moment get no more tries than the
    limit between them, each is told its own tries left, and the one at the limit alone locks
    (one lock in the log, one email).
    """
    now = timezone.now()
    limit = settings.JENCO_PIN_ATTEMPTS
    place = sign_in_sql.take_a_try(member.pk, limit, now)
    if place is None:
        until = Member.objects.values_list("pin_locked_until", flat=True).get(pk=member.pk)
        if until and until > now:
            return PinCheck(right=False, locked_until=until)
        return PinCheck(right=False, busy=True)
    if matches():
        # Any lock now was set after this try took its place, by a wrong one checked beside
        # it: the right one, which the change goes ahead on, ends it.
        Member.objects.filter(pk=member.pk).update(pin_failures=0, pin_locked_until=None)
        member.pin_failures, member.pin_locked_until = 0, None
        return PinCheck(right=True)
    record(request, failed, member)
    if place >= limit:  # the last try there was: this one locks, and only this one
        until = _lock(request, member, locked)
        if until is not None:
            return PinCheck(right=False, locked_until=until)
        return PinCheck(right=False, tries_left=limit)  # a right one beside it set it back
    until = Member.objects.values_list("pin_locked_until", flat=True).get(pk=member.pk)
    if until and until > now:  # the last try, checked beside this one, locked it
        return PinCheck(right=False, locked_until=until)
    member.pin_failures = place
    # Its own place in the count: two wrong tries at once are told 2 and 1 left, not 2 twice.
    return PinCheck(right=False, tries_left=limit - place)


def _lock(request, member, kind: Kind) -> datetime.datetime | None:
    """Lock the changes the tries confirm, unless a right try beside the last one has set
    the count back meanwhile (None then)."""
    until = timezone.now() + datetime.timedelta(minutes=settings.JENCO_PIN_LOCK_MINUTES)
    limit = settings.JENCO_PIN_ATTEMPTS
    locked = Member.objects.filter(pk=member.pk, pin_failures__gte=limit).update(
        pin_failures=0, pin_locked_until=until
    )
    if not locked:
        return None
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
def change_pin(request, member, new_pin: str) -> None:
    """Like a password change: this session stays signed in, every other one ends (the PIN
    is part of the session hash, see Member._get_session_auth_hash)."""
    save_new_pin(member, new_pin)
    auth.update_session_auth_hash(request, member)
    record(request, Kind.PIN_CHANGED, member)
    emails.send_member_email(member, "pin_changed")
