"""Two-step verification: an authenticator app (TOTP) and recovery codes (issue 16).

With two-step on, a sign-in stops after ID + password + captcha: the session holds only the
member waiting for a second step (`begin`), /login/code/ takes an authenticator code or a
recovery code, and `finish` signs in through accounts.flows.sign_in like every other path.

Turning it on or off and new recovery codes are confirmed by the view (PIN, or the password
for an account without a PIN) and are each one transaction, logged and announced by email.
"""

import base64
import datetime
import enum
import hashlib
import json
import secrets
import time
from dataclasses import dataclass

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts import credentials, emails
from accounts.audit import Kind, Pause, lifts, pause_ends, record
from accounts.flows import SENT_TWICE, passkeys
from accounts.models import Authenticator, Member, Passkey, RecoveryCode

ISSUER = "JENCO"
RECOVERY_CODES = 10
# The session keys of a sign-in waiting for its second step, and of a set-up in progress.
PENDING = "two_step_pending"
SETUP = "two_step_setup"
# Recovery codes: 10 characters from an alphabet without look-alikes (no 0/O, 1/I/L),
# shown as two groups of five.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def is_on(member) -> bool:
    """Whether signing in as `member` needs a second step: the one place that decides.
    (The sign-in's lookup reads it with the member: accounts.backends.MemberBackend.)"""
    known = getattr(member, "two_step_on", None)
    if known is not None:
        return known
    return Authenticator.objects.filter(member=member).exists()


def wanted(member) -> bool:
    """Whether a sign-in whose password was right needs a second step: two-step is on and it
    is a full sign-in (a view-only one opens nothing that can change, and is mailed)."""
    return not getattr(member, "signed_in_view_only", False) and is_on(member)


def required_for_staff(member) -> bool:
    return bool(settings.JENCO_STAFF_TWO_STEP and member.is_staff)


# --- The key -----------------------------------------------------------------------------


def _fernet() -> Fernet:
    key = salted_hmac("accounts.two_step.secret", "fernet", algorithm="sha256").digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def _decrypt(token: str) -> str | None:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:  # SECRET_KEY changed: the authenticator must be set up again
        return None


# --- Setting it up -------------------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    """What the set-up page shows: the key as a QR code and as text to type."""

    secret: str
    uri: str
    qr_svg: str

    @property
    def key_groups(self) -> str:
        return " ".join(self.secret[i : i + 4] for i in range(0, len(self.secret), 4))


def setup(request, member) -> Setup:
    """The key being set up in this session (a new one the first time). It is kept in the
    session, encrypted, until the member confirms it with a first code."""
    secret = _decrypt(request.session.get(SETUP, "")) if request.session.get(SETUP) else None
    if secret is None:
        secret = pyotp.random_base32()
        request.session[SETUP] = _encrypt(secret)
    uri = pyotp.TOTP(secret).provisioning_uri(name=member.member_id, issuer_name=ISSUER)
    qr = segno.make(uri, micro=False, error="m").svg_inline(scale=4, border=2, omitsize=True)
    return Setup(secret=secret, uri=uri, qr_svg=qr)


class WrongCode(Exception):
    pass


def setup_code_fits(request, code: str) -> bool:
    """Whether `code` is what the key being set up in this session shows now (or one step
    either side)."""
    secret = _decrypt(request.session.get(SETUP, "")) if request.session.get(SETUP) else None
    return bool(secret) and _matching_step(secret, code) is not None


class AlreadyDone(Exception):
    """What the form asked was done since its page was opened, by another page (a second
    tab): its codes are that page's to show."""


def turn_on(request, member, code: str, *, form_token: str | None = None) -> list[str]:
    """Confirm the key in set-up with a first code; return the new recovery codes (shown once).
    Raises WrongCode when the code does not fit the key, AlreadyDone when another page turned
    it on meanwhile. `form_token`: the page's (codes_made_by)."""
    secret = _decrypt(request.session.get(SETUP, "")) if request.session.get(SETUP) else None
    step = _matching_step(secret, code) if secret else None
    if step is None:
        raise WrongCode
    with transaction.atomic():
        # One at a time per member: the form sent twice at once turned it on twice, with two
        # sets of codes, the second answer's (the one the browser shows) not working.
        member = Member.objects.hold(member.pk, whole=True)
        if Authenticator.objects.filter(member=member).exists():
            codes = codes_made_by(request, member, form_token)
            if codes is None:
                raise AlreadyDone
            return codes
        Authenticator.objects.create(
            member=member, secret_encrypted=_encrypt(secret), last_step=step
        )
        codes = _new_recovery_codes(member)
        _remember_codes(request, member, form_token, codes)
        record(request, Kind.TWO_STEP_ENABLED, member)
        emails.send_member_email(member, "two_step_enabled")
    request.session.pop(SETUP, None)
    return codes


@transaction.atomic
def turn_off(request, member) -> bool:
    """Remove the authenticator and the recovery codes; False when it was not on."""
    Member.objects.hold(member.pk)
    deleted, _ = Authenticator.objects.filter(member=member).delete()
    RecoveryCode.objects.filter(member=member).delete()
    if not deleted:
        return False
    record(request, Kind.TWO_STEP_DISABLED, member)
    emails.send_member_email(member, "two_step_disabled")
    return True


def new_recovery_codes(request, member, *, form_token: str | None = None) -> list[str]:
    """Void the old recovery codes and make 10 new ones (shown once). `form_token`: the
    page's; its form sent again gets the codes it made, not another set (codes_made_by)."""
    with transaction.atomic():
        member = Member.objects.hold(member.pk, whole=True)
        codes = codes_made_by(request, member, form_token)
        if codes is not None:
            return codes
        codes = _new_recovery_codes(member)
        _remember_codes(request, member, form_token, codes)
        record(request, Kind.RECOVERY_CODES_REGENERATED, member)
        emails.send_member_email(member, "recovery_codes_new")
    return codes


# A form that makes recovery codes, sent twice (a double tap, a click on a slow page): the
# browser shows only the second answer, so it must show the codes the first one made. Each
# page carries a random token; the codes it made are kept, encrypted, under it and the
# session, in the cache the app servers share, this long.
CODES_SHOWN_AGAIN_FOR = 120  # seconds


def codes_made_by(request, member, form_token: str | None) -> list[str] | None:
    """The recovery codes this session's page `form_token` made in the last two minutes."""
    if not form_token:
        return None
    kept = cache.get(_codes_key(request, member, form_token))
    shown = _decrypt(kept) if kept else None
    codes = json.loads(shown) if shown else None
    # Still the member's codes: another device may have made new ones since, voiding these
    # (the page sent again would show codes that no longer work).
    stored = set(RecoveryCode.objects.filter(member=member).values_list("code_hash", flat=True))
    if codes is None or {_code_hash(member, c.replace("-", "")) for c in codes} != stored:
        return None
    return codes


def _remember_codes(request, member, form_token: str | None, codes: list[str]) -> None:
    if form_token:
        key = _codes_key(request, member, form_token)
        cache.set(key, _encrypt(json.dumps(codes)), CODES_SHOWN_AGAIN_FOR)


def _codes_key(request, member, form_token: str) -> str:
    made_by = f"{member.pk}:{request.session.session_key}:{form_token[:64]}"
    digest = salted_hmac("accounts.two_step.codes", made_by, algorithm="sha256").hexdigest()
    return "two-step-codes:" + digest


class ChangedSinceSeen(Exception):
    """The member set two-step or a passkey up after the page asking for a reset was opened."""


def what_a_reset_removes(member) -> str:
    """What a reset would remove now (the authenticator app and each passkey), as an opaque
    mark: the support page's form carries it, so a page left open removes nothing the member
    set up since it was opened ("" when there is nothing)."""
    parts = [
        f"a{pk}" for pk in Authenticator.objects.filter(member=member).values_list("pk", flat=True)
    ]
    parts += [f"p{pk}" for pk in Passkey.objects.filter(member=member).values_list("pk", flat=True)]
    if not parts:
        return ""
    return hashlib.sha256(",".join(sorted(parts)).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Removed:
    """What a support reset took away: support's message says what it was (helper-152: it
    said the passkeys were removed of a member who had none)."""

    two_step: bool
    passkeys: int

    def __bool__(self) -> bool:
        return self.two_step or self.passkeys > 0


@transaction.atomic
def reset(
    member, *, actor, request=None, details: dict | None = None, seen: str | None = None
) -> Removed:
    """Support staff, after checking the member's identity: two-step off and every passkey
    removed (a lost phone takes both), so the member can sign in with the password alone and
    set them up again. What it removed (Removed), false when there was nothing to reset.
    `seen`: what the page showed (what_a_reset_removes); ChangedSinceSeen, and nothing
    removed, if the member set something up since (a second supervisor's page, or the same
    page sent again, once the member had set two-step up anew: helper-103)."""
    Member.objects.hold(member.pk)  # one reset at a time, and ahead of the rows it deletes
    if seen is not None:
        now = what_a_reset_removes(member)
        if now and now != seen:
            raise ChangedSinceSeen
    removed = Removed(
        two_step=Authenticator.objects.filter(member=member).delete()[0] > 0,
        passkeys=Passkey.objects.filter(member=member).delete()[0],
    )
    RecoveryCode.objects.filter(member=member).delete()
    if not removed:
        return removed
    record(request, Kind.TWO_STEP_RESET, member, actor=actor, details=details)
    emails.send_member_email(member, "two_step_reset")
    return removed


def recovery_codes_left(member) -> int:
    return RecoveryCode.objects.filter(member=member, used_at__isnull=True).count()


def _new_recovery_codes(member) -> list[str]:
    RecoveryCode.objects.filter(member=member).delete()
    codes = ["".join(secrets.choice(_ALPHABET) for _ in range(10)) for _ in range(RECOVERY_CODES)]
    RecoveryCode.objects.bulk_create(
        RecoveryCode(member=member, code_hash=_code_hash(member, code)) for code in codes
    )
    return [f"{code[:5]}-{code[5:]}" for code in codes]


def _code_hash(member, code: str) -> str:
    return salted_hmac(
        "accounts.two_step.recovery", f"{member.pk}:{code}", algorithm="sha256"
    ).hexdigest()


# --- Checking a code -------------------------------------------------------------------------


def normalise_code(typed: str) -> str:
    """What was typed, as a code: full-width to ASCII, spaces and hyphens out, upper case."""
    return credentials.normalise_member_id(typed)  # NFKC, no spaces or hyphens, upper case


def looks_like_a_code(code: str) -> bool:
    """6 digits (authenticator) or 10 letters and digits (recovery code)."""
    return (len(code) == 6 and code.isdigit() and code.isascii()) or (
        len(code) == 10 and all(c in _ALPHABET for c in code)
    )


def is_recovery_code(code: str) -> bool:
    """Whether a code that looks like a code (looks_like_a_code) is a recovery code's shape
    rather than an authenticator's 6 digits."""
    return len(code) == 10


def _matching_step(secret: str, code: str) -> int | None:
    """The time step whose code is `code`, allowing one step of clock drift either way."""
    if not (len(code) == 6 and code.isdigit() and code.isascii()):
        return None
    totp = pyotp.TOTP(secret)
    now = time.time()
    for drift in (0, -1, 1):
        when = now + drift * totp.interval
        if constant_time_compare(totp.at(when), code):
            return totp.timecode(datetime.datetime.fromtimestamp(when))
    return None


class Check(enum.StrEnum):
    RIGHT_TOTP = "totp"
    RIGHT_RECOVERY = "recovery"
    WRONG = "wrong"
    USED = "used"  # an authenticator code that was right, already spent: no wrong try
    PAUSED = "paused"
    SENT_TWICE = "sent_twice"  # another post of this form finished the sign-in meanwhile


@dataclass(frozen=True)
class Checked:
    result: Check
    until: datetime.datetime | None = None  # PAUSED: when codes are taken again


def check_code(request, member, typed: str) -> Checked:
    """Check a second-step code: an authenticator code (each works once) or an unused
    recovery code (used up by this). An authenticator code works once, and after a newer
    one none before it: such a code is refused as used, without counting as wrong, since the
    member typed what the app showed (signing in twice within its 30 seconds, say). Wrong
    codes count toward a pause of their own:
    JENCO_TWO_STEP_ATTEMPTS in JENCO_TWO_STEP_PAUSE_MINUTES, counted where every app server
    sees it. One check at a time per member, the pause read and a wrong code logged inside
    it: codes sent at once get no more tries between them than the limit."""
    code = normalise_code(typed)
    with transaction.atomic():
        Member.objects.hold(member.pk)
        paused = paused_until(member)
        if paused:
            return Checked(Check.PAUSED, paused)
        authenticator = Authenticator.objects.filter(member=member).first()
        step = None
        if authenticator is not None and len(code) == 6:
            secret = _decrypt(authenticator.secret_encrypted)
            step = _matching_step(secret, code) if secret else None
            if step is not None and step > authenticator.last_step:
                authenticator.last_step, authenticator.last_used = step, timezone.now()
                authenticator.save(update_fields=["last_step", "last_used"])
                _mark_finished(request)
                return Checked(Check.RIGHT_TOTP)
        elif is_recovery_code(code):
            used = RecoveryCode.objects.filter(
                member=member, code_hash=_code_hash(member, code), used_at__isnull=True
            ).update(used_at=timezone.now())
            if used:
                _mark_finished(request)
                # Used up for a sign-in, a lost phone's or a thief's who has the password too:
                # the member hears of it (helper-153), once the sign-in commits.
                left = recovery_codes_left(member)
                emails.send_member_email(member, "recovery_code_used", {"left": left})
                return Checked(Check.RIGHT_RECOVERY)
        if finished_meanwhile(request):
            return Checked(Check.SENT_TWICE)
        if step is not None:
            return Checked(Check.USED)
        record(request, Kind.TWO_STEP_FAILED, member)
        _count_own_wrong_code(request)
        until = paused_until(member)
        if until is not None:
            # Whoever typed these codes had the password: if not the member, someone else
            # may. Told by email at most once a day (someone who keeps at it would otherwise
            # send one each pause), and again after a new password or a lift.
            told = _told_today(member)
            record(request, Kind.TWO_STEP_PAUSED, member)
            if not told:
                emails.send_member_email(
                    member,
                    "two_step_paused",
                    {"until": until, "limit": settings.JENCO_TWO_STEP_ATTEMPTS},
                )
            return Checked(Check.PAUSED, until)
    return Checked(Check.WRONG)


def _told_today(member) -> bool:
    """Whether a pause within the last day told the member what is happening: not one from
    before a new password (the email's advice, which whoever typed these codes got past), a
    new email address (it went to the old one) or support lifting the pause."""
    since = timezone.now() - datetime.timedelta(days=1)
    newest = (
        member.security_events.filter(
            kind__in=[
                Kind.TWO_STEP_PAUSED,
                Kind.PASSWORD_CHANGED,
                Kind.PASSWORD_RESET,
                Kind.EMAIL_CHANGED,
                Kind.EMAIL_CORRECTED,
                Kind.LOCKOUT_CLEARED,
            ],
            created__gt=since,
        )
        .order_by("-created", "-pk")
        .values_list("kind", "details")
    )
    for kind, details in newest:
        if kind == Kind.TWO_STEP_PAUSED:
            return True
        if kind != Kind.LOCKOUT_CLEARED or lifts(details, Pause.TWO_STEP):
            return False
    return False


def paused_until(member) -> datetime.datetime | None:
    """When the pause ends, if wrong codes reached JENCO_TWO_STEP_ATTEMPTS within the last
    JENCO_TWO_STEP_PAUSE_MINUTES (since the last pause ended, and since support last lifted
    this pause)."""
    return pause_ends(
        member,
        Kind.TWO_STEP_FAILED,
        pause=Pause.TWO_STEP,
        limit=settings.JENCO_TWO_STEP_ATTEMPTS,
        window=datetime.timedelta(minutes=settings.JENCO_TWO_STEP_PAUSE_MINUTES),
        # Once a pause ends, the wrong codes before it count no more: a member's one typo
        # after it does not pause them again, and each pause is one email (check_code).
        paused_kind=Kind.TWO_STEP_PAUSED,
    )


# --- The sign-in waiting for its second step ------------------------------------------------


def begin(request, member, *, next_url: str = "") -> None:
    """The password was right and two-step is on: the session waits for the second step.
    Nothing is signed in yet; a new session key, and nothing of a sign-in before carries over."""
    credentials.save_new_hash(member)  # the password was right: before its hash is noted
    if request.user.is_authenticated:
        request.session.flush()
    else:
        request.session.cycle_key()
    request.session[PENDING] = {
        "member": member.pk,
        "since": int(time.time()),
        # Voids the wait if the password or PIN changes meanwhile.
        "auth": member.get_session_auth_hash(),
        "backend": member.backend,  # the backend that checked the password (authenticate)
        "next": next_url,
    }


def pending_member(request):
    """The member whose sign-in waits for a second step in this session, or None (none, or
    it waited longer than JENCO_TWO_STEP_PENDING_MINUTES, or the password changed)."""
    pending = request.session.get(PENDING)
    if not isinstance(pending, dict):
        return None
    if time.time() - pending.get("since", 0) > settings.JENCO_TWO_STEP_PENDING_MINUTES * 60:
        return None
    member = Member.objects.filter(pk=pending.get("member"), is_active=True).first()
    if member is None or not constant_time_compare(
        member.get_session_auth_hash(), pending.get("auth", "")
    ):
        return None
    if pending.get("backend") not in settings.AUTHENTICATION_BACKENDS:
        return None
    member.backend = pending["backend"]
    return member


def _count_own_wrong_code(request) -> None:
    """A wrong code typed in this waiting sign-in: if the sign-in then finishes, it was the
    member's own slip (an expired code, a digit mistyped), which the dashboard does not
    take for someone else holding the password (helper-164)."""
    pending = request.session.get(PENDING)
    if isinstance(pending, dict):
        request.session[PENDING] = {**pending, "wrong": pending.get("wrong", 0) + 1}


def pending_next(request) -> str:
    pending = request.session.get(PENDING)
    return pending.get("next", "") if isinstance(pending, dict) else ""


def abandon(request) -> None:
    request.session.pop(PENDING, None)


def finish_with_code(request, member, typed: str) -> "Checked":
    """The second step with an authenticator or recovery code: checked (check_code) and, if
    right, the sign-in made (finish), in one transaction, so the code is used up only with
    the sign-in it makes; the check's lock on the member keeps them to one at a time (codes
    sent at once passed the hour's sign-in limit, each seeing room). Past that limit, refused
    before the code is checked (sign_in.TooManySignIns): a recovery code used up for a
    sign-in the limit then refused was gone for nothing (helper-137)."""
    from accounts.flows.sign_in import refuse_past_the_limit

    refuse_past_the_limit(member, Kind.SIGN_IN_TWO_STEP)
    with transaction.atomic():
        checked = check_code(request, member, typed)
        if checked.result == Check.RIGHT_TOTP:
            finish(request, member, Kind.SIGN_IN_TWO_STEP)
        elif checked.result == Check.RIGHT_RECOVERY:
            finish(request, member, Kind.SIGN_IN_RECOVERY_CODE)
    return checked


def finish_with_passkey(request, member, answer: str) -> bool:
    """The second step with one of the member's passkeys, as finish_with_code: whether it
    signed the member in (False: the passkey refused, logged)."""
    from accounts.flows.sign_in import refuse_past_the_limit

    refuse_past_the_limit(member, Kind.SIGN_IN_PASSKEY)
    with transaction.atomic():
        try:
            passkeys.check(request, answer, member=member)
        except passkeys.Refused:
            return False  # its failure logged in this transaction, which commits
        finish(request, member, Kind.SIGN_IN_PASSKEY)
    return True


def finish(request, member, kind: str) -> None:
    """The second step was right: sign in, logged as `kind` (which second step) and as one
    after the password (a passkey's kind is also a sign-in with a passkey alone's)."""
    from accounts.flows.sign_in import sign_in  # sign_in imports this module

    waiting = request.session.get(PENDING)
    abandon(request)
    own_wrong_codes = waiting.get("wrong", 0) if isinstance(waiting, dict) else 0
    try:
        sign_in(request, member, kind=kind, after_password=True, own_wrong_codes=own_wrong_codes)
    except Exception:
        # Refused past the hour's sign-ins (TooManySignIns) by a post that raced another
        # here, or failed: the transaction's rollback keeps the code unused, so the sign-in
        # still waits for it, and the code is not "sent twice" (helper-139: the next try
        # went back to the sign-in page).
        request.session[PENDING] = waiting
        cache.delete(_finished_key(request.session.session_key or ""))
        raise


# The code page's form sent twice (a double tap): the post whose code is right marks its
# waiting session, under the lock that checks codes, and the other post from that session
# is answered as finished (Check.SENT_TWICE), not as a wrong code, and logs nothing.


def _mark_finished(request) -> None:
    if request.session.session_key:
        key = _finished_key(request.session.session_key)
        cache.set(key, True, int(SENT_TWICE.total_seconds()))


def finished_meanwhile(request) -> bool:
    """Whether another post from this waiting session finished the sign-in a moment ago. The
    session is named by the cookie the browser sent: the finishing post replaced it, so it
    may no longer load."""
    key = request.COOKIES.get(settings.SESSION_COOKIE_NAME, "")
    return bool(key) and bool(cache.get(_finished_key(key)))


def _finished_key(session_key: str) -> str:
    digest = salted_hmac("accounts.two_step.finished", session_key, algorithm="sha256")
    return "two-step-finished:" + digest.hexdigest()
