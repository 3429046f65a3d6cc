"""Proving the mailbox after a sign-in on the published default credentials (issue 12).

The JA defaults are public, so a sign-in with them proves nothing about who typed them. Before
the PIN step such a session enters a 6-digit code mailed to the registered address. A code
works for JENCO_MAILBOX_CODE_MINUTES, takes JENCO_MAILBOX_CODE_TRIES wrong tries, and a member
can have one sent at most every JENCO_MAILBOX_RESEND_SECONDS and JENCO_MAILBOX_CODES_PER_HOUR
times an hour in one session. Across all sessions, a member gets at most
JENCO_MAILBOX_CODES_PER_MEMBER_HOUR codes and JENCO_MAILBOX_WRONG_CODES_PER_MEMBER_HOUR wrong
codes checked an hour. Each function returns a result; the view words the message.
"""

import datetime
import enum
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts import credentials, tasks
from accounts.audit import Kind, Pause, pause_ends, record
from accounts.emails import render_member_email
from accounts.flows import SENT_TWICE
from accounts.flows.language import change_language
from accounts.models import MailboxCode, Member

SESSION_KEY = "mailbox_proved"
SESSION_NONCE_KEY = "mailbox_session"


def proved(request) -> bool:
    """Whether this session, since it signed in, entered a code from the member's mailbox."""
    return request.session.get(SESSION_KEY) == _proof(request)


def _proof(request) -> list:
    # Bound to this sign-in: a new sign-in in the same browser must prove the mailbox again.
    return [request.user.pk, request.session.get("signed_in_at")]


def _session_hash(request) -> str:
    """Which session a code belongs to: a keyed hash of a random value kept in the session."""
    nonce = request.session.setdefault(SESSION_NONCE_KEY, secrets.token_urlsafe(16))
    # The key keeps the module's old name: a new one would void every code already mailed.
    return salted_hmac("accounts.mailbox.session", nonce, algorithm="sha256").hexdigest()


def due(request) -> bool:
    step = credentials.first_sign_in_step(request.user, mailbox_proved=proved(request))
    return step is credentials.Step.MAILBOX


def _hash(member_pk: int, code: str) -> str:
    # Keyed with SECRET_KEY: a copy of the table alone does not give the codes away.
    return salted_hmac(
        "accounts.mailbox.code", f"{member_pk}:{code}", algorithm="sha256"
    ).hexdigest()


@dataclass(frozen=True)
class Sending:
    """The outcome of asking for a code: sent now, or the time a new one can be asked for."""

    sent: bool
    next_at: datetime.datetime | None = None
    # Not sent because the member's mailbox has had its codes for the hour, whichever
    # sessions asked (perhaps someone typing the published password), and this session has
    # no code that still works: not because it asked a moment ago.
    account_limit: bool = False
    # Not sent because no code is checked until next_at (the member's wrong codes of the
    # hour): a code mailed now could not be used.
    paused: bool = False


def send_code(request, member) -> Sending:
    """Queue a new code to the registered address, within the resend limits.

    A code belongs to the session that asked for it: whoever else signs in on the defaults
    gets codes of their own and cannot spend this session's tries or resends. However many
    sessions ask, the member's mailbox gets at most JENCO_MAILBOX_CODES_PER_MEMBER_HOUR codes
    an hour. The worker makes the code as it mails it (tasks.mail_mailbox_code): the row
    written here holds no code until then, and a newer code voids the session's older ones.
    """
    if not member.email:
        return Sending(sent=False)
    now = timezone.now()
    session = _session_hash(request)
    with transaction.atomic():
        Member.objects.hold(member.pk)  # one request at a time
        paused = wrong_codes_pause(member)
        if paused is not None:
            return Sending(sent=False, next_at=paused, paused=True)
        recent = _this_hour(member, now)
        refused = _refusal(recent, session, now)
        if refused is not None:
            return refused
        code = MailboxCode.objects.create(member=member, created=now, session_hash=session)
        record(request, Kind.MAILBOX_CODE_SENT, member)
        transaction.on_commit(lambda: tasks.mail_mailbox_code.enqueue(code_pk=code.pk))
    mine = [earlier.created for earlier in recent if earlier.session_hash == session]
    return Sending(sent=True, next_at=_next_sending([now, *mine]))


def _this_hour(member, now) -> list[MailboxCode]:
    """The member's codes of the last hour, newest first, in one query."""
    hour_ago = now - datetime.timedelta(hours=1)
    fields = ("created", "session_hash", "used_at", "wrong_tries")
    return list(
        member.mailbox_codes.filter(created__gt=hour_ago).order_by("-created").only(*fields)
    )


def _refusal(recent: list[MailboxCode], session: str, now) -> Sending | None:
    """Why this session may not be sent a code now, given the member's codes of the last
    hour, or None when it may."""
    mine = [code for code in recent if code.session_hash == session]
    next_at = _next_sending([code.created for code in mine])
    account_limit = False
    account_next_at = _hour_spent_until(recent)
    if account_next_at is not None:
        # Told as the account's limit only to a session left without a code that works (the
        # owner whose hour others spent): a session whose own code still works asked for it
        # a short while ago, and is told so.
        account_limit = (next_at is None or account_next_at >= next_at) and not (
            mine and _works_until(mine[0], now)
        )
        next_at = max(next_at or now, account_next_at)
    if next_at is not None and next_at > now:
        return Sending(sent=False, next_at=next_at, account_limit=account_limit)
    return None


def _hour_spent_until(recent: list[MailboxCode]) -> datetime.datetime | None:
    """When the member's mailbox can be sent a code again, if the codes of the last hour
    (`recent`, newest first) reached JENCO_MAILBOX_CODES_PER_MEMBER_HOUR; None while not."""
    cap = settings.JENCO_MAILBOX_CODES_PER_MEMBER_HOUR
    return recent[cap - 1].created + datetime.timedelta(hours=1) if len(recent) >= cap else None


def codes_mailed_again_at(member) -> datetime.datetime | None:
    """The same for the member, read now (what support sees)."""
    return _hour_spent_until(_this_hour(member, timezone.now()))


@dataclass(frozen=True)
class NewestCode:
    """The member's newest code as support reads it ("I never got the code"): void after
    its wrong tries, and when the session that asked for it can be sent a new one."""

    used_up: bool  # JENCO_MAILBOX_CODE_TRIES wrong tries: the member was told to get a new one
    new_code_at: datetime.datetime | None  # None: a new code can be sent now


def newest_code(member) -> NewestCode | None:
    """None when the member has no code left in the table (none asked for, or pruned)."""
    now = timezone.now()
    code = member.mailbox_codes.order_by("-created").first()
    if code is None:
        return None
    used_up = code.used_at is None and code.wrong_tries >= settings.JENCO_MAILBOX_CODE_TRIES
    # What that session's 「新しいコードを送信」 waits for: a minute after its last code, or
    # the hour's limits (its own, and the member's across sessions).
    refused = _refusal(_this_hour(member, now), code.session_hash, now)
    new_code_at = refused.next_at if refused else None
    # No code is sent while the member's wrong codes of the hour pause the step (send_code).
    paused = wrong_codes_pause(member)
    if paused is not None:
        new_code_at = max(new_code_at or paused, paused)
    return NewestCode(used_up=used_up, new_code_at=new_code_at)


def _works_until(code, now) -> datetime.datetime | None:
    """Until when a code can still be entered: None once it is used, used up or expired."""
    if code.used_at is not None or code.wrong_tries >= settings.JENCO_MAILBOX_CODE_TRIES:
        return None
    expires = _expires_at(code)
    return expires if expires > now else None


def _lifetime() -> datetime.timedelta:
    return datetime.timedelta(minutes=settings.JENCO_MAILBOX_CODE_MINUTES)


def _expires_at(code) -> datetime.datetime:
    return code.created + _lifetime()


def _next_sending(recent: list[datetime.datetime]) -> datetime.datetime | None:
    """When the session's next code may be sent, given its codes of this hour, newest first."""
    if not recent:
        return None
    after_last = recent[0] + datetime.timedelta(seconds=settings.JENCO_MAILBOX_RESEND_SECONDS)
    if len(recent) < settings.JENCO_MAILBOX_CODES_PER_HOUR:
        return after_last
    oldest_counted = recent[settings.JENCO_MAILBOX_CODES_PER_HOUR - 1]
    return max(after_last, oldest_counted + datetime.timedelta(hours=1))


def mail_code(code_pk: int, *, retry: bool = False) -> None:
    """In the worker: draw the code, keep its hash, mail it in the member's language.

    A retry (the task failed before, tasks.retry_failed) draws a new code while this one is
    unused: an earlier try may have kept a hash and then failed to mail, or died mailing, its
    code. The new hash replaces the old, so only the code mailed last works.
    """
    rows = MailboxCode.objects.filter(pk=code_pk, used_at__isnull=True)
    if not retry:
        rows = rows.filter(code_hash="")
    row = rows.select_related("member").first()
    if row is None or not row.member.email:
        return
    code = f"{secrets.randbelow(10**6):06d}"
    if not rows.update(code_hash=_hash(row.member.pk, code)):
        return  # another worker mailed this one, or the code was used meanwhile
    context = {"code": code, "minutes": settings.JENCO_MAILBOX_CODE_MINUTES}
    message = render_member_email(row.member, "mailbox_code", context)
    tasks.deliver_email.call(to=[row.member.email], **message)


class Check(enum.Enum):
    PROVED = "proved"
    WRONG = "wrong"
    USED_UP = "used_up"  # JENCO_MAILBOX_CODE_TRIES wrong tries: a new code is needed
    EXPIRED = "expired"
    ON_ITS_WAY = "on_its_way"  # asked for, but the worker has not mailed it yet: no try counted
    NONE = "none"  # no code has been sent (or the newest was already used)
    # Wrong, but one of the member's older codes: from an email a newer code replaced (a
    # second sign-in on the defaults, or "Send a new code"). Counted as a wrong try.
    REPLACED = "replaced"
    PAUSED = "paused"  # the member's wrong codes of the hour, across sessions: none is checked


@dataclass(frozen=True)
class Checked:
    result: Check
    tries_left: int = 0
    until: datetime.datetime | None = None  # PAUSED: when a code is checked again
    newest_sent: datetime.datetime | None = None  # REPLACED: when the code to use was asked for


def check_code(request, member, typed: str) -> Checked:
    """Check a typed code against the newest one sent for this session; a right code proves
    the mailbox."""
    code = _newest(request, member)
    if code is None:
        return Checked(Check.NONE)
    if code.used_at is not None:
        return _entered_again(request, member, code, typed)
    now = timezone.now()
    if _expires_at(code) <= now:
        return Checked(Check.EXPIRED)
    if not code.code_hash:
        return Checked(Check.ON_ITS_WAY)
    with transaction.atomic():
        # One check at a time per member, the hour's wrong codes read and a wrong one logged
        # inside it: guesses sent at once from many sessions get no more than the limit.
        Member.objects.hold(member.pk)
        until = wrong_codes_pause(member)
        if until is not None:
            return Checked(Check.PAUSED, until=until)
        return _try(request, member, code, typed, now)


def wrong_codes_pause(member) -> datetime.datetime | None:
    """When a code is checked again, if the member's wrong codes of the last hour, in every
    session, reached JENCO_MAILBOX_WRONG_CODES_PER_MEMBER_HOUR; None while they have not."""
    return pause_ends(
        member,
        Kind.MAILBOX_CODE_FAILED,
        pause=Pause.MAILBOX,
        limit=settings.JENCO_MAILBOX_WRONG_CODES_PER_MEMBER_HOUR,
        window=datetime.timedelta(hours=1),
    )


def _try(request, member, code, typed: str, now) -> Checked:
    """One try of the session's code (check_code, inside its transaction)."""
    limit = settings.JENCO_MAILBOX_CODE_TRIES
    # The try takes its place before the code is compared, in one UPDATE, so guesses sent
    # at the same moment get no more tries than the limit between them.
    if not MailboxCode.objects.filter(
        pk=code.pk, used_at__isnull=True, wrong_tries__lt=limit
    ).update(wrong_tries=F("wrong_tries") + 1):
        code.refresh_from_db()
        if code.used_at is not None:  # used a moment ago, by this form sent twice?
            return _entered_again(request, member, code, typed)
        return Checked(Check.USED_UP)
    if constant_time_compare(_hash(member.pk, typed), code.code_hash):
        with transaction.atomic():
            if not MailboxCode.objects.filter(pk=code.pk, used_at__isnull=True).update(
                used_at=now, wrong_tries=F("wrong_tries") - 1
            ):
                code.refresh_from_db()  # used a moment ago, by this form sent twice?
                return _entered_again(request, member, code, typed)
            Member.objects.filter(pk=member.pk).update(mailbox_proved_at=now)
            member.mailbox_proved_at = now
            record(request, Kind.MAILBOX_PROVED, member)
            # The language chosen on the way here was this browser's alone (jenco.views.
            # set_language); proved, it is the member's, as a switch a moment later would
            # make it (helper-147: the mail and the next sign-in came in the one before).
            if (language := translation.get_language()) in dict(settings.LANGUAGES):
                change_language(request, member, language)
        request.session[SESSION_KEY] = _proof(request)
        return Checked(Check.PROVED)
    record(request, Kind.MAILBOX_CODE_FAILED, member)
    tries = MailboxCode.objects.values_list("wrong_tries", flat=True).get(pk=code.pk)
    left = max(limit - tries, 0)
    if left and _replaced(member, code, typed):
        return Checked(Check.REPLACED, tries_left=left, newest_sent=code.created)
    return Checked(Check.WRONG if left else Check.USED_UP, tries_left=left)


def _replaced(member, code, typed: str) -> bool:
    """Whether `typed` is one of the member's codes from before `code` that can no longer
    prove anything: the member read an older email (helper-162: told only "the code is not
    right", after "Send a new code" or a second sign-in on the defaults had mailed a new
    one). The keyed hash depends only on the member and the code, so the typed code is
    looked up by its hash: no code is kept in plain text.

    Only a dead code is told apart: this session's older ones, and any used, tried out,
    expired, replaced in its own session, or whose session signed out. Another session's
    live code answered "replaced" told a guess that it had hit a code that works there, so
    each wrong try tested every session's code (helper-165)."""
    newer_in_its_session = MailboxCode.objects.filter(
        member=member, session_hash=OuterRef("session_hash"), created__gt=OuterRef("created")
    )
    dead = (
        Q(session_hash=code.session_hash)
        | Q(used_at__isnull=False)
        | Q(wrong_tries__gte=settings.JENCO_MAILBOX_CODE_TRIES)
        | Q(created__lte=timezone.now() - _lifetime())
        | Q(Exists(newer_in_its_session))
    )
    older = member.mailbox_codes.filter(dead, created__lt=code.created)
    return older.filter(code_hash=_hash(member.pk, typed)).exists()


def void_session_codes(request) -> None:
    """Signing out: this session's codes can prove nothing any more (its session is gone),
    and are marked so (tried out), which also lets the next sign-in tell them as replaced."""
    if request.user.is_authenticated and SESSION_NONCE_KEY in request.session:
        MailboxCode.objects.filter(
            member=request.user, session_hash=_session_hash(request), used_at__isnull=True
        ).update(wrong_tries=settings.JENCO_MAILBOX_CODE_TRIES)


def _entered_again(request, member, code, typed: str) -> Checked:
    """This session's code, already used, entered again: the form sent twice (a double tap).
    The right code proves what it proved the first time, and this request's session keeps
    the proof too: it was read before the first one saved it, and saves after it. Nothing
    more is logged or counted. Only for a few seconds: a later sign-in in this browser must
    prove the mailbox with a code of its own."""
    just_now = timezone.now() - SENT_TWICE
    if (
        code.used_at is None
        or code.used_at < just_now
        or not constant_time_compare(_hash(member.pk, typed), code.code_hash)
    ):
        return Checked(Check.NONE)
    request.session[SESSION_KEY] = _proof(request)
    return Checked(Check.PROVED)


def _newest(request, member):
    return (
        member.mailbox_codes.filter(session_hash=_session_hash(request))
        .order_by("-created")
        .first()
    )


@dataclass(frozen=True)
class SessionCode:
    """This session's code as its page shows it: whether one was sent at all (a session with
    none was refused one: Sending.account_limit), until when the newest still works, and
    when "Send a new code" will send one: while none works (None: now), or while one works,
    when the hour's limit holds the next back (None: a minute after the last, as always),
    so the member knows before it runs out."""

    sent: bool
    expires: datetime.datetime | None
    send_at: datetime.datetime | None = None
    # No code is checked until then (the member's wrong codes of the hour, every session's).
    paused_until: datetime.datetime | None = None

    @property
    def runs_out_first(self) -> bool:
        """The hour's codes are spent: the next can be sent only after this one stops working."""
        return bool(self.expires and self.send_at and self.send_at > self.expires)


def session_code(request, member) -> SessionCode:
    now = timezone.now()
    code = _newest(request, member)
    paused = wrong_codes_pause(member)
    if paused is not None:
        return SessionCode(sent=code is not None, expires=None, paused_until=paused)
    expires = code and _works_until(code, now)
    refused = _refusal(_this_hour(member, now), _session_hash(request), now)
    send_at = refused.next_at if refused else None
    if expires:
        resend = code.created + datetime.timedelta(seconds=settings.JENCO_MAILBOX_RESEND_SECONDS)
        held = send_at if send_at and send_at > resend else None
        return SessionCode(sent=True, expires=expires, send_at=held)
    return SessionCode(sent=code is not None, expires=None, send_at=send_at)
