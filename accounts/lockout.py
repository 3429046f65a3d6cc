"""django-axes, fitted to member IDs: the lockout rules are axes'; these are the joints."""

import datetime
from functools import partial
from typing import NamedTuple

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib import auth
from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.dispatch import receiver
from django.shortcuts import render
from django.utils import timezone

from accounts import checking, credentials, links, sign_in_sql, times
from accounts.addresses import is_shared, shared_addresses, shown_network
from accounts.audit import Kind, record


def typed_member_id(request, credentials_: dict | None) -> str:
    """Count failures per canonical ID, so "jpn 1000001" and "JPN1000001" add up."""
    typed = (credentials_ or {}).get("username")
    if typed is None and request is not None:
        typed = request.POST.get("username", "")
    return credentials.printable(credentials.normalise_member_id(str(typed or "")))


class LockoutHandler(AxesDatabaseHandler):
    """axes' database handler, with its own limit for one address and its own record.

    Many members share an address (a carrier's, an office's), so an address may fail more
    often than one ID before it pauses. axes compares one number with AXES_FAILURE_LIMIT;
    the address's failures are scaled onto that limit, so it trips at exactly the address's
    own limit (address_limit: JENCO_LOCKOUT_ADDRESS_FAILURES, more for a shared address).

    What a failure writes is narrower than axes' (see add_failure), and a failure that
    arrives during a pause writes nothing at all, whichever way it came: the pause ends when
    the page said it would, however long a bot keeps posting.
    """

    def get_failures(self, request, credentials=None) -> int:
        by_id, by_address = counted(request, credentials)
        return max(
            by_id,
            by_address * settings.AXES_FAILURE_LIMIT // address_limit(request.axes_ip_address),
        )

    def user_login_failed(self, sender, credentials, request=None, **kwargs):
        # Expired records are left to `manage.py housekeeping`: they no longer count (only
        # failures within the cool-off do: sign_in_sql.recent_attempts) and add_failure
        # never revives one.
        if request is None:  # axes cannot count without an address; neither can we
            return
        if request.axes_locked_out or not self.is_allowed(request, credentials):
            self.refuse(request, credentials, newly=False)
        elif not self.is_whitelisted(request, credentials):
            # Its check is over: from here on only the failures written count, read again
            # once this one is (posts checked alongside it may have written theirs), so a
            # post whose failure finds the limit reached is told, and logged as the pause's
            # start (two posts finishing together may both be).
            request.jenco_ahead = request.jenco_failures = None
            add_failure(request, get_client_username(request, credentials))
            if not self.is_allowed(request, credentials):
                self.refuse(request, credentials, newly=True)

    def user_logged_in(self, sender, request, user, **kwargs):
        """Nothing to write: no access log (AXES_DISABLE_ACCESS_LOG), no reset of the address
        (AXES_RESET_ON_SUCCESS is off; forget_failures clears the ID's own), and no sweep of
        expired records (housekeeping's). axes' own would run two empty transactions."""

    def user_logged_out(self, sender, request, user, **kwargs):
        """Nothing to write either: axes' own would sweep expired records and update the
        access log we do not keep."""

    def refuse(self, request, credentials, *, newly: bool) -> None:
        """Answer this post with the locked page: axes' middleware renders it (locked_out).

        Only the post that starts a pause is logged (a LOCKED_OUT event, and its own failure):
        the posts a bot keeps sending during the pause were never checked and write nothing,
        so they cannot flood the security log either.
        """
        request.axes_locked_out = True
        request.axes_credentials = credentials
        request.jenco_paused_before = not newly
        if not newly:
            return
        user_locked_out.send(
            "axes",
            request=request,
            username=get_client_username(request, credentials),
            ip_address=request.axes_ip_address,
        )


def add_failure(request, member_id: str | None) -> None:
    """One more failure against this member ID from this address (None: the address alone).

    One row per ID and address within the cool-off: a count and the time of the last failure.
    axes also kept each post's GET and POST data, CSRF token included, appended to the row
    (about 1 KB a post, without limit), and keyed rows by user agent, which a client changes
    at will. A row older than the cool-off starts again from this failure (or a new one
    starts, from another browser), so failures that no longer count never come back with the
    next one.
    """
    # One transaction for the two statements, and none of its own inside the post's. Plain
    # SQL (accounts.sign_in_sql): a wrong password costs what a right one does (issue 13).
    since = get_cool_off_threshold(request)
    with transaction.atomic(savepoint=False):
        if not sign_in_sql.one_more_failure(
            since, request.axes_attempt_time, request.axes_ip_address, member_id
        ):
            sign_in_sql.first_failure(
                since,
                AccessAttempt(
                    username=member_id,
                    ip_address=request.axes_ip_address,
                    user_agent=request.axes_user_agent,
                    http_accept=request.axes_http_accept,
                    path_info=request.axes_path_info,
                    get_data="",
                    post_data="",
                    failures_since_start=1,
                ),
            )
    read = getattr(request, "jenco_failures", None)
    if read is not None:  # what this request already read, plus this failure
        read_for, by_id, by_address = read
        same_id = member_id is not None and member_id == read_for
        request.jenco_failures = (read_for, by_id + same_id, by_address + 1)


def count_against_address(request) -> bool:
    """One failure against the client's address alone, none against any member ID; whether
    the address is paused now.

    For what proves nothing about an ID but does about the address: a wrong or missing
    captcha (it never reached the password), or a sign-in on the published default password
    (an address that gets into account after account on it is spraying it). A good sign-in
    clears its own ID's failures only (forget_failures), so these stay. While the address is
    paused nothing is added: its pause ends when the page said. The count is read again
    after this one is written, since posts sent alongside may have written theirs: the one
    that finds the limit reached starts the pause (helper-91: in a burst, each had read the
    count from before the others').
    """
    AxesProxyHandler.update_request(request)
    if request.axes_ip_address is None:
        return False
    limit = address_limit(request.axes_ip_address)
    if failures(request)[1] >= limit:
        return True
    add_failure(request, None)
    request.jenco_failures = None
    return failures(request)[1] >= limit


def captcha_failed(request, member_id_typed: str) -> None:
    """A wrong or missing captcha: counted against the address, never the ID typed.

    The post never reached authenticate(), so axes' backend did not look for a pause: a post
    that finds the ID or the address paused, or pauses the address, gets the locked page, and
    one that finds a pause adds nothing.
    """
    if refuse_if_paused(request, member_id_typed):
        return
    count_against_address(request)  # the counts read again after it, as is_allowed uses
    credentials_ = {"username": member_id_typed}
    handler = AxesProxyHandler.get_implementation()
    if not handler.is_allowed(request, credentials_):
        handler.refuse(request, credentials_, newly=True)


def refuse_if_paused(request, member_id_typed: str) -> bool:
    """Whether the ID typed or the address is paused, for a post that never reached
    authenticate(); if so it gets the locked page and adds nothing."""
    credentials_ = {"username": member_id_typed}
    handler = AxesProxyHandler.get_implementation()
    AxesProxyHandler.update_request(request)
    if handler.is_allowed(request, credentials_):
        return False
    handler.refuse(request, credentials_, newly=False)
    return True


class Ahead(NamedTuple):
    """The posts checking their password when this one came (accounts.checking), for the
    ID it typed and for its address."""

    member_id: str | None
    with_id: int
    from_address: int


def authenticate(request, **credentials_):
    """Django's authenticate(), with this post counted among those checking the ID typed and
    the address while it runs (accounts.checking): the posts ahead of it count toward the
    pause as failures would, so posts sent together get no more checks than one at a time."""
    AxesProxyHandler.update_request(request)
    member_id = get_client_username(request, credentials_) or None
    with checking.checking(member_id, request.axes_ip_address) as (id_ahead, address_ahead):
        request.jenco_ahead = Ahead(member_id, id_ahead, address_ahead)
        return auth.authenticate(request, **credentials_)


def counted(request, credentials_=None) -> tuple[int, int]:
    """What decides a pause: failures(), plus, before this post's password is checked, the
    posts ahead of it still checking theirs (authenticate)."""
    by_id, by_address = failures(request, credentials_)
    ahead: Ahead | None = getattr(request, "jenco_ahead", None)
    if ahead is None:
        return by_id, by_address
    typed = get_client_username(request, credentials_)
    same_id = ahead.member_id is not None and ahead.member_id == typed
    return by_id + (ahead.with_id if same_id else 0), by_address + ahead.from_address


def failures(request, credentials_=None) -> tuple[int, int]:
    """Recent failures for the member ID typed (from anywhere) and from this address.

    Read once per request, in one query, then kept on the request (add_failure adds what the
    request itself writes): the backend's check before the password, the failure handler's
    after it and the locked page all need the same two numbers.
    """
    member_id = get_client_username(request, credentials_)
    read = getattr(request, "jenco_failures", None)
    if read is not None and read[0] == member_id:
        return read[1], read[2]
    address = request.axes_ip_address
    if not hasattr(request, "jenco_pauses_read"):  # before this post's own check: log_pause
        names = [_pause_name(member_id, None)] if member_id else []
        names.append(_pause_name(None, address))
        request.jenco_pauses_read = dict(zip(names, checking.pauses_logged(*names), strict=True))
    # The rows, summed here: a handful at most (one per ID and address in the cool-off, and
    # an address pauses at a few dozen), read with plain SQL on every sign-in post.
    by_id = by_address = 0
    rows = sign_in_sql.recent_attempts(get_cool_off_threshold(request), address, member_id or None)
    for username, ip_address, count in rows:
        by_id += count if member_id and username == member_id else 0
        by_address += count if ip_address == address else 0
    request.jenco_failures = (member_id, by_id, by_address)
    return by_id, by_address


def failures_left(request, member_id: str) -> int | None:
    """How many more failures pause the ID typed or the address, after this post's failure
    was written; None when nothing was read (no query is made for it: failures() kept the
    counts on the request as the failure handler read them again)."""
    read = getattr(request, "jenco_failures", None)
    if read is None or read[0] != get_client_username(request, {"username": member_id}):
        return None
    _member_id, by_id, by_address = read
    return min(
        settings.AXES_FAILURE_LIMIT - by_id, address_limit(request.axes_ip_address) - by_address
    )


def locked_out(request, credentials_):
    """The same page whether or not the ID exists: wait, or reset the password.

    A reset lifts the pause on an ID, not on an address, so the page promises that only
    when the ID alone is paused.
    """
    for log in getattr(request, "jenco_log_pauses", ()):  # the pauses this post started
        log()
    request.jenco_log_pauses = []
    limits = settings.AXES_FAILURE_LIMIT, address_limit(request.axes_ip_address)
    if all(n < limit for n, limit in zip(failures(request, credentials_), limits, strict=True)):
        # Refused for posts ahead still checking, as read before its own check: they may
        # have failed since, and paused the ID or the address (helper-88). Read again, what
        # they wrote counted as failures, no longer as posts ahead.
        request.jenco_failures = request.jenco_ahead = None
    by_id, by_address = counted(request, credentials_)
    failed_id, failed_address = failures(request, credentials_)
    context = {
        "minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
        "id_locked": by_id >= settings.AXES_FAILURE_LIMIT and by_address < limits[1],
        # Refused for the posts ahead of it still checking theirs (authenticate), not for
        # failures: nothing is paused, and it may well go through in a moment.
        "checking_others": failed_id < settings.AXES_FAILURE_LIMIT and failed_address < limits[1],
        "forgot_url": links.forgot_password_path(get_client_username(request, credentials_)),
    }
    if not context["checking_others"]:
        # When it ends, as the PIN's lock says (helper-101 read 「15分ほど」 with 5 left).
        until = paused_until(get_client_username(request, credentials_), request.axes_ip_address)
        context["until"] = times.try_again_at(until) if until else ""
    response = render(request, "accounts/locked_out.html", context, status=429)
    if context["checking_others"]:
        response["Retry-After"] = "5"
    return response


def lift(member) -> None:
    """The member proved themselves (a good sign-in, a password reset by email, support's
    lift): their ID's failures no longer count. Against the addresses they came from they
    still do, as the addresses' own: an address that guessed at the ID must not get its
    guesses back because the member it guessed at signed in or reset the password (before,
    it did, and an address spraying many IDs got back those of each member who did).

    Each of the ID's records in the cool-off becomes its address's, as it is (marked
    sign_in_sql.LIFTED): its failures age out when they would have. Added to the address's
    own record, or added to by the address's next failure, they would take a later time and
    pause a shared network longer than it was told (helpers 88 and 89). The rest (older, or
    without an address) are deleted; a failure for the ID arriving meanwhile is neither."""
    records = AccessAttempt.objects.filter(username=member.member_id)
    since = counted_since()
    with transaction.atomic():
        records.filter(attempt_time__gte=since, ip_address__isnull=False).update(
            username=None,
            http_accept=sign_in_sql.LIFTED_STAFF if member.is_staff else sign_in_sql.LIFTED,
        )
        records.filter(Q(attempt_time__lt=since) | Q(ip_address__isnull=True)).delete()


@receiver(user_logged_in)
def forget_failures(sender, request, user, **kwargs):
    """A good sign-in clears that ID's failures, and only those: one account that works
    must not wipe an address's failures against every other ID it tried. With none in the
    cool-off (failures() read them before the password) there is nothing to clear.

    A view-only sign-in (the sub password) clears nothing: whoever is trusted with the sub
    password must not be able to wipe the failures against the main password."""
    if getattr(user, "signed_in_view_only", False):
        return
    # Posts for the ID checked alongside this one may have written failures since it read
    # none (helper-87: a member left paused right after signing in).
    ahead: Ahead | None = getattr(request, "jenco_ahead", None)
    if (
        not hasattr(request, "axes_ip_address")
        or (ahead is not None and ahead.with_id)
        or failures(request, {"username": user.member_id})[0]
    ):
        lift(user)


@receiver(user_locked_out)
def record_lockout(sender, request=None, username=None, ip_address=None, **kwargs):
    # Sent by a post that finds it started a pause (LockoutHandler.refuse): of the ID, of the
    # address, or of both at once (helper-92: the tenth failure with an ID that was also the
    # address's thirtieth logged the ID's alone). An address's pause is logged with the
    # address, not with the ID its last post happened to type: that member's log read as if
    # their ID was paused (support trial).
    by_id, by_address = (0, 0) if request is None else failures(request, {"username": username})
    pauses = []
    if username and (request is None or by_id >= settings.AXES_FAILURE_LIMIT):
        pauses.append((username, None))
    if not pauses or by_address >= address_limit(ip_address):
        pauses.append((None, ip_address))
    if request is None:
        for member_id, address in pauses:
            log_pause(None, member_id, address)
    else:  # after the post's own failure, which the view logs next: cause, then pause
        pending = getattr(request, "jenco_log_pauses", [])
        request.jenco_log_pauses = pending + [
            partial(log_pause, request, member_id, address) for member_id, address in pauses
        ]


def _pause_name(member_id: str | None, address: str | None) -> str:
    return f"id {member_id}" if member_id else f"address {address}"


def log_pause(request, member_id: str | None, address: str | None) -> None:
    """The security log's entry for a pause of this ID (else this address), once: posts that
    finish together may each find their failure was the one that reached the limit (two
    wrong passwords, 45 wrong captchas at once: helper-91). A post logs it only if no pause
    of that ID or address was logged since it read the failures, before its own check
    (checking.log_once): one that read them before the last entry was in flight when that
    pause began, and one that read them after found nothing paused, so the pause it starts
    is a new one, logged however soon (helper-92).
    """
    name = _pause_name(member_id, address)
    read = getattr(request, "jenco_pauses_read", {}).get(name)
    if read is None:  # no failures read before (no request): as things stand now
        (read,) = checking.pauses_logged(name)
    if not checking.log_once(name, read):
        return
    if member_id:
        record(request, Kind.LOCKED_OUT, member_id_typed=member_id)
    else:
        record(request, Kind.LOCKED_OUT, details={"address": shown_network(address)})


def pause_end(records, limit: int):
    """When a pause over these lockout records ((failures, time of the last) pairs, those in
    the cool-off) ends: once enough of the oldest have aged out that fewer than `limit` are
    left. None when fewer are there already. A record's failures age out together, with its
    last: an ID tried from two addresses, 9 from one and then 1 from another, is free again
    when the 9 age out, not the 1."""
    left = sum(failures for failures, _when in records)
    if left < limit:
        return None
    for failures, when in sorted(records, key=lambda record: record[1]):
        left -= failures
        if left < limit:
            return when + settings.AXES_COOLOFF_TIME
    return None  # not reached: with every record aged out, none are left


def paused_until(member_id: str | None, address: str | None) -> datetime.datetime | None:
    """When signing in with this ID from this address is no longer paused: the later end
    of the ID's pause and the address's, whichever are paused. The same reading for an ID
    that is no one's: its failures are counted all the same."""
    found = Q(ip_address=address) if address else Q(pk__in=[])
    if member_id:
        found |= Q(username=member_id)
    rows = AccessAttempt.objects.filter(found, attempt_time__gte=counted_since()).values_list(
        "username", "ip_address", "failures_since_start", "attempt_time"
    )
    with_id = [
        (failures, when) for name, _ip, failures, when in rows if member_id and name == member_id
    ]
    from_address = [
        (failures, when) for _name, ip, failures, when in rows if address and ip == address
    ]
    ends = [
        end
        for end in (
            pause_end(with_id, settings.AXES_FAILURE_LIMIT),
            pause_end(from_address, address_limit(address)),
        )
        if end is not None
    ]
    return max(ends, default=None)


def addresses_paused(addresses) -> dict[str, datetime.datetime]:
    """Which of these addresses are paused now (address_limit() over every record from the
    address, whichever IDs), each with when its pause ends."""
    found: dict[str, list] = {}
    for address, failures, when in AccessAttempt.objects.filter(
        ip_address__in={a for a in addresses if a},
        attempt_time__gte=counted_since(),
    ).values_list("ip_address", "failures_since_start", "attempt_time"):
        found.setdefault(address, []).append((failures, when))
    ends = {
        address: pause_end(records, address_limit(address)) for address, records in found.items()
    }
    return {address: end for address, end in ends.items() if end is not None}


def address_limit(address: str | None) -> int:
    """The failures from one address (any IDs) that pause it: JENCO_LOCKOUT_ADDRESS_FAILURES,
    or JENCO_SHARED_ADDRESS_TIMES as many for an address many members share on purpose
    (JENCO_SHARED_ADDRESSES: an office, a migration event's help desk)."""
    return shared_address_limit() if is_shared(address) else settings.JENCO_LOCKOUT_ADDRESS_FAILURES


def shared_address_limit() -> int:
    """The failures that pause an address listed in JENCO_SHARED_ADDRESSES."""
    return settings.JENCO_LOCKOUT_ADDRESS_FAILURES * settings.JENCO_SHARED_ADDRESS_TIMES


def counted_since():
    """Failures older than this no longer count toward a pause (AXES_COOLOFF_TIME)."""
    return timezone.now() - settings.AXES_COOLOFF_TIME


def paused_now() -> Q:
    """The lockout rows whose ID or address is paused now, as one condition: the IDs and
    addresses over their limits found once, grouped, rather than each row's totals
    (with_totals) worked out for every row (the lockouts list's "paused" filter took 13 s
    at 30,000 rows: helper-113)."""
    since = counted_since()
    recent = AccessAttempt.objects.filter(attempt_time__gte=since).order_by()

    def over(field: str, limit: int):
        # Without NULL: a NULL among an IN's values makes NOT IN true for no row.
        rows = recent.filter(**{f"{field}__isnull": False})
        totals = rows.values(field).annotate(total=Sum("failures_since_start"))
        return totals.filter(total__gte=limit).values(field)

    ids = over("username", settings.AXES_FAILURE_LIMIT).exclude(username="")
    limit, shared = settings.JENCO_LOCKOUT_ADDRESS_FAILURES, shared_addresses()
    paused = Q(username__in=ids) | Q(
        ip_address__in=over("ip_address", limit).exclude(ip_address__in=shared)
    )
    if shared:  # each of these at its own, higher limit
        wide = over("ip_address", shared_address_limit())
        paused |= Q(ip_address__in=wide.filter(ip_address__in=shared))
    return Q(attempt_time__gte=since) & paused


def with_totals(attempts):
    """Lockout rows, each with what decides its pauses (failures(), for the lockouts list in
    admin): the recent failures with its ID from any address (`id_failures`; `id_paused` at
    AXES_FAILURE_LIMIT) and from its address with any ID (`address_failures`;
    `address_paused` at the address's own limit, address_limit), and whether the row is
    recent enough to count (`counted`). One row alone tells neither: an ID's failures spread
    over the addresses it was tried from."""
    since = counted_since()
    recent = AccessAttempt.objects.filter(attempt_time__gte=since).order_by()

    def total(field: str):
        rows = recent.filter(**{field: OuterRef(field)}).values(field)
        return Coalesce(
            Subquery(rows.annotate(total=Sum("failures_since_start")).values("total")[:1]), 0
        )

    def flag(condition: Q):
        return ExpressionWrapper(condition, output_field=BooleanField())

    counted = Q(attempt_time__gte=since)
    with_an_id = Q(username__isnull=False) & ~Q(username="")
    limit = settings.JENCO_LOCKOUT_ADDRESS_FAILURES
    address_over = Q(address_failures__gte=limit)
    if shared := shared_addresses():  # each at its own, higher limit
        address_over = (~Q(ip_address__in=shared) & address_over) | (
            Q(ip_address__in=shared) & Q(address_failures__gte=shared_address_limit())
        )
    address_over &= counted
    return attempts.annotate(
        id_failures=total("username"), address_failures=total("ip_address")
    ).annotate(
        counted=flag(counted),
        id_paused=flag(counted & with_an_id & Q(id_failures__gte=settings.AXES_FAILURE_LIMIT)),
        address_paused=flag(address_over),
    )
