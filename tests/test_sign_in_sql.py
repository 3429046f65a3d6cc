"""The sign-in's plain SQL (accounts/sign_in_sql.py) answers what the ORM query it replaced
answered, on whichever database the suite runs (CI runs it on SQLite and on PostgreSQL)."""

import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from captcha.conf import settings as captcha_settings
from captcha.models import CaptchaStore
from django.db import connection
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from accounts import sign_in_sql
from accounts.audit import Kind
from accounts.flows.sign_in import BY_PASSWORD, EVERY_WAY, last_sign_in_now
from accounts.models import Authenticator, Member, SecurityEvent
from tests.helpers import sign_in

pytestmark = pytest.mark.django_db


def test_member_is_the_one_with_that_id_and_says_whether_two_step_follows(member):
    other = Member.objects.create_user("JPN1000002", password="x")
    Authenticator.objects.create(member=other, secret_encrypted="sealed")

    for member_id in (member.member_id, other.member_id):
        expected = (
            Member.objects.filter(member_id=member_id)
            .annotate(two_step_on=Exists(Authenticator.objects.filter(member=OuterRef("pk"))))
            .get()
        )
        found = sign_in_sql.member(member_id)
        assert found.pk == expected.pk
        assert found.password == expected.password
        assert found.last_login == expected.last_login
        assert found.on_default_password == expected.on_default_password
        assert found.two_step_on is expected.two_step_on
    assert sign_in_sql.member(member.member_id).two_step_on is False
    assert sign_in_sql.member(other.member_id).two_step_on is True


def test_an_unknown_id_finds_no_member(member):
    assert sign_in_sql.member("JPN7777777") is None
    assert sign_in_sql.member(member.member_id.lower()) is None  # callers normalise first


def lockout_record(username, address, count=1, when=None) -> int:
    """A lockout record as axes keeps one, last failed at `when`: its primary key."""
    attempt = AccessAttempt.objects.create(
        username=username,
        ip_address=address,
        failures_since_start=count,
        user_agent=str(AccessAttempt.objects.count()),  # one row per ID, address and agent
    )
    AccessAttempt.objects.filter(pk=attempt.pk).update(attempt_time=when)
    return attempt.pk


def test_recent_attempts_are_the_lockout_records_for_the_id_or_the_address():
    now = timezone.now()
    rows = [
        ("JPN1000001", "10.0.0.1", 2, now),  # the ID, the address
        ("JPN1000001", "10.0.0.9", 3, now),  # the ID, elsewhere
        ("JPN1000002", "10.0.0.1", 4, now),  # another ID, the address
        (None, "10.0.0.1", 5, now),  # the address alone (a wrong captcha)
        ("JPN1000003", "10.0.0.8", 6, now),  # neither
        ("JPN1000001", "10.0.0.1", 7, now - timedelta(hours=2)),  # too old
    ]
    for username, address, count, when in rows:
        lockout_record(username, address, count, when)
    since = now - timedelta(hours=1)

    def orm(address, member_id):
        wanted = (
            Q(ip_address=address) | Q(username=member_id) if member_id else Q(ip_address=address)
        )
        recent = AccessAttempt.objects.filter(wanted, attempt_time__gte=since)
        return sorted(recent.values_list("username", "ip_address", "failures_since_start"), key=str)

    for address, member_id in (
        ("10.0.0.1", "JPN1000001"),
        ("10.0.0.1", None),
        ("10.0.0.7", "JPN1000001"),
        ("10.0.0.7", None),
    ):
        found = sorted(sign_in_sql.recent_attempts(since, address, member_id), key=str)
        assert found == sorted(orm(address, member_id), key=str)
    assert sorted(c for _u, _a, c in sign_in_sql.recent_attempts(since, "10.0.0.1", None)) == [
        2,
        4,
        5,
    ]
    assert sign_in_sql.recent_attempts(since, None, None) == []


def counts_of(typed: str, member_pk: int, since=None) -> sign_in_sql.SignInCounts:
    return sign_in_sql.count_sign_ins(
        typed,
        member_pk,
        since=since,
        after=timezone.now(),
        kinds=BY_PASSWORD.kinds,
        renewed_by=BY_PASSWORD.renewed_by,
        every_kind=EVERY_WAY.kinds,
    )


def failed(typed: str, member_pk: int, since=None) -> tuple[int, int]:
    counts = counts_of(typed, member_pk, since)
    return counts.failed, counts.unanswered


def second_step_failures(member_pk: int, since=None) -> int:
    return counts_of("JPN1000001", member_pk, since).unanswered_second_step


def test_failed_sign_ins_are_counted_for_that_typed_id_after_the_moment(member):
    def event(kind, typed="JPN1000001", **fields):
        return SecurityEvent.objects.create(kind=kind, member_id_typed=typed, **fields)

    def count(typed="JPN1000001", since=None):
        return failed(typed, member.pk, since=since)

    first = event(Kind.SIGN_IN_FAILED)
    event(Kind.SIGN_IN_FAILED)
    event(Kind.SIGN_IN_FAILED, "JPN1000002")
    event(Kind.SIGN_OUT)
    assert count() == (2, 2)
    in_orm = SecurityEvent.objects.filter(
        kind=Kind.SIGN_IN_FAILED, member_id_typed="JPN1000001", created__gt=first.created
    ).count()
    assert count(since=first.created) == (in_orm, in_orm)
    later = timezone.now() + timedelta(seconds=1)
    assert count(since=later) == (0, 0)
    assert count("JPN7777777") == (0, 0)


def test_the_member_s_sign_ins_of_the_kinds_asked_are_counted_after_the_moment(
    member, english_member
):
    hour_ago = timezone.now() - timedelta(hours=1)
    for kind in SecurityEvent.SIGN_INS:
        SecurityEvent.objects.create(kind=kind, member=member)
    SecurityEvent.objects.create(kind=Kind.SIGN_IN, member=member, created=hour_ago)  # before
    SecurityEvent.objects.create(kind=Kind.SIGN_OUT, member=member)  # not a sign-in
    SecurityEvent.objects.create(kind=Kind.SIGN_IN, member=english_member)  # another's
    SecurityEvent.objects.create(kind=Kind.SIGN_IN_FAILED, member_id_typed="JPN1000001")

    def count():
        return sign_in_sql.count_sign_ins(
            "JPN1000001",
            member.pk,
            after=hour_ago,
            kinds=BY_PASSWORD.kinds,
            renewed_by=BY_PASSWORD.renewed_by,
            every_kind=EVERY_WAY.kinds,
        )

    counts = count()

    in_orm = SecurityEvent.objects.filter(
        member=member, kind__in=BY_PASSWORD.kinds, created__gt=hour_ago
    ).count()
    assert counts.recent == in_orm == 3  # password, code, recovery code
    assert counts.every_way == 5  # and a passkey's and a view-only one (not the default's)
    assert counts.failed == 1
    SecurityEvent.objects.create(kind=Kind.SIGN_IN, member=member)
    SecurityEvent.objects.create(kind=Kind.PASSWORD_RESET, member=member)
    SecurityEvent.objects.create(kind=Kind.SIGN_IN_TWO_STEP, member=member)
    counts = count()
    assert counts.recent == 1  # only the one since the new password
    assert counts.every_way == 7  # which renews no count of every way


def test_a_failed_second_step_or_passkey_of_the_member_counts_as_a_failed_sign_in(
    member, english_member
):
    first = SecurityEvent.objects.create(kind=Kind.TWO_STEP_FAILED, member=member)
    SecurityEvent.objects.create(kind=Kind.PASSKEY_FAILED, member=member)
    SecurityEvent.objects.create(kind=Kind.SIGN_IN_FAILED, member_id_typed="JPN1000001")
    SecurityEvent.objects.create(kind=Kind.TWO_STEP_FAILED, member=english_member)  # another's
    SecurityEvent.objects.create(kind=Kind.PIN_FAILED, member=member)  # signed in already

    assert failed("JPN1000001", member.pk) == (3, 3)
    assert failed("JPN1000001", member.pk, since=first.created) == (2, 2)
    assert second_step_failures(member.pk) == 1  # the wrong code: whoever typed it had the password
    assert second_step_failures(member.pk, since=first.created) == 0
    SecurityEvent.objects.create(kind=Kind.PASSWORD_CHANGED, member=member)
    assert failed("JPN1000001", member.pk) == (3, 0)  # a new password answers them all
    assert second_step_failures(member.pk) == 0


@pytest.mark.parametrize("kind", [Kind.PASSWORD_CHANGED, Kind.PASSWORD_RESET])
def test_failures_a_password_change_came_after_are_told_apart(member, english_member, kind):
    def at(seconds_ago, kind, **fields):
        when = timezone.now() - timedelta(seconds=seconds_ago)
        return SecurityEvent.objects.create(kind=kind, created=when, **fields)

    for seconds_ago in (50, 40):
        at(seconds_ago, Kind.SIGN_IN_FAILED, member_id_typed="JPN1000001")
    at(35, kind, member=english_member)  # another member's change answers nothing here
    at(30, Kind.SUB_PASSWORD_CHANGED, member=member)  # nor a change of something else
    assert failed("JPN1000001", member.pk) == (2, 2)
    at(20, kind, member=member)
    at(10, Kind.SIGN_IN_FAILED, member_id_typed="JPN1000001")

    assert failed("JPN1000001", member.pk) == (3, 1)


def test_counting_sign_ins_reads_indexes_not_the_whole_log():
    # Every sign-in counts the failures since the last one: on a log of a migration day's
    # size that must look the ID up, not read every row.
    SecurityEvent.objects.bulk_create(
        SecurityEvent(kind=kind, member_id_typed=f"JPN1{n % 500:06d}")
        for n in range(5000)
        for kind in (Kind.SIGN_IN_FAILED, Kind.SIGN_IN)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        explain = connection.ops.explain_prefix
        since = timezone.now() - timedelta(days=30)  # a member back after a month
        hour_ago = timezone.now() - timedelta(hours=1)
        sql, params = sign_in_sql.sign_in_counts_statement(
            "JPN1000007",
            1,
            since=since,
            after=hour_ago,
            kinds=BY_PASSWORD.kinds,
            renewed_by=BY_PASSWORD.renewed_by,
            every_kind=EVERY_WAY.kinds,
            every_renewed_by=EVERY_WAY.renewed_by,
        )
        cursor.execute(f"{explain} {sql}", params)
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert "security_event_typed_id" in plan, plan
    # The member's sign-ins of the hour, on an index of the member (theirs, or PostgreSQL's
    # own for the foreign key), not a scan of the log.
    for alias in ("recent", "every_way"):
        assert (
            f"SCAN {alias}" not in plan
            and f"Seq Scan on accounts_securityevent {alias}" not in plan
        )
    # Nor the failures at the member's second step (the UNION's second lookup, unaliased):
    # on the member's index, not the log read by date since the last sign-in.
    if connection.vendor == "sqlite":
        member_index = r"SEARCH accounts_securityevent USING (COVERING )?INDEX accounts_se_member"
        assert re.search(member_index, plan), plan
    else:
        assert not re.search(r"Seq Scan on accounts_securityevent(?! \w)", plan), plan
        assert not re.search(r"Index Scan using \w*created\w* on accounts_securityevent", plan)
    member_indexes = ("accounts_se_member__b4c697_idx", "accounts_securityevent_member_id")
    assert any(name in plan for name in member_indexes), plan


def test_a_new_captcha_is_one_the_library_reads_draws_and_expires():
    before = timezone.now()
    key = sign_in_sql.new_captcha()
    store = CaptchaStore.objects.get(hashkey=key)  # the library's model reads it back
    assert len(key) == 40 and key != sign_in_sql.new_captcha()
    assert store.challenge == store.response and len(store.response) == 4
    assert store.response.isdigit()
    timeout = timedelta(minutes=int(captcha_settings.CAPTCHA_TIMEOUT))
    assert before + timeout <= store.expiration <= timezone.now() + timeout


def test_a_captcha_is_right_only_with_its_answer_before_it_expires_and_is_used_once():
    key = sign_in_sql.new_captcha()
    answer = CaptchaStore.objects.get(hashkey=key).response
    now = timezone.now()
    wrong = f"{(int(answer) + 1) % 10_000:04d}"
    assert sign_in_sql.captcha_right(key, answer, now)
    assert not sign_in_sql.captcha_right(key, wrong, now)
    assert not sign_in_sql.captcha_right("0" * 40, answer, now)
    expiry = CaptchaStore.objects.get(hashkey=key).expiration
    assert not sign_in_sql.captcha_right(key, answer, expiry)  # expired at that moment
    assert sign_in_sql.use_up_captcha(key) is True
    assert not CaptchaStore.objects.filter(hashkey=key).exists()
    assert sign_in_sql.use_up_captcha(key) is False
    assert not sign_in_sql.captcha_right(key, answer, now)


def test_signing_in_sets_the_last_sign_in_once_by_plain_sql(client, member):
    from django.contrib.auth.models import update_last_login
    from django.contrib.auth.signals import user_logged_in

    receivers = user_logged_in._live_receivers(None)[0]
    assert last_sign_in_now in receivers
    assert update_last_login not in receivers
    assert member.last_login is None
    before = timezone.now()
    sign_in(client, member.member_id)
    member.refresh_from_db()
    assert before <= member.last_login <= timezone.now()


def test_an_inserted_event_reads_back_as_the_orm_wrote_it(member):
    event = SecurityEvent(
        kind=Kind.SIGN_IN,
        member=member,
        ip_address="2001:db8::1",
        user_agent="Mozilla/5.0",
        details={"session": "sealed", "日本語": ["一", 2]},
    )
    sign_in_sql.insert(event)
    assert event.pk is not None and not event._state.adding
    stored = SecurityEvent.objects.get(pk=event.pk)
    assert (stored.kind, stored.member, stored.ip_address, stored.user_agent) == (
        Kind.SIGN_IN,
        member,
        "2001:db8::1",
        "Mozilla/5.0",
    )
    assert stored.details == {"session": "sealed", "日本語": ["一", 2]}
    assert stored.created == event.created


def test_one_more_failure_counts_on_the_recent_record_of_that_id_and_address_only():
    now = timezone.now()
    since = now - timedelta(hours=1)
    rows = {
        "id here": ("JPN1000001", "10.0.0.1", now - timedelta(minutes=5)),
        "address alone": (None, "10.0.0.1", now - timedelta(minutes=5)),
        "id elsewhere": ("JPN1000001", "10.0.0.9", now - timedelta(minutes=5)),
        "too old": ("JPN1000002", "10.0.0.1", now - timedelta(hours=2)),
    }
    pks = {
        name: lockout_record(user, address, when=when)
        for name, (user, address, when) in rows.items()
    }

    assert sign_in_sql.one_more_failure(since, now, "10.0.0.1", "JPN1000001") is True
    assert sign_in_sql.one_more_failure(since, now, "10.0.0.1", None) is True
    assert sign_in_sql.one_more_failure(since, now, "10.0.0.1", "JPN1000002") is False  # old
    assert sign_in_sql.one_more_failure(since, now, "10.0.0.7", None) is False

    counts = {name: AccessAttempt.objects.get(pk=pk) for name, pk in pks.items()}
    assert counts["id here"].failures_since_start == 2
    assert counts["id here"].attempt_time == now
    assert counts["address alone"].failures_since_start == 2
    assert counts["id elsewhere"].failures_since_start == 1
    assert counts["too old"].failures_since_start == 1


def test_one_more_failure_counts_once_where_two_records_were_started_at_once():
    """Two first failures sent at once from one address alone make two records (nothing
    keeps an address's own to one): each later failure counts on one of them, not both."""
    now = timezone.now()
    since = now - timedelta(hours=1)
    lockout_record(None, "10.0.0.1", when=now - timedelta(minutes=2))
    lockout_record(None, "10.0.0.1", when=now - timedelta(minutes=1))

    for _ in range(3):
        assert sign_in_sql.one_more_failure(since, now, "10.0.0.1", None) is True

    counts = AccessAttempt.objects.order_by("pk").values_list("failures_since_start", flat=True)
    assert sum(counts) == 2 + 3


def test_a_lockout_record_inserted_reads_back_as_axes_wrote_it():
    attempt = AccessAttempt(
        username="JPN1000001",
        ip_address="10.0.0.1",
        user_agent="Mozilla/5.0",
        http_accept="text/html",
        path_info="/login/",
        get_data="",
        post_data="",
        failures_since_start=1,
    )
    before = timezone.now()
    sign_in_sql.insert(attempt)
    stored = AccessAttempt.objects.get(pk=attempt.pk)
    assert (stored.username, stored.ip_address, stored.failures_since_start) == (
        "JPN1000001",
        "10.0.0.1",
        1,
    )
    assert before <= stored.attempt_time <= timezone.now()  # auto_now_add, as create() sets


def test_a_pin_try_takes_its_own_place_and_none_past_the_limit_or_while_locked(member):
    now = timezone.now()
    assert [sign_in_sql.take_a_try(member.pk, 3, now) for _ in range(4)] == [1, 2, 3, None]
    assert Member.objects.get(pk=member.pk).pin_failures == 3  # the fourth took nothing

    Member.objects.filter(pk=member.pk).update(
        pin_failures=0, pin_locked_until=now + timedelta(minutes=15)
    )
    assert sign_in_sql.take_a_try(member.pk, 3, now) is None
    assert sign_in_sql.take_a_try(member.pk, 3, now + timedelta(minutes=16)) == 1  # lock over
