"""`manage.py housekeeping`, run hourly by deploy/jenco-housekeeping.timer, keeps every table
bounded; sign-in requests no longer sweep expired captchas themselves (issue 13)."""

import configparser
import datetime
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from captcha.models import CaptchaStore
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.core.management import call_command, get_commands
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts import throttle
from accounts.models import (
    EmailChangeRequest,
    MailboxCode,
    PendingRegistration,
    RequestCounter,
    SecurityEvent,
)
from tests.helpers import PASSWORD, solved_captcha

ROOT = Path(__file__).resolve().parent.parent
N = 300  # of each kind, expired; and a few live ones beside them


def ago(**delta) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(**delta)


def housekeeping(*args) -> str:
    out = io.StringIO()
    call_command("housekeeping", *args, stdout=out)
    return out.getvalue()


def counts(output: str) -> list[int]:
    return [int(n) for n in re.findall(r"(\d+)件", output)]


def task_rows(status, n, **fields):
    DBTaskResult.objects.bulk_create(
        DBTaskResult(
            status=status,
            args_kwargs={"args": [], "kwargs": {}},
            task_path="accounts.tasks.deliver_email",
            backend_name="default",
            run_after=timezone.now(),
            **fields,
        )
        for _ in range(n)
    )


def a_day_of_everything(member):
    """N expired rows of every kind housekeeping sweeps, and live ones it must keep."""
    CaptchaStore.objects.bulk_create(
        CaptchaStore(
            challenge="1234", response="1234", hashkey=f"old{i}", expiration=ago(minutes=1)
        )
        for i in range(N)
    )
    live_captcha = CaptchaStore.generate_key()
    Session.objects.bulk_create(
        Session(session_key=f"old{i:037d}", session_data="", expire_date=ago(seconds=1))
        for i in range(N)
    )
    Session.objects.create(
        session_key="live" + "0" * 36, session_data="", expire_date=ago(hours=-1)
    )
    AccessAttempt.objects.bulk_create(
        AccessAttempt(
            username=f"JPN{i:07d}",
            ip_address="203.0.113.7",
            user_agent="",
            get_data="",
            post_data="",
            http_accept="",
            path_info="/login/",
            failures_since_start=3,
        )
        for i in range(N + 1)
    )
    AccessAttempt.objects.exclude(username="JPN0000000").update(attempt_time=ago(minutes=16))
    SecurityEvent.objects.bulk_create(
        SecurityEvent(kind="sign_in", member=member, created=ago(days=401)) for _ in range(N)
    )
    SecurityEvent.objects.create(kind="sign_in", member=member, created=ago(days=399))
    for i in range(N):
        throttle.over_limit(
            "forgot-password", f"198.51.100.{i}", 3, 3600, now=ago(hours=2).timestamp()
        )
    throttle.over_limit("forgot-password", "192.0.2.1", 3, 3600)
    MailboxCode.objects.bulk_create(
        MailboxCode(member=member, created=ago(hours=25)) for _ in range(N)
    )
    MailboxCode.objects.create(member=member, created=ago(hours=23))
    EmailChangeRequest.objects.bulk_create(
        EmailChangeRequest(member=member, new_email=f"n{i}@example.com", created=ago(hours=25))
        for i in range(N)
    )
    EmailChangeRequest.objects.create(member=member, new_email="now@example.com")
    PendingRegistration.objects.bulk_create(
        PendingRegistration(name="x", email=f"r{i}@example.com", created=ago(hours=25))
        for i in range(N)
    )
    PendingRegistration.objects.create(name="x", email="registering@example.com")
    task_rows("SUCCESSFUL", N, finished_at=ago(days=8))
    task_rows("SUCCESSFUL", 1, finished_at=ago(days=6))
    task_rows("FAILED", N, finished_at=ago(days=91))
    task_rows("FAILED", 1, finished_at=ago(days=89))
    task_rows("READY", 1)
    task_rows("RUNNING", 1, started_at=ago(seconds=30))  # a live worker's: left alone
    task_rows("RUNNING", 1, started_at=ago(minutes=11))  # a dead worker's: queued again
    # Finished long after they were queued: tried for the whole day, as retried tasks are.
    DBTaskResult.objects.filter(finished_at__isnull=False).update(
        enqueued_at=F("finished_at") - datetime.timedelta(hours=25)
    )
    return live_captcha


def test_it_deletes_what_expired_keeps_what_is_live_and_a_second_run_deletes_nothing(
    member, settings
):
    # Counters in the database, as without REDIS_URL (with it they expire in Redis).
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    live_captcha = a_day_of_everything(member)

    first = housekeeping()

    assert list(CaptchaStore.objects.values_list("hashkey", flat=True)) == [live_captcha]
    assert list(Session.objects.values_list("session_key", flat=True)) == ["live" + "0" * 36]
    assert list(AccessAttempt.objects.values_list("username", flat=True)) == ["JPN0000000"]
    assert SecurityEvent.objects.count() == 1
    assert list(RequestCounter.objects.values_list("key_hash", flat=True)) == [
        throttle.hash_key("192.0.2.1")
    ]
    assert MailboxCode.objects.count() == 1
    assert list(EmailChangeRequest.objects.values_list("new_email", flat=True)) == [
        "now@example.com"
    ]
    assert sorted(DBTaskResult.objects.values_list("status", flat=True)) == [
        "FAILED",  # kept 90 days, to be looked into
        "READY",
        "READY",  # the dead worker's, queued again
        "RUNNING",
        "SUCCESSFUL",
    ]
    assert list(PendingRegistration.objects.values_list("email", flat=True)) == [
        "registering@example.com"
    ]
    assert counts(first) == [1, 2 * N, N, N, N, N, N, N, N, N]
    assert "期限切れの画像認証を300件削除しました。" in first

    second = housekeeping()
    assert counts(second) == [0] * 10
    assert DBTaskResult.objects.count() == 5


def test_it_speaks_the_operators_language(db):
    assert "Expired captchas deleted: 0." in housekeeping("--language", "en")
    assert "期限切れの画像認証を0件削除しました。" in housekeeping()


def test_prune_security_events_still_works_as_a_part_of_it(member):
    SecurityEvent.objects.create(kind="sign_in", member=member, created=ago(days=500))
    out = io.StringIO()
    call_command("prune_security_events", "--days", "400", stdout=out)
    assert not SecurityEvent.objects.exists()
    assert "1件" in out.getvalue()


# --- Sign-in requests no longer sweep expired captchas --------------------------------------


@pytest.fixture
def _clear_throttles():
    cache.clear()


def sweeps(queries) -> list[str]:
    return [
        q["sql"]
        for q in queries
        if q["sql"].startswith("DELETE")
        and "captcha_captchastore" in q["sql"]
        and "expiration" in q["sql"]
    ]


def test_a_sign_in_leaves_expired_captchas_to_housekeeping(client, member, _clear_throttles):
    CaptchaStore.objects.create(
        challenge="1234", response="1234", hashkey="someone-elses", expiration=ago(minutes=1)
    )
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            "/login/", {"username": "JPN1000001", "password": PASSWORD, **solved_captcha()}
        )
    assert response["Location"] == "/backoffice/"
    assert sweeps(queries) == []
    assert CaptchaStore.objects.filter(hashkey="someone-elses").exists()
    housekeeping()
    assert not CaptchaStore.objects.filter(hashkey="someone-elses").exists()


def test_an_expired_captcha_is_still_refused(client, member, _clear_throttles):
    answer = solved_captcha()
    CaptchaStore.objects.filter(hashkey=answer["captcha_0"]).update(expiration=ago(seconds=1))
    response = client.post("/login/", {"username": "JPN1000001", "password": PASSWORD, **answer})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_a_captcha_answered_wrong_cannot_be_answered_again(client, member, _clear_throttles):
    answer = solved_captcha()
    wrong = {**answer, "captcha_1": f"{(int(answer['captcha_1']) + 1) % 10000:04d}"}
    client.post("/login/", {"username": "JPN1000001", "password": PASSWORD, **wrong})
    response = client.post("/login/", {"username": "JPN1000001", "password": PASSWORD, **answer})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


# --- The systemd units ----------------------------------------------------------------------


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd's keys are case-sensitive
    parser.read(ROOT / "deploy" / name)
    return parser


def test_the_service_runs_housekeeping_as_the_app_does():
    service = unit("jenco-housekeeping.service")["Service"]
    assert service["Type"] == "oneshot"
    assert service["User"] == "jenco"
    assert service["WorkingDirectory"] == "/srv/jenco"
    assert service["EnvironmentFile"] == "/etc/jenco/jenco.env"
    program, manage, command, *rest = service["ExecStart"].split()
    assert (program, manage, rest) == ("/srv/jenco/.venv/bin/python", "manage.py", [])
    assert command in get_commands()


def test_the_timer_starts_the_service_hourly_and_catches_up_after_downtime():
    timer = unit("jenco-housekeeping.timer")["Timer"]
    assert timer["Unit"] == "jenco-housekeeping.service"
    assert timer["OnCalendar"] == "hourly"
    assert timer["Persistent"] == "true"
    assert timer["RandomizedDelaySec"]


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="no systemd-analyze here")
def test_systemd_accepts_both_units(tmp_path):
    for name in ("jenco-housekeeping.service", "jenco-housekeeping.timer"):
        text = (ROOT / "deploy" / name).read_text()
        # The program must exist for verify: this machine's Python stands in for the venv's.
        (tmp_path / name).write_text(text.replace("/srv/jenco/.venv/bin/python", sys.executable))
    result = subprocess.run(
        ["systemd-analyze", "verify", "jenco-housekeeping.timer", "jenco-housekeeping.service"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
