"""The security event log: one function writes it, staff read it in admin."""

import datetime
import enum
import logging

from django.utils import timezone

from accounts import sign_in_sql
from accounts.addresses import client_ip
from accounts.models import SecurityEvent

logger = logging.getLogger("jenco.security")

Kind = SecurityEvent.Kind


class Pause(enum.StrEnum):
    """A pause support lifts, as a LOCKOUT_CLEARED entry names it (details["lifted"])."""

    SIGN_IN = "sign_in"  # wrong passwords against the ID (django-axes)
    PIN = "pin"  # wrong PINs, or a PIN-less staff account's wrong confirming passwords
    TWO_STEP = "two_step"  # wrong two-step codes
    MAILBOX = "mailbox"  # wrong mailbox codes at a first sign-in (the published password)
    SIGN_INS = "sign_ins"  # the hour's sign-ins all made (accounts.flows.sign_in)


def request_origin(request) -> tuple[str | None, str]:
    if request is None:
        return None, ""
    return client_ip(request), request.headers.get("User-Agent", "")[:300]


def record(
    request,
    kind: str,
    member=None,
    *,
    member_id_typed: str = "",
    actor=None,
    origin=None,
    details: dict | None = None,
):
    """Write one security event. Never pass a secret: `details` is shown to staff and, for
    the member's own events, to the member (addresses masked, session keys encrypted).

    `origin` is a (ip, user_agent) pair for events written off the request (a task).
    """
    ip, user_agent = origin or request_origin(request)
    event = SecurityEvent(
        kind=kind,
        member=member,
        member_id_typed=member_id_typed[:32] if member is None else "",
        actor=actor,
        ip_address=ip,
        user_agent=user_agent[:300],
        details=details or {},
    )
    sign_in_sql.insert(event)  # on every sign-in: plain SQL (issue 13)
    who = member or member_id_typed[:32] or "-"
    if actor is not None and actor != member:  # staff acting on a member: the log says who
        logger.info("%s member=%s by=%s ip=%s", kind, who, actor, event.ip_address or "-")
    else:
        logger.info("%s member=%s ip=%s", kind, who, event.ip_address or "-")
    return event


def lifts(details: dict, pause: Pause) -> bool:
    """Whether a LOCKOUT_CLEARED entry (its `details`) lifted `pause`. Entries from before
    "lifted" was logged lifted every pause."""
    return pause in details.get("lifted", list(Pause))


def pause_ends(
    member,
    kind: str,
    *,
    pause: Pause,
    limit: int,
    window: datetime.timedelta,
    paused_kind: str | None = None,
) -> datetime.datetime | None:
    """When the pause that `limit` entries of `kind` about the member within the last
    `window` put on it ends; None while they are fewer. The log every app server writes to is
    the count (two-step codes, mailbox codes).

    Support lifts it (LOCKOUT_CLEARED, accounts.flows.support.clear_lockout): only the entries
    since the member's last lift of this `pause` count. A lift of another pause alone (a PIN
    lock, say) leaves the count as it was: lifting one pause must not give whoever is
    guessing at another fresh tries.

    With `paused_kind` (the entry logged as a pause begins), a pause that has ended leaves
    nothing behind: the entries after it count anew. Without it the window slides, a cap of
    `limit` an hour whatever happened before (mailbox codes).

    One query, of the entries within the window: few, since past the limit nothing is
    checked, so nothing logged, until the pause ends or is lifted."""
    kinds = [kind, Kind.LOCKOUT_CLEARED] + ([paused_kind] if paused_kind else [])
    entries = (
        SecurityEvent.objects.filter(
            member=member, kind__in=kinds, created__gt=timezone.now() - window
        )
        .order_by("-created", "-pk")
        .values_list("kind", "created", "details")
    )
    counted = 0
    for entry, created, details in entries:
        if entry == Kind.LOCKOUT_CLEARED:
            if lifts(details, pause):
                return None
            continue
        if entry == paused_kind:
            if counted:  # entries after a pause are logged only once it has ended
                return None
            continue  # the pause it began: the entries before it say until when
        counted += 1
        if counted == limit:
            return created + window
    return None
