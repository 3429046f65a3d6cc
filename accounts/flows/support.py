"""What a support agent reads and does on a member's admin page (issue 17).

Each action is one transaction, logged with the agent (`actor`), the agent's team and, where
the issue asks for one, the reason the agent typed: the member reads the team, never the
agent's name (accounts.activity); staff read both.
"""

import datetime
from dataclasses import dataclass

from axes.models import AccessAttempt
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import transaction
from django.db.models import Q
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts import credentials, lockout, times
from accounts.activity import NO_TEAM, listed, team_names
from accounts.addresses import network_of, shown_network
from accounts.audit import Kind, Pause, record, request_origin
from accounts.flows import mailbox, sign_in, two_step
from accounts.models import Authenticator, Member, SecurityEvent

MAX_REASON = 500


def team(agent) -> str:
    """What the member reads of who acted: the agent's groups ("Support"), never a name."""
    return ", ".join(sorted(agent.groups.values_list("name", flat=True))) or NO_TEAM


def staff_accounts():
    """Staff and superuser accounts. Only a superuser looks them up or acts on them in admin:
    a Supervisor who could correct a superuser's email address could take the account over,
    and an agent who could lift a Supervisor's sign-in pause would hand whoever is guessing
    at it fresh tries (the four-role trial)."""
    return Member.objects.filter(Q(is_staff=True) | Q(is_superuser=True))


def hides_staff(user) -> bool:
    return not user.is_superuser


# How long one agent's visits to a member's page count as one view in the security log.
VIEWS_GROUPED = datetime.timedelta(minutes=30)


def viewed_lately(request, member) -> bool:
    """Whether the signed-in agent's view of `member`'s page was logged within VIEWS_GROUPED
    from the same address, with nothing logged of the member since. A view from another
    address is logged anew: the same staff account somewhere else is worth its own line. So
    is a view after something new happened to the member (a sign-in, a failure with the ID,
    another agent's action): the page showed it, and the log says the agent saw the member
    as they were after it (helper-158)."""
    since = timezone.now() - VIEWS_GROUPED
    address, _user_agent = request_origin(request)
    last_view = (
        member.security_events.filter(
            kind=Kind.MEMBER_VIEWED, actor=request.user, ip_address=address, created__gte=since
        )
        .order_by("-created")
        .values_list("created", flat=True)
        .first()
    )
    if last_view is None:
        return False
    newer = SecurityEvent.objects.filter(_about(member), created__gt=last_view)
    # The agent's own actions (a lift, a link sent: admin reloads the page after each),
    # other staff's views, and wrong captchas with the ID (anyone can post those without
    # reading the picture: each reload would log a view again) are not news.
    not_news = (Kind.MEMBER_VIEWED, Kind.SIGN_IN_CAPTCHA_FAILED)
    return not newer.exclude(kind__in=not_news).exclude(actor=request.user).exists()


# --- Reading --------------------------------------------------------------------------------


# The pauses that keep the member from signing in: the password's, the two-step code's, and
# the first sign-in's mailbox code's (the published password opens nothing but that step). A
# PIN lock (or a staff account's confirming password's) pauses only the changes it confirms.
STOP_SIGNING_IN = frozenset({Pause.SIGN_IN, Pause.TWO_STEP, Pause.MAILBOX, Pause.SIGN_INS})


@dataclass(frozen=True)
class NetworkPause:
    """An address the member was last seen at, paused itself: too many failures from it,
    whatever the IDs (a carrier's or an office's shared address, or an attack through it).
    No lift of the member's ends it; the member signs in over another connection
    meanwhile."""

    address: str  # as staff read it: an IPv6 client's network (addresses.shown_network)
    until: datetime.datetime
    # Where the member last signed in from; else where the last failed sign-in with their
    # ID came from, which may be someone else's network.
    signed_in_from: bool
    member_signed_in: bool  # whether the member has signed in at all

    @property
    def likely_theirs(self) -> bool:
        """Where they last signed in, or, for a member who never has, where their ID's last
        failure came from."""
        return self.signed_in_from or not self.member_signed_in


@dataclass(frozen=True)
class LockState:
    """Why a member cannot sign in right now, if they cannot."""

    failures: int  # wrong sign-ins against the ID within the lockout's window
    limit: int
    until: datetime.datetime | None  # the sign-in pause's end, when paused
    last_address: str | None
    pin_locked_until: datetime.datetime | None
    two_step_paused_until: datetime.datetime | None
    # A member on the published password proves the mailbox at each sign-in: the code step,
    # paused after the hour's wrong codes; and the codes mailed, which stop for the rest of
    # the hour at its limit (not a pause support lifts: it keeps the mailbox from filling).
    mailbox_paused_until: datetime.datetime | None = None
    codes_mailed_again_at: datetime.datetime | None = None
    # The networks the member was last seen on that are paused (NetworkPause).
    networks_paused: tuple[NetworkPause, ...] = ()
    # Signing in with the password once the hour's sign-ins were all made (sign_in.SignInWay):
    # a lift starts the counts anew.
    sign_ins_paused_until: datetime.datetime | None = None

    @property
    def network_stops_signing_in(self) -> bool:
        """Whether a paused network is likely the member's own (NetworkPause.likely_theirs)."""
        return any(network.likely_theirs for network in self.networks_paused)

    @property
    def locked(self) -> bool:
        return bool(self.paused())

    @property
    def sign_in_paused(self) -> bool:
        return not STOP_SIGNING_IN.isdisjoint(self.paused())

    def paused(self) -> list[Pause]:
        return list(self.ends())

    def ends(self) -> dict[Pause, datetime.datetime]:
        """Each pause with when it ends by itself."""
        ends = (
            self.until,
            self.pin_locked_until,
            self.two_step_paused_until,
            self.mailbox_paused_until,
            self.sign_ins_paused_until,
        )
        return {pause: end for pause, end in zip(Pause, ends, strict=True) if end}


def lock_state(member, *, networks: bool = True) -> LockState:
    """The member's pauses; `networks=False` leaves out the paused networks (NetworkPause),
    which take two queries more and which no lift ends (pauses_to_lift)."""
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    attempts = list(
        AccessAttempt.objects.filter(username=member.member_id, attempt_time__gte=since)
        .order_by("-attempt_time")
        .values_list("failures_since_start", "attempt_time", "ip_address")
    )
    failures = sum(count for count, _when, _address in attempts)
    until = lockout.pause_end(
        [(count, when) for count, when, _address in attempts], settings.AXES_FAILURE_LIMIT
    )
    last_address = shown_network(attempts[0][2]) if attempts else None
    now = timezone.now()
    pin_until = member.pin_locked_until if (member.pin_locked_until or now) > now else None
    return LockState(
        failures=failures,
        limit=settings.AXES_FAILURE_LIMIT,
        until=until,
        last_address=last_address,
        pin_locked_until=pin_until,
        # Wrong codes pause only a sign-in that asks for one: once two-step is off (a
        # Supervisor's reset, say), they pause nothing.
        two_step_paused_until=two_step.paused_until(member) if two_step.is_on(member) else None,
        # Likewise wrong mailbox codes, once the member's password is their own.
        mailbox_paused_until=mailbox.wrong_codes_pause(member)
        if member.on_default_password
        else None,
        codes_mailed_again_at=mailbox.codes_mailed_again_at(member)
        if member.on_default_password
        else None,
        networks_paused=networks_paused(member) if networks else (),
        sign_ins_paused_until=sign_in.paused_until(member),
    )


def networks_paused(member) -> tuple[NetworkPause, ...]:
    """The address of the member's last sign-in, and of the last failed sign-in with their
    ID, if paused, the last sign-in's first. Read from the security log, which a lift does
    not change (the lockout's records become the addresses' own: accounts.lockout.lift)."""
    events = SecurityEvent.objects.order_by("-created").values_list("ip_address", flat=True)
    signed_in = events.filter(member=member, kind__in=SecurityEvent.SIGN_INS).first()
    # Within the lockout's window only: an older failure says nothing of a pause now, and
    # an address that sprayed IDs long ago is no member's network (helper-89).
    failed = events.filter(
        # A wrong captcha counts against the address too (lockout.captcha_failed).
        kind__in=(Kind.SIGN_IN_FAILED, Kind.SIGN_IN_CAPTCHA_FAILED),
        member_id_typed=credentials.printable(member.member_id),
        created__gte=lockout.counted_since(),
    ).first()
    # The log keeps each address whole; the lockout counts an IPv6 client's network.
    signed_in, failed = network_of(signed_in), network_of(failed)
    paused = lockout.addresses_paused([signed_in, failed])
    # Whether the member ever signed in, from the account (the log is kept 400 days).
    ever = member.last_login is not None
    return tuple(
        NetworkPause(shown_network(address), paused[address], address == signed_in, ever)
        for address in dict.fromkeys((signed_in, failed))
        if address in paused
    )


def network_left_paused(member, lifted: list[Pause]) -> NetworkPause | None:
    """The member's network that stays paused after a lift that let them sign in again
    (lifted_in_words): likely theirs (LockState.network_stops_signing_in)."""
    if STOP_SIGNING_IN.isdisjoint(lifted):
        return None
    return next((n for n in networks_paused(member) if n.likely_theirs), None)


@dataclass(frozen=True)
class TwoStepState:
    on: bool
    since: datetime.datetime | None
    recovery_codes_left: int
    passkeys: int


def two_step_state(member) -> TwoStepState:
    authenticator = Authenticator.objects.filter(member=member).first()
    return TwoStepState(
        on=authenticator is not None,
        since=authenticator.created if authenticator else None,
        recovery_codes_left=two_step.recovery_codes_left(member) if authenticator else 0,
        passkeys=member.passkeys.count(),
    )


@dataclass(frozen=True)
class CodeMailed:
    """The first sign-in's last mailed code, as the member page tells it."""

    at: datetime.datetime
    # Void after too many wrong tries: the member reads 「確認コードの誤りが多すぎます」 and
    # must ask for a new one, which can be sent from `new_code_at` (None: now).
    used_up: bool = False
    new_code_at: datetime.datetime | None = None


def last_code_mailed(member) -> CodeMailed | None:
    """When the last first-sign-in code went to the registered address, and whether it still
    works, while the member is at that step ("I never got the code"); None before any was
    sent, and after the step."""
    if credentials.migration_step(member) is not credentials.Step.MAILBOX:
        return None
    sent = member.security_events.filter(kind=Kind.MAILBOX_CODE_SENT).order_by("-created")
    at = sent.values_list("created", flat=True).first()
    if at is None:
        return None
    newest = mailbox.newest_code(member)
    if newest is None or not newest.used_up:
        return CodeMailed(at)
    return CodeMailed(at, used_up=True, new_code_at=newest.new_code_at)


def timeline(member, limit: int = 30):
    """The member's security log as staff read it: newest first, with the agent's name, and
    what was typed with the member's ID by anyone (failed sign-ins, the pause they made):
    those are logged against no member, as the ID typed."""
    events = list(
        SecurityEvent.objects.filter(_about(member))
        .select_related("actor")
        .order_by("-created")[:limit]
    )
    for event in events:
        # Signed in, the member asked for it themselves (the one-tap "Forgot PIN?"):
        # helper-168 read 「このIDとメールアドレスを入力した人」 where nothing was typed.
        by_the_member = event.actor_id is not None and event.actor_id == event.member_id
        event.done_by = "" if by_the_member else _NOT_PROVEN_THE_MEMBER.get(event.kind, "")
    return events


def _about(member) -> Q:
    """The member's log entries, and what was typed with their ID by anyone: logged against
    no member, as the ID typed."""
    return Q(member=member) | Q(member=None, member_id_typed=member.member_id)


# Logged against the member, but done by whoever knew what is not the member's secret: the
# member ID and the published default password (the sign-in, and the mailbox codes it asks
# for), or the member ID and the registered address (a reset link asked for). "The member"
# told an agent on the phone that the caller had done it themselves.
_NOT_PROVEN_THE_MEMBER = {
    Kind.SIGN_IN_DEFAULT: gettext_lazy("whoever signed in with the default password"),
    Kind.MAILBOX_CODE_SENT: gettext_lazy("whoever signed in with the default password"),
    Kind.MAILBOX_CODE_FAILED: gettext_lazy("whoever signed in with the default password"),
    Kind.PASSWORD_RESET_REQUESTED: gettext_lazy("whoever typed the ID and email"),
    Kind.PIN_RESET_REQUESTED: gettext_lazy("whoever typed the ID and email"),
}


# What a log entry's details say, for staff. Left out: the sign-in's session key (encrypted;
# what Account > Security ends it by), the entry a session's end refers to, and the mark of
# a repeated view (entries from before only a half hour's first view was logged).
_INTERNAL_DETAILS = {"session", "ended", "repeat"}
_DETAIL_LABELS = {
    "team": gettext_lazy("Team"),
    "reason": gettext_lazy("Reason"),
    "fields": gettext_lazy("Fields changed"),
    "address": gettext_lazy("Address"),
    "to": gettext_lazy("Sent to"),
    "name": gettext_lazy("Passkey name"),
    "count": gettext_lazy("Sessions ended"),
    "lifted": gettext_lazy("Pauses and locks lifted"),
    "group": gettext_lazy("Group"),
    "renamed_from": gettext_lazy("Renamed from"),
    "permissions_added": gettext_lazy("Permissions added"),
    "permissions_removed": gettext_lazy("Permissions removed"),
    "deleted": gettext_lazy("Deleted"),
}
# What clear_lockout lifted (LockState.paused), in words.
_PAUSES = {
    Pause.SIGN_IN: gettext_lazy("the sign-in pause"),
    Pause.PIN: gettext_lazy("the lock on changes that need the PIN or password"),
    Pause.TWO_STEP: gettext_lazy("the pause on two-step codes"),
    Pause.MAILBOX: gettext_lazy("the pause on mailbox codes at first sign-in"),
    Pause.SIGN_INS: gettext_lazy("the pause after the hour's most sign-ins"),
}
# The PIN's lock in what admin tells the agent about one account: its own PIN, or for a
# staff account (which has none) its password.
_PIN_LOCK = {
    True: gettext_lazy("the lock on changes that need the PIN"),
    False: gettext_lazy("the lock on changes that need the password"),
}


def details_in_words(event) -> list[str]:
    """An entry's details as lines an agent reads ("Team: Support"), in the agent's language."""
    details = event.details or {}
    lines = []
    if "new" in details:  # an email change: both addresses, masked when logged
        lines.append(
            _("%(label)s: %(value)s")
            % {
                "label": _("Email address"),
                "value": f"{details.get('old') or '—'} → {details['new']}",
            }
        )
    for key, value in details.items():
        if key in _INTERNAL_DETAILS or key in ("old", "new"):
            continue
        if key == "team":
            value = team_names(value) or "—"
        elif key == "fields":
            value = listed(_field_name(name) for name in value)
        elif key == "lifted":
            value = listed(_PAUSES.get(name, name) for name in value)
        elif key == "deleted":
            value = _("yes")
        elif isinstance(value, list):
            value = listed(value)
        lines.append(
            _("%(label)s: %(value)s") % {"label": _DETAIL_LABELS.get(key, key), "value": value}
        )
    return lines


def _field_name(name: str) -> str:
    try:
        return str(Member._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:  # a field since renamed or removed: its name as logged
        return name


def staff_group_changed(request, group, *, before: tuple[str, set[str]] | None) -> None:
    """Log a superuser's change to a staff group in admin (helper-113: what a team may do
    was changed with nothing in the security log): `before` is the group's name and
    permissions before the change (None: a new group); nothing is logged if neither changed.
    Permissions are named as has_perm reads them ("accounts.change_member")."""
    now = permission_names(group)
    old_name, old = before or ("", set())
    details = {"team": team(request.user), "group": group.name}
    if before is not None and old_name != group.name:
        details["renamed_from"] = old_name
    if now - old:
        details["permissions_added"] = sorted(now - old)
    if old - now:
        details["permissions_removed"] = sorted(old - now)
    changed = {"renamed_from", "permissions_added", "permissions_removed"} & details.keys()
    if before is None or changed:
        record(request, Kind.STAFF_GROUP_CHANGED, actor=request.user, details=details)


def staff_group_deleted(request, group) -> None:
    details = {"team": team(request.user), "group": group.name, "deleted": True}
    details["permissions_removed"] = sorted(permission_names(group))
    record(request, Kind.STAFF_GROUP_CHANGED, actor=request.user, details=details)


def permission_names(group) -> set[str]:
    return {
        f"{app_label}.{codename}"
        for app_label, codename in group.permissions.values_list(
            "content_type__app_label", "codename"
        )
    }


# --- Acting ---------------------------------------------------------------------------------


def pauses_in_words(member, pauses: list[Pause]) -> str:
    """The member's pauses as a list in the agent's language: "the sign-in pause, the lock
    on changes that need the PIN" (a staff account's lock is on its password's)."""
    return listed(
        _PIN_LOCK[member.has_pin] if pause == Pause.PIN else _PAUSES[pause] for pause in pauses
    )


def pauses_and_ends_in_words(member, state: LockState) -> str:
    """The member's pauses, each with the minute it would end by itself: what the lift's
    page asks about ("the sign-in pause (ends by itself at 09:59)")."""
    return listed(
        _("%(pause)s (ends by itself at %(time)s)")
        % {"pause": pauses_in_words(member, [pause]), "time": _when(end)}
        for pause, end in state.ends().items()
    )


def pauses_to_lift(attempts) -> list[tuple[Member, list[Pause]]]:
    """The members whose pauses lifting these lockouts-list rows would lift (lift_pauses),
    each with all of them: a member's row lifts every pause on the member."""
    usernames = {attempt.username for attempt in attempts if attempt.username}
    members = Member.objects.filter(member_id__in=usernames).order_by("member_id")
    states = ((m, lock_state(m, networks=False)) for m in members)
    return [(m, state.paused()) for m, state in states if state.locked]


def _when(moment) -> str:
    """A pause's end as admin says it: the minute it is over, on the 24-hour clock."""
    return formats.date_format(times.minute_up(moment), "DATETIME_FORMAT")


def lifted_in_words(member, lifted: list[Pause], network: NetworkPause | None) -> str:
    """What admin tells the agent who lifted `lifted` (clear_lockout) on the member: which,
    and what the member can do now, which is not always signing in (a PIN lock alone). A
    staff account (no PIN) reads as "the account", with its password. `network`: the
    member's network left paused (network_left_paused), which the agent is told of too."""
    words = {"member_id": member.member_id, "lifted": pauses_in_words(member, lifted)}
    signs_in = not STOP_SIGNING_IN.isdisjoint(lifted)
    # On the published password, signing in goes on to a mailed code: once the hour's codes
    # were all mailed (whoever knows the ID can spend them), none reaches the member yet.
    codes_from = (
        mailbox.codes_mailed_again_at(member) if signs_in and member.on_default_password else None
    )
    if codes_from is not None:
        words["time"] = _when(codes_from)
        if network is not None:  # and not from their network either (helper-89)
            words["address"] = network.address
            words["network_time"] = _when(network.until)
            return (
                _(
                    "Pauses and locks lifted on %(member_id)s: %(lifted)s. The member can type "
                    "their password again, but no code can be mailed to them to finish signing "
                    "in before %(time)s (the hour's codes were all sent), and not from "
                    "%(address)s before %(network_time)s (too many failed sign-ins from that "
                    "network, with any IDs): email them a password reset link, and have them "
                    "sign in over another connection, such as mobile data instead of Wi-Fi."
                )
                % words
            )
        return (
            _(
                "Pauses and locks lifted on %(member_id)s: %(lifted)s. The member can type "
                "their password again, but no code can be mailed to them to finish signing "
                "in before %(time)s (the hour's codes were all sent): email them a password "
                "reset link to let them in now."
            )
            % words
        )
    if network is not None:
        # Not "can sign in now" alone: no lift of the member's ends a network's pause.
        words["address"] = network.address
        words["time"] = _when(network.until)
        if member.has_pin:
            told = _(
                "Pauses and locks lifted on %(member_id)s: %(lifted)s. The member can sign in "
                "now, but not from %(address)s before %(time)s (too many failed sign-ins from "
                "that network, with any IDs): over another connection, such as mobile data "
                "instead of Wi-Fi."
            )
        else:
            told = _(
                "Pauses and locks lifted on %(member_id)s: %(lifted)s. The account can sign in "
                "now, but not from %(address)s before %(time)s (too many failed sign-ins from "
                "that network, with any IDs): over another connection, such as mobile data "
                "instead of Wi-Fi."
            )
        return told % words
    if signs_in and member.has_pin:
        return (
            _("Pauses and locks lifted on %(member_id)s: %(lifted)s. The member can sign in now.")
            % words
        )
    if signs_in:
        return (
            _("Pauses and locks lifted on %(member_id)s: %(lifted)s. The account can sign in now.")
            % words
        )
    if member.has_pin:
        return (
            _(
                "Lock lifted on %(member_id)s: %(lifted)s. The member can make changes with "
                "their PIN again."
            )
            % words
        )
    return (
        _(
            "Lock lifted on %(member_id)s: %(lifted)s. The account can make changes with its "
            "password again."
        )
        % words
    )


@transaction.atomic
def clear_lockout(request, member, *, actor) -> list[Pause]:
    """Lift every pause on the member: wrong passwords against the ID, wrong PINs, wrong
    two-step codes, wrong mailbox codes at a first sign-in. Returns what was lifted: nothing
    when nothing was paused (nothing logged, nothing cleared: the member's activity would say
    a pause was lifted that never was)."""
    # The member's row first, as a code check takes it: a wrong code that reaches a pause
    # meanwhile is then either counted before this reads what to lift, or after the lift.
    Member.objects.hold(member.pk)
    state = lock_state(member, networks=False)
    if not state.locked:
        return []
    lifted = state.paused()
    # The ID's failures stop counting; against the addresses they came from they still
    # count, as the addresses' own: lifting a member gives whoever guessed at them from an
    # address no guesses back.
    lockout.lift(member)
    Member.objects.filter(pk=member.pk).update(pin_locked_until=None)
    # The two-step and mailbox code pauses count wrong codes since this event
    # (audit.pause_ends).
    record(
        request,
        Kind.LOCKOUT_CLEARED,
        member,
        actor=actor,
        details={"team": team(actor), "lifted": lifted},
    )
    return lifted


@transaction.atomic
def lift_pauses(request, attempts, *, actor) -> tuple[int, list[tuple[Member, list[Pause]]]]:
    """Lift the pauses behind rows picked in admin's lockouts list (axes' AccessAttempt).
    A member's row lifts every pause on the member, as their page's button does, and their
    activity says support did it; a row for an ID nobody has, or for an address alone, is
    deleted and logged, as is a member's row when the member is not paused (the activity
    says nothing: no pause was lifted). Returns the rows cleared, and each member whose
    pauses were lifted with what was (the agent is told: more than the rows' own pause, when
    the member's PIN or codes were paused too)."""
    # In one order, whoever lifts: two agents lifting overlapping rows lock members alike.
    attempts = sorted(attempts, key=lambda attempt: (attempt.username or "", attempt.pk))
    # Each row cleared and logged once, whoever else lifts it meanwhile: the rows still there,
    # locked until this lift is done. Another agent's lift of the same rows waits, then finds
    # them gone (both agents were told they cleared them, and the log had each row twice:
    # helper-113).
    still_there = set(
        AccessAttempt.objects.select_for_update()
        .filter(pk__in=[attempt.pk for attempt in attempts])
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    attempts = [attempt for attempt in attempts if attempt.pk in still_there]
    members = {
        member.member_id: member
        for member in Member.objects.filter(member_id__in={a.username for a in attempts})
    }
    lifted = {}  # members whose pauses this call lifted
    cleared = set()  # the rows picked and gone
    for attempt in attempts:
        member = members.get(attempt.username)
        if member is not None and member.pk in lifted:
            pass  # lifted with the member's first row picked: this one goes, as that did
        elif member is not None and (pauses := clear_lockout(request, member, actor=actor)):
            lifted[member.pk] = (member, pauses)
        else:
            # An address alone, an ID nobody has, or a member whose ID is not paused: the
            # row goes, logged, but no member's activity says a pause was lifted.
            record(
                request,
                Kind.LOCKOUT_CLEARED,
                member_id_typed=attempt.username or "",
                actor=actor,
                details={"team": team(actor), "address": shown_network(attempt.ip_address)},
            )
        # The row picked goes, its address's share too: the agent asked for it. (The lift
        # left the member's rows to their addresses, this one among them.)
        AccessAttempt.objects.filter(pk=attempt.pk).delete()
        cleared.add(attempt.pk)
    return len(cleared), list(lifted.values())


@transaction.atomic
def reset_two_step(request, member, *, actor, reason: str, seen: str) -> two_step.Removed:
    """Two-step off and passkeys removed, after the agent checked the member's identity (how,
    in `reason`): what was removed, false when there was nothing to reset;
    two_step.ChangedSinceSeen when the member set up something other than what the agent's
    page showed (`seen`)."""
    return two_step.reset(
        member,
        actor=actor,
        request=request,
        details={"team": team(actor), "reason": reason},
        seen=seen,
    )


@transaction.atomic
def set_active(request, member, *, actor, active: bool, reason: str) -> bool:
    """Deactivate (nobody can sign in, every session ends at its next request) or reactivate.
    False when it already was so."""
    changed = Member.objects.filter(pk=member.pk, is_active=not active).update(is_active=active)
    if not changed:
        return False
    member.is_active = active
    kind = Kind.MEMBER_REACTIVATED if active else Kind.MEMBER_DEACTIVATED
    record(request, kind, member, actor=actor, details={"team": team(actor), "reason": reason})
    return True
