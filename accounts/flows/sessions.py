"""Where a member is signed in, and ending those sign-ins (Account > Security, issue 16).

Each sign-in's security-log entry keeps its session key, encrypted (details["session"]), so the
list is the member's recent sign-ins whose session still exists in the store every app server
shares (the database, or Redis with REDIS_URL), and ending one deletes it there. What the page
shows of each comes from the session itself (when it began, when last seen, view only) and
from its log entry (device, address).
"""

import base64
import datetime
from dataclasses import dataclass
from importlib import import_module

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.contrib import auth
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts import devices, view_only
from accounts.addresses import client_ip
from accounts.audit import Kind, record
from accounts.middleware import SEEN_AT
from accounts.models import SecurityEvent
from accounts.sessions import mark_ended


def _fernet() -> Fernet:
    key = salted_hmac("accounts.flows.sessions", "fernet", algorithm="sha256").digest()
    return Fernet(base64.urlsafe_b64encode(key))


def sealed(session_key: str) -> str:
    """What the sign-in's log entry keeps of its session key."""
    return _fernet().encrypt(session_key.encode()).decode()


def _opened(token: str) -> str | None:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError, TypeError):
        return None


def _store(session_key: str | None = None):
    return import_module(settings.SESSION_ENGINE).SessionStore(session_key)


@dataclass(frozen=True)
class SignedIn:
    """One place the member is signed in."""

    id: int  # the sign-in's log entry: what the page posts to end it (no session key shown)
    browser: str
    system: str
    ip_address: str | None
    started: datetime.datetime
    last_seen: datetime.datetime
    view_only: bool
    current: bool
    method: str  # the sign-in's log kind


def _sign_ins(member):
    """The member's sign-ins that may still have a session: their log entries."""
    since = timezone.now() - datetime.timedelta(seconds=settings.JENCO_SESSION_MAX_SECONDS)
    return SecurityEvent.objects.filter(
        member=member,
        kind__in=SecurityEvent.SIGN_INS,
        created__gte=since,
        details__has_key="session",
    )


def keep_this_one(request, member) -> None:
    """After this session changed the member's password or PIN: it stays signed in, under a
    new key (Django's update_session_auth_hash), and its sign-in's log entry follows it to
    that key. The entry is how the member's other devices and support find the session (the
    list, "sign out everywhere else", support's sign-out): left with the old key, it was
    found by none of them and outlived them all (helper-110)."""
    old_key = request.session.session_key
    auth.update_session_auth_hash(request, member)
    if not old_key:
        return
    for event in _sign_ins(member):
        if _opened(event.details["session"]) == old_key:
            event.details["session"] = sealed(request.session.session_key)
            event.save(update_fields=["details"])
            return


def signed_in(request, member) -> list[SignedIn]:
    """Every session of `member` that still exists, the current one first."""
    current_key = request.session.session_key
    found, current_listed = [], False
    for event in _sign_ins(member):
        key = _opened(event.details.get("session", ""))
        data = _live(key, member) if key else None
        if data is None:
            continue
        current = key == current_key
        current_listed |= current
        found.append(_signed_in(event, data, current))
    if not current_listed:
        # No sign-in's entry holds its key: it is from before sessions were logged, or its
        # password or PIN change was before keep_this_one. Listed as this request shows it,
        # its address included.
        browser, system = devices.describe(request.headers.get("User-Agent", ""))
        now = int(timezone.now().timestamp())
        started = _when(request.session.get("signed_in_at", now))
        found.append(
            SignedIn(
                id=0,
                browser=browser,
                system=system,
                ip_address=client_ip(request),
                started=started,
                last_seen=timezone.now(),
                view_only=view_only.active(request),
                current=True,
                method=Kind.SIGN_IN,
            )
        )
    return sorted(found, key=lambda each: (not each.current, -each.last_seen.timestamp()))


def _live(session_key: str, member) -> dict | None:
    """The session's data if it exists and still signs `member` in: a session from before
    the password or PIN changed is over (Django checks the same hash on its next request),
    as is a view-only one from before the sub password changed, though its row stays until
    it expires."""
    store = _store(session_key)
    if not store.exists(session_key):
        return None
    data = store.load()
    if str(data.get(auth.SESSION_KEY)) != str(member.pk):
        return None
    if not _current_credentials(member, data.get(auth.HASH_SESSION_KEY, "")):
        return None
    # A view-only session from before the sub password changed or was removed is over too
    # (accounts.view_only ends it on its next request): listed, it read as signed in
    # (helper-112).
    marker = data.get(view_only.SESSION_KEY)
    if marker is not None and not constant_time_compare(marker, view_only.fingerprint(member)):
        return None
    return data


def _current_credentials(member, session_hash: str) -> bool:
    """django.contrib.auth.get_user's check: the hash the session was signed in with is the
    member's now (under SECRET_KEY or a fallback)."""
    keys = [None, *settings.SECRET_KEY_FALLBACKS]
    return any(
        constant_time_compare(session_hash, member._get_session_auth_hash(secret=key))
        for key in keys
    )


def _when(seconds) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(int(seconds), tz=datetime.UTC)


def _signed_in(event, data: dict, current: bool) -> SignedIn:
    browser, system = devices.describe(event.user_agent)
    started = _when(data["signed_in_at"]) if "signed_in_at" in data else event.created
    return SignedIn(
        id=event.pk,
        browser=browser,
        system=system,
        ip_address=event.ip_address,
        started=started,
        last_seen=timezone.now() if current else _when(data.get(SEEN_AT, started.timestamp())),
        view_only=view_only.SESSION_KEY in data,
        current=current,
        method=event.kind,
    )


def _end(session_key: str) -> None:
    """Delete the session from the store, marked first so that the device holding it is
    told it was signed out (accounts.middleware.ended_elsewhere)."""
    mark_ended(session_key)
    _store(session_key).delete(session_key)


def others_signed_in(request, member) -> bool:
    """Whether the member is signed in anywhere but here."""
    return any(not each.current for each in signed_in(request, member))


def end(request, member, sign_in_id: int) -> bool:
    """Sign out the session the sign-in `sign_in_id` started, if it is the member's, still
    exists and is not this one. False otherwise (nothing changed)."""
    event = SecurityEvent.objects.filter(
        pk=sign_in_id, member=member, kind__in=SecurityEvent.SIGN_INS, details__has_key="session"
    ).first()
    key = _opened(event.details["session"]) if event else None
    if key is None or key == request.session.session_key or _live(key, member) is None:
        return False
    with transaction.atomic():
        _end(key)
        record(request, Kind.SESSION_ENDED, member, details={"ended": event.pk})
    return True


def end_others(request, member) -> int:
    """Sign out every other session of the member; how many were ended."""
    others = [each for each in signed_in(request, member) if not each.current]
    ended = 0
    with transaction.atomic():
        for each in others:
            event = SecurityEvent.objects.get(pk=each.id)
            key = _opened(event.details["session"])
            if key:
                _end(key)
                ended += 1
        if ended:
            record(request, Kind.OTHER_SESSIONS_ENDED, member, details={"count": ended})
    return ended


def end_every(request, member, *, actor, team: str) -> int:
    """Support, for "someone signed in who wasn't me": sign the member out on every device
    (each sign-in the log keeps a session key for), logged with the agent. How many ended."""
    ended = 0
    with transaction.atomic():
        for event in _sign_ins(member):
            key = _opened(event.details["session"])
            if key and _live(key, member) is not None:
                _end(key)
                ended += 1
        if ended:
            details = {"count": ended, "team": team}
            record(request, Kind.OTHER_SESSIONS_ENDED, member, actor=actor, details=details)
    return ended
