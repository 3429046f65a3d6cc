"""Signing in and out, and a failed sign-in."""

import datetime
import time
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.contrib import auth
from django.db import transaction
from django.utils import timezone

from accounts import credentials, emails, lockout, sign_in_sql, view_only
from accounts.audit import Kind, record
from accounts.flows import mailbox, passkeys, sessions
from accounts.middleware import SEEN_AT
from accounts.models import Member

# What the dashboard shows about the sign-ins before this one, read once at sign-in so a
# page view adds no query (tests/test_cost.py).
PREVIOUS_SIGN_IN = "previous_sign_in"
FAILED_SINCE = "failed_sign_ins_since"
# How many of those no password change or reset came after (the rest it answered already).
FAILED_SINCE_UNANSWERED = "failed_sign_ins_unanswered"
# And how many of those were wrong two-step codes: whoever typed one had the password.
FAILED_AT_SECOND_STEP = "failed_at_second_step"
# Of them, the wrong two-step codes typed in this very sign-in: the member's own slips.
OWN_WRONG_CODES = "own_wrong_codes"
HOUR = datetime.timedelta(hours=1)


@dataclass(frozen=True)
class SignInWay:
    """Sign-ins limited together, up to `times` JENCO_SIGN_INS_PER_MEMBER_HOUR an hour, and
    the events after which the earlier ones no longer count. `name` is for the paused page."""

    name: str
    kinds: tuple[str, ...]
    renewed_by: tuple[str, ...] = ()
    times: int = 1

    @property
    def limit(self) -> int:
        return settings.JENCO_SIGN_INS_PER_MEMBER_HOUR * self.times


# Each credential's sign-ins are counted apart, so that whoever holds one cannot use up
# another's: the sub password's holder cannot keep the member out with view-only sign-ins,
# nor a passkey (which a password reset leaves) the member's password (helper-137). A sign-in
# on the published defaults (every migrated account's, known to anyone) is not limited, or
# anyone could keep its member from their first sign-in; the address's count and the mailbox
# code's limits bound those. A new credential starts its way's count anew: a member who reset
# a stolen password is not kept out by the thief's sign-ins, nor by a passkey support removed.
# Support's lift of the member's pauses (LOCKOUT_CLEARED) starts every count anew.
BY_PASSWORD = SignInWay(
    "password",
    kinds=(Kind.SIGN_IN, Kind.SIGN_IN_TWO_STEP, Kind.SIGN_IN_RECOVERY_CODE),
    renewed_by=(Kind.PASSWORD_CHANGED, Kind.PASSWORD_RESET, Kind.LOCKOUT_CLEARED),
)
BY_PASSKEY = SignInWay(  # alone, or as the second step
    "passkey",
    kinds=(Kind.SIGN_IN_PASSKEY,),
    renewed_by=(Kind.PASSKEY_REMOVED, Kind.TWO_STEP_RESET, Kind.LOCKOUT_CLEARED),
)
VIEW_ONLY = SignInWay(
    "view_only",
    kinds=(Kind.SIGN_IN_VIEW_ONLY,),
    renewed_by=(Kind.SUB_PASSWORD_CHANGED, Kind.SUB_PASSWORD_REMOVED, Kind.LOCKOUT_CLEARED),
)
# And all of them together, three ways' worth, which only a new password from an emailed
# link (it proves the mailbox; three links an hour) or support starts anew: the member can
# renew each way's count (a passkey added and removed, helper-140), and a thief with the
# password and PIN could fill them all, keeping out the member who reset it (helper-141).
EVERY_WAY = SignInWay(
    "every",
    kinds=BY_PASSWORD.kinds + BY_PASSKEY.kinds + VIEW_ONLY.kinds,
    renewed_by=(Kind.PASSWORD_RESET, Kind.LOCKOUT_CLEARED),
    times=3,
)


def way_of(kind: str, *, read_only: bool = False) -> SignInWay:
    if read_only:
        return VIEW_ONLY
    return BY_PASSKEY if kind == Kind.SIGN_IN_PASSKEY else BY_PASSWORD


class TooManySignIns(Exception):
    """The member signed in `way.limit` times within the last hour this way: the next waits
    until `again_at`. Each sign-in keeps a security-log entry for 400 days and a session for
    12 hours; a client signing in to its own account with a passkey (no captcha, no hash)
    wrote both as fast as it could ask (helper-134). Raised inside the sign-in's transaction
    before the sign-in is written, whose rollback undoes what came before it (the row's
    lock, _one_at_a_time); views.answers_too_many_sign_ins answers it."""

    def __init__(self, member, way: SignInWay, again_at: datetime.datetime):
        super().__init__(member.member_id, way.name, again_at)
        self.member, self.way, self.again_at = member, way, again_at


def refuse_past_the_limit(member, kind: str) -> None:
    """Raise TooManySignIns if a sign-in of `kind` would be refused now: asked before a
    second step is checked, so that no code or passkey is used up for nothing."""
    _counted(member, way_of(kind), failed_since=timezone.now())  # no failures asked for


def refuse_before_the_second_step(member) -> None:
    """Raise TooManySignIns after a right password whose sign-in could only be refused at
    its second step: the password's sign-ins of the hour (or every way's) all made, and no
    passkey open there instead. The member was told to type a code, and then that the
    account was paused (helper-141). With a passkey that may still sign in, the code page
    stays open: it offers the passkey."""
    try:
        refuse_past_the_limit(member, Kind.SIGN_IN_TWO_STEP)
    except TooManySignIns as refused:
        if not other_way_open(member, refused.way, at_second_step=True):
            raise


def paused_until(member, way: SignInWay = BY_PASSWORD) -> datetime.datetime | None:
    """When a sign-in `way` (or every way together) is let through again, if not now: for
    support's "Can the member sign in?", the password's."""
    try:
        _counted(member, way, failed_since=timezone.now())  # no failures asked for
    except TooManySignIns as refused:
        return refused.again_at
    return None


def other_way_open(member, refused: SignInWay, *, at_second_step: bool) -> bool:
    """Whether the paused page may offer another way than `refused`, one not at its limit
    too (helper-140: said to be open without a look): the password (with a code at the
    second step) for a passkey's or the sub password's; a passkey as the second step for the
    password's there (helper-139: told to sign in with the password it had just typed); none
    when every way together is paused."""
    if refused is EVERY_WAY:
        return False
    if refused is BY_PASSWORD:
        if not (at_second_step and member.passkeys.exists()):
            return False
        other = BY_PASSKEY
    else:
        other = BY_PASSWORD
    return paused_until(member, other) is None


def _counted(member, way: SignInWay, *, failed_since) -> sign_in_sql.SignInCounts:
    """The member's sign-ins of the hour `way` and every way, refused with TooManySignIns
    when either is at its limit; and the failed sign-ins with the member's ID since
    `failed_since` (None: as far as the log goes back)."""
    hour_ago = timezone.now() - HOUR
    counts = sign_in_sql.count_sign_ins(
        credentials.printable(member.member_id),
        member.pk,
        since=failed_since,
        after=hour_ago,
        kinds=way.kinds,
        renewed_by=way.renewed_by,
        every_kind=EVERY_WAY.kinds,
        every_renewed_by=EVERY_WAY.renewed_by,
    )
    # Every way first: its page names what ends it, which the way's (a new password) may not.
    for refusing, counted in ((EVERY_WAY, counts.every_way), (way, counts.recent)):
        if counted >= refusing.limit:
            again_at = _next_free(member, refusing, counted, hour_ago)
            raise TooManySignIns(member, refusing, again_at)
    return counts


def sign_in(
    request,
    member,
    *,
    kind: str = Kind.SIGN_IN,
    after_password: bool = False,
    own_wrong_codes: int = 0,
) -> None:
    """Sign the member in. Called inside the sign-in post's one transaction (accounts.views
    .login): the session row is written here with the rest, not after the response. `kind`
    says how, for the security log: the password alone, or a second step after it
    (accounts.flows.two_step.finish, `after_password`, with the wrong codes typed in this
    very sign-in, the member's own). Raises TooManySignIns before the sign-in is written;
    the caller's transaction, rolled back, keeps nothing of it."""
    with_defaults = getattr(member, "signed_in_with_default_password", False)
    read_only = getattr(member, "signed_in_view_only", False)
    previous = member.last_login
    _one_at_a_time(member, read_only=read_only)
    if not with_defaults:  # on the published password: neither limited nor told failures
        counts = _counted(member, way_of(kind, read_only=read_only), failed_since=previous)
    if auth.SESSION_KEY in request.session and (
        read_only or view_only.SESSION_KEY in request.session
    ):
        # Nothing of a view-only session carries into a full one (or of a full one into a
        # view-only one): a new, empty session under a new key, the old one deleted.
        request.session.flush()
    credentials.save_new_hash(member)  # before login: the session is signed with the new one
    auth.login(request, member)  # a new session key: no fixation; sets last_login to now
    request.session["signed_in_at"] = request.session[SEEN_AT] = int(time.time())
    if previous:  # what the dashboard shows as "last sign-in": the one before this
        request.session[PREVIOUS_SIGN_IN] = previous.isoformat()
    if not with_defaults:  # on the published password, failures against the ID tell nothing
        request.session[FAILED_SINCE] = counts.failed
        request.session[FAILED_SINCE_UNANSWERED] = counts.unanswered
        # Wrong codes that only someone else with the password typed: not this sign-in's.
        others = max(counts.unanswered_second_step - own_wrong_codes, 0)
        request.session[FAILED_AT_SECOND_STEP] = others
        request.session[OWN_WRONG_CODES] = own_wrong_codes
    if read_only:
        # No second step here (accounts.views.login asks for one only for a full sign-in): a
        # view-only sign-in opens nothing that can change, and the member is told of every
        # one by email.
        view_only.start(request, member)
        record(request, Kind.SIGN_IN_VIEW_ONLY, member, details=_session(request))
        emails.send_member_email(member, "view_only_sign_in", {"when": timezone.now()})
    elif with_defaults:
        # The first-sign-in gate keeps this member to the mailbox step, then the PIN and
        # password steps. Every sign-in on the published password is due a code (each proves
        # the mailbox anew), whose email doubles as the "was this you?" notice.
        record(request, Kind.SIGN_IN_DEFAULT, member, details=_session(request))
        # The published password opens thousands of imported accounts: an address that gets
        # into many of them is spraying it, so each such sign-in counts against the address.
        if lockout.count_against_address(request):  # paused now: by this one, or alongside
            # log_pause logs it once, after its count is committed: a post reading the
            # failures after the entry must find the address paused (helper-93: one that
            # read 29 logged the pause again).
            address = request.axes_ip_address
            transaction.on_commit(partial(lockout.log_pause, request, None, address))
        mailbox.send_code(request, member)
    else:
        details = _session(request)
        if after_password:  # a second step: a passkey's told apart from one alone
            details["after_password"] = True
        record(request, kind, member, details=details)
    request.session.save()


def sign_in_with_passkey(request, answer: str):
    """Sign in whoever's passkey the browser's `answer` proves (a passkey alone: it stands
    for the password and the second step). The passkey's use (its counter, "last used") is
    kept only with the sign-in it makes, in one transaction, whose lock on the passkey keeps
    its sign-ins to one at a time (helper-137). The member signed in, or None (refused,
    logged by passkeys.check; or a deactivated account). Raises TooManySignIns."""
    with transaction.atomic():
        try:
            member = passkeys.check(request, answer).member
        except passkeys.Refused:
            return None
        if not member.is_active:
            return None
        member.backend = "accounts.backends.MemberBackend"
        sign_in(request, member, kind=Kind.SIGN_IN_PASSKEY)
    return member


def _one_at_a_time(member, *, read_only: bool) -> None:
    """The member's sign-ins one at a time from here to their commit, so that each counts
    the ones before it: password posts sent at once passed the hour's limit on PostgreSQL,
    each seeing room (helper-139). A full sign-in writes the member's last sign-in here,
    ahead of the count, and that UPDATE holds the member's row: the one Django's login made
    after it (last_sign_in_now), so no statement more. A view-only one, which writes no
    last sign-in, locks the row."""
    if read_only:
        Member.objects.hold(member.pk)
        return
    member.last_login = timezone.now()
    sign_in_sql.set_last_login(member.pk, member.last_login)
    member.last_login_written = True


def last_sign_in_now(sender, user, **kwargs) -> None:
    """The user_logged_in receiver that replaces Django's update_last_login (accounts.apps):
    the same, the member's last sign-in is now, in one UPDATE rather than a model save.

    A sign-in (sign_in) writes it itself, ahead of its count (_one_at_a_time): this is for
    logins made some other way (a test's force_login, a shell). And not for a view-only
    sign-in: the member's own last sign-in is what their dashboard counts failed sign-ins
    since, and whoever holds the sub password used the warning up before the member saw it
    (helper-119). Each view-only sign-in is mailed to the member and in the security log."""
    if getattr(user, "signed_in_view_only", False) or getattr(user, "last_login_written", False):
        return
    user.last_login = timezone.now()
    sign_in_sql.set_last_login(user.pk, user.last_login)


def _session(request) -> dict:
    """What the sign-in's log entry keeps so Account > Security can list and end the session:
    its key, encrypted (accounts.flows.sessions)."""
    if request.session.session_key is None:
        request.session.save()
    return {"session": sessions.sealed(request.session.session_key)}


def _next_free(member, way: SignInWay, counted: int, hour_ago) -> datetime.datetime:
    """When enough of the member's `counted` sign-ins `way` leave the hour for one more: the
    oldest, or more when the limit was lowered meanwhile. The same rule as the count's."""
    events = member.security_events.order_by("created").values_list("created", flat=True)
    renewed = events.filter(kind__in=way.renewed_by).last() if way.renewed_by else None
    start = max(hour_ago, renewed) if renewed else hour_ago
    leaving = counted - way.limit  # 0: the oldest
    nth = events.filter(kind__in=way.kinds, created__gt=start)[leaving : leaving + 1]
    return (nth[0] if nth else start) + HOUR


def sign_in_failed(request, member_id_typed: str, *, captcha: bool = False) -> None:
    """Log a failed sign-in. A wrong or missing captcha never reached authenticate(), so it
    is reported to the lockout here, against the address only: a bot that cannot read the
    picture runs out of tries, and cannot pause the member whose ID it typed.

    It is logged as a kind of its own, for staff: the member's dashboard and Activity count
    only SIGN_IN_FAILED, the password's failures. A member's own picture typo read there as
    "someone may be guessing your password", and anyone who knew an ID could raise that
    count without reading the picture (helper-162)."""
    member_id_typed = credentials.printable(credentials.normalise_member_id(member_id_typed))
    if captcha:
        lockout.captcha_failed(request, member_id_typed)
    if getattr(request, "jenco_paused_before", False):
        return  # a post during a pause was not checked: it writes nothing (issue 12 retest)
    kind = Kind.SIGN_IN_CAPTCHA_FAILED if captcha else Kind.SIGN_IN_FAILED
    record(request, kind, member_id_typed=member_id_typed)


def sent_while_checking(request, member_id: str) -> None:
    """The sign-in form sent again while its first post is checked (`member_id`: as the
    form cleaned it): nothing is logged or counted, since no password was checked, but a
    paused ID or address still gets the locked page, as every post does."""
    lockout.refuse_if_paused(request, member_id)


def sign_out(request) -> None:
    if request.user.is_authenticated:
        record(request, Kind.SIGN_OUT, request.user)
        mailbox.void_session_codes(request)
    auth.logout(request)
