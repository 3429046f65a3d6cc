"""What every sign-in reads and writes, as plain SQL (issue 13).

Each of these is one small statement on an indexed column, run on every sign-in: the page's
captcha, then the post's member, lockout count, captcha check, failures since the last
sign-in, last sign-in and security log entry. Built by the ORM, each costs 5-20 times the
statement's own time in query compilation: about 1.5 ms of Python a sign-in in all, the
largest share of what a sign-in costs besides its hash.
Here the SQL is written once, with the tables' and columns' names read from the models, so
a renamed field still lands here, and run through Django's cursor (same connection, same
transaction, parameters adapted by the backend). tests/test_sign_in_sql.py checks each
against the ORM query it replaces, on SQLite and on PostgreSQL.

One more is here because the ORM cannot say it: a PIN's counted try takes its place in the
count and reads it back in one UPDATE ... RETURNING (take_a_try).

Nothing here decides anything: the rules stay where they were (accounts.backends,
accounts.lockout, accounts.forms, accounts.flows.sign_in).
"""

# The statements are put together from the models' own table and column names, never from
# anything a request brings: values always go as parameters.
# ruff: noqa: S608

import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from axes.models import AccessAttempt
from captcha.conf import settings as captcha_settings
from captcha.models import CaptchaStore
from django.db import connection
from django.utils import timezone

from accounts.models import Authenticator, Member, SecurityEvent


def _names(model, *fields: str) -> tuple[str, ...]:
    """The quoted table name, then each field's quoted column."""
    quote = connection.ops.quote_name
    return (quote(model._meta.db_table),) + tuple(
        quote(model._meta.get_field(name).column) for name in fields
    )


def _when(moment):
    """A datetime as the backend stores it (the ORM does this for its own queries)."""
    return connection.ops.adapt_datetimefield_value(moment)


def _rows(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@cache
def _insert_sql(model, *, returning_pk: bool = True) -> tuple[str, tuple]:
    fields = tuple(f for f in model._meta.concrete_fields if not f.primary_key)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    marks = ", ".join(["%s"] * len(fields))
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
    returning = f" RETURNING {pk}" if returning_pk else ""
    return f"INSERT INTO {table} ({columns}) VALUES ({marks}){returning}", fields


def insert(instance) -> None:
    """INSERT a new model instance, as instance.save() would (each field's value prepared by
    the field itself: defaults, JSON, addresses), without its signals: for models whose
    receivers do nothing (the security log has none). Sets its primary key."""
    sql, fields = _insert_sql(type(instance))
    values = [
        field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields
    ]
    instance.pk = _rows(sql, values)[0][0]
    instance._state.adding = False
    instance._state.db = connection.alias


@cache
def _first_failure_sql() -> tuple[str, tuple]:
    insert, fields = _insert_sql(AccessAttempt, returning_pk=False)
    table, username, address, agent, count, when = _names(
        AccessAttempt,
        "username",
        "ip_address",
        "user_agent",
        "failures_since_start",
        "attempt_time",
    )
    return (
        f"{insert} ON CONFLICT ({username}, {address}, {agent}) DO UPDATE SET"
        f" {count} = CASE WHEN {table}.{when} >= %s THEN {table}.{count} + 1 ELSE 1 END,"
        f" {when} = excluded.{when}"
    ), fields


def first_failure(since, attempt: AccessAttempt) -> None:
    """INSERT a lockout record (accounts.lockout.add_failure, when one_more_failure found
    none). axes allows one row per ID, address and user agent: if one is there already, a
    record older than `since` starts again from this failure (before housekeeping deleted
    it, the INSERT failed: a 500 on a member's next wrong password after the cool-off), and
    one just written by a post sent at the same time from the same browser gets this failure
    added. An address's own record (no ID: NULLs are never equal) and another browser's are
    new records beside it, which one_more_failure then adds to one at a time."""
    sql, fields = _first_failure_sql()
    values = [field.get_db_prep_save(field.pre_save(attempt, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, _when(since)])


@cache
def _last_login_sql() -> str:
    table, last_login, pk = _names(Member, "last_login", "id")
    return f"UPDATE {table} SET {last_login} = %s WHERE {pk} = %s"


def set_last_login(member_pk: int, moment) -> None:
    """The member's last sign-in, in one UPDATE (accounts.flows.sign_in.last_sign_in_now)."""
    with connection.cursor() as cursor:
        cursor.execute(_last_login_sql(), [_when(moment), member_pk])


@cache
def _member_sql() -> str:
    member, member_id, pk = _names(Member, "member_id", "id")
    authenticator, owner = _names(Authenticator, "member")
    return (
        f"SELECT m.*, EXISTS (SELECT 1 FROM {authenticator} a WHERE a.{owner} = m.{pk})"
        f" AS two_step_on FROM {member} m WHERE m.{member_id} = %s"
    )


def member(member_id: str) -> Member | None:
    """The member with this (normalised) ID, with `two_step_on` set: whether a second step
    follows a right password (accounts.flows.two_step.is_on reads it, no query more)."""
    found = list(Member.objects.raw(_member_sql(), [member_id]))
    if not found:
        return None
    found[0].two_step_on = bool(found[0].two_step_on)  # SQLite answers 0 or 1
    return found[0]


@cache
def _attempts_sql() -> str:
    table, when, address, username, count = _names(
        AccessAttempt, "attempt_time", "ip_address", "username", "failures_since_start"
    )
    return (
        f"SELECT {username}, {address}, {count} FROM {table}"
        f" WHERE {when} >= %s AND ({address} = %s OR {username} = %s)"
    )


def recent_attempts(since, address: str | None, member_id: str | None) -> list[tuple]:
    """(username, ip_address, failures_since_start) of every lockout record since `since`
    for this address or this member ID (None: the address alone)."""
    if address is None and member_id is None:
        return []
    # NULL matches nothing in SQL: an absent address or ID selects no row by itself.
    return _rows(_attempts_sql(), [_when(since), address, member_id])


# What a lockout record handed to its address by a lift (accounts.lockout.lift) carries in
# axes' HTTP Accept field, shown nowhere: the address's new failures start a record of their
# own rather than re-date its failures (one_more_failure), and a staff account's stay hidden
# from Support (accounts.admin.AccessAttemptAdmin).
LIFTED = "jenco:lifted"
LIFTED_STAFF = "jenco:lifted-staff"


@cache
def _one_more_failure_sql(with_id: bool, with_address: bool) -> str:
    table, count, when, username, address, pk, accept = _names(
        AccessAttempt,
        "failures_since_start",
        "attempt_time",
        "username",
        "ip_address",
        "id",
        "http_accept",
    )
    # NULL is matched with IS NULL, as the ORM's filter(username=None) does. An address's
    # own failures are never added to a record a lift handed it (accounts.lockout.lift):
    # that would re-date a member's failures to now.
    who = (
        f"{username} = %s"
        if with_id
        else f"{username} IS NULL AND {accept} NOT IN ('{LIFTED}', '{LIFTED_STAFF}')"
    )
    where = f"{address} = %s" if with_address else f"{address} IS NULL"
    # One record, the latest, even when there are two (first failures sent at once from two
    # browsers, or an address's alone, which no unique constraint keeps to one): a failure
    # added to each counted as two (helper-87: 9 failures read as 12).
    return (
        f"UPDATE {table} SET {count} = {count} + 1, {when} = %s WHERE {pk} = ("
        f"SELECT {pk} FROM {table} WHERE {when} >= %s AND {who} AND {where}"
        f" ORDER BY {when} DESC LIMIT 1)"
    )


def one_more_failure(since, now, address: str | None, member_id: str | None) -> bool:
    """Add a failure to the lockout record of this ID (None: none) and address since
    `since`, its time now; False if there is no such record (accounts.lockout.add_failure
    then starts one)."""
    params = [_when(now), _when(since)]
    params += [member_id] if member_id is not None else []
    params += [address] if address is not None else []
    sql = _one_more_failure_sql(member_id is not None, address is not None)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount > 0


# A password change or reset answers the failures before it: the dashboard tells those apart.
PASSWORD_SET = (SecurityEvent.Kind.PASSWORD_CHANGED, SecurityEvent.Kind.PASSWORD_RESET)
# The failed sign-ins logged against the member, not the ID typed: a wrong two-step code
# (after the right password) or a refused passkey. Counted with the password's failures, as
# Activity shows them (helper-156: a wrong code was in Activity, not on the dashboard).
FAILED_AT_THE_MEMBER = tuple(
    kind for kind in SecurityEvent.FAILED_SIGN_INS if kind != SecurityEvent.Kind.SIGN_IN_FAILED
)


@cache
def _sign_in_counts_sql(
    with_since: bool, kinds: int, renewals: int, every_kinds: int, every_renewals: int
) -> str:
    table, kind, typed, created, member = _names(
        SecurityEvent, "kind", "member_id_typed", "created", "member"
    )
    since = f" AND {created} > %s" if with_since else ""
    at_the_member = ", ".join(["%s"] * len(FAILED_AT_THE_MEMBER))
    password_set_after = (
        f"SELECT 1 FROM {table} later WHERE later.{member} = %s"
        f" AND later.{kind} IN (%s, %s) AND later.{created} > failed.{created}"
    )

    def sign_ins(alias: str, kinds: int, renewals: int) -> str:
        renewed_after = (
            f" AND NOT EXISTS (SELECT 1 FROM {table} renewed WHERE renewed.{member} = %s"
            f" AND renewed.{kind} IN ({', '.join(['%s'] * renewals)})"
            f" AND renewed.{created} > {alias}.{created})"
        )
        return (
            f"SELECT COUNT(*) FROM {table} {alias} WHERE {alias}.{member} = %s"
            f" AND {alias}.{created} > %s AND {alias}.{kind} IN ({', '.join(['%s'] * kinds)})"
            + (renewed_after if renewals else "")
        )

    unanswered = f"NOT EXISTS ({password_set_after})"
    return (
        f"SELECT COUNT(*), COUNT(CASE WHEN {unanswered} THEN 1 END),"
        f" COUNT(CASE WHEN failed.second_step = 1 AND {unanswered} THEN 1 END),"
        f" ({sign_ins('recent', kinds, renewals)}), ({sign_ins('every_way', every_kinds, every_renewals)})"
        # Two lookups, each on its index (an OR of the two read the whole log by date).
        f" FROM (SELECT {created}, 0 AS second_step FROM {table}"
        f" WHERE {kind} = %s AND {typed} = %s{since}"
        f" UNION ALL SELECT {created}, CASE WHEN {kind} = %s THEN 1 ELSE 0 END FROM {table}"
        f" WHERE {member} = %s AND {kind} IN ({at_the_member}){since}) failed"
    )


@dataclass(frozen=True)
class SignInCounts:
    failed: int  # sign-ins failed with the member's ID, or at its second step, since `since`
    unanswered: int  # of those, the ones no password change or reset came after
    # of those, wrong two-step codes: typed by someone who had the password
    unanswered_second_step: int
    recent: int  # the member's sign-ins of `kinds` since `after` that nothing renewed
    every_way: int  # the member's sign-ins of `every_kind` since `after`, likewise


def count_sign_ins(
    member_id_typed: str,
    member_pk: int,
    *,
    since=None,
    after,
    kinds: tuple[str, ...],
    renewed_by: tuple[str, ...],
    every_kind: tuple[str, ...],
    every_renewed_by: tuple[str, ...] = (),
) -> SignInCounts:
    """The failed sign-ins typed with this member ID, or at the member `member_pk`'s second
    step or passkey, after `since` (None: as far as the log goes back), how many of them no
    password change or reset of the member `member_pk` came after, and how many of those were
    wrong two-step codes (whoever typed one had the password); the member's sign-ins of
    `kinds` after `after` that no event of `renewed_by` came after (a new password, say), and
    of `every_kind` after `after` likewise: one statement, on the typed-ID index and the
    member's."""
    sql, params = sign_in_counts_statement(
        member_id_typed,
        member_pk,
        since=since,
        after=after,
        kinds=kinds,
        renewed_by=renewed_by,
        every_kind=every_kind,
        every_renewed_by=every_renewed_by,
    )
    return SignInCounts(*_rows(sql, params)[0])


def sign_in_counts_statement(
    member_id_typed, member_pk, *, since, after, kinds, renewed_by, every_kind, every_renewed_by
) -> tuple[str, list]:
    """count_sign_ins's statement and its parameters (tests read its plan)."""
    params = [member_pk, *PASSWORD_SET] * 2
    params += [member_pk, _when(after), *kinds] + ([member_pk, *renewed_by] if renewed_by else [])
    params += [member_pk, _when(after), *every_kind]
    params += [member_pk, *every_renewed_by] if every_renewed_by else []
    after_since = [_when(since)] if since is not None else []
    params += [SecurityEvent.Kind.SIGN_IN_FAILED, member_id_typed, *after_since]
    params += [SecurityEvent.Kind.TWO_STEP_FAILED, member_pk, *FAILED_AT_THE_MEMBER, *after_since]
    shape = (
        since is not None,
        len(kinds),
        len(renewed_by),
        len(every_kind),
        len(every_renewed_by),
    )
    return _sign_in_counts_sql(*shape), params


@cache
def _captcha_sql() -> tuple[str, str, str]:
    table, key, challenge, response, expiration = _names(
        CaptchaStore, "hashkey", "challenge", "response", "expiration"
    )
    new = (
        f"INSERT INTO {table} ({key}, {challenge}, {response}, {expiration})"
        " VALUES (%s, %s, %s, %s)"
    )
    right = f"SELECT 1 FROM {table} WHERE {key} = %s AND {response} = %s AND {expiration} > %s"
    return new, right, f"DELETE FROM {table} WHERE {key} = %s"


def new_captcha() -> str:
    """A new captcha in django-simple-captcha's store, as CaptchaStore.generate_key() makes
    one (its challenge function, its timeout, the answer in lower case), with a key from
    `secrets` where the library hashes `random` and the clock: the key it returns."""
    challenge, response = captcha_settings.get_challenge()()
    key = secrets.token_hex(20)  # 40 characters, as the library's SHA-1 keys
    expires = timezone.now() + timedelta(minutes=int(captcha_settings.CAPTCHA_TIMEOUT))
    with connection.cursor() as cursor:
        cursor.execute(_captcha_sql()[0], [key, challenge, response.lower(), _when(expires)])
    return key


def captcha_right(key: str, answer: str, now) -> bool:
    """Whether `answer` is the stored answer of the unexpired captcha `key`."""
    return bool(_rows(_captcha_sql()[1], [key, answer, _when(now)]))


def use_up_captcha(key: str) -> bool:
    """Delete the captcha `key`; False if it was no longer there (used, or swept)."""
    with connection.cursor() as cursor:
        cursor.execute(_captcha_sql()[2], [key])
        return cursor.rowcount > 0


@cache
def _take_a_try_sql() -> str:
    table, failures, until, pk = _names(Member, "pin_failures", "pin_locked_until", "id")
    return (
        f"UPDATE {table} SET {failures} = {failures} + 1 WHERE {pk} = %s AND {failures} < %s"
        f" AND ({until} IS NULL OR {until} <= %s) RETURNING {failures}"
    )


def take_a_try(member_pk: int, limit: int, now) -> int | None:
    """A try at the PIN (or a PIN-less account's confirming password): its place in the count
    of wrong tries in a row, 1 for the first, taken and read in one statement so tries sent
    at once each get their own; None when there is none to take (locked, or every try is
    being checked). accounts.flows.pin decides what the place means."""
    rows = _rows(_take_a_try_sql(), [member_pk, limit, _when(now)])
    return rows[0][0] if rows else None
