"""The email worker never loses mail: a failed send is tried again with a growing wait, and a
worker killed in the middle of a send loses nothing (issue 13).

The queue and the worker are the real ones (django-tasks-db, `manage.py db_worker`); the
mail server is tests/mail_backends.py, which fails or hangs its first tries.
"""

import datetime
import io
import json
import logging
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from email import message_from_bytes
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.tasks import deliver_email
from tests.helpers import DEFAULT_PASSWORD, PASSWORD, emailed_path, solved_captcha

# The worker runs as it does in production: it commits and closes its connection, which a
# test inside one rolled-back transaction cannot survive on PostgreSQL.
pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parent.parent
MAILBOX = "/backoffice/first-sign-in/mailbox/"


# --- In this process: the worker's own code, the test's database ------------------------------


@pytest.fixture
def flaky_mail(settings, tmp_path, monkeypatch):
    """A mail server that fails its first `n` sends; tries are retried at once (no wait)."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.MAILERS = {"default": {"BACKEND": "tests.mail_backends.FlakyLocmemBackend"}}
    settings.JENCO_TASK_RETRY_SECONDS = 0
    monkeypatch.setenv("JENCO_TEST_MAIL_TRIES", str(tmp_path / "tries"))
    cache.clear()

    def fail_first(n: int) -> None:
        monkeypatch.setenv("JENCO_TEST_MAIL_FAILURES", str(n))

    return fail_first


def run_worker():
    call_command("db_worker", "--batch", "--no-startup-delay", "--interval", "0", verbosity=0)


def test_a_failed_send_is_tried_again_and_the_mail_sent_once(flaky_mail, db, mailoutbox):
    flaky_mail(2)
    deliver_email.enqueue(to=["taro@example.com"], subject="件名", body="本文")
    run_worker()
    assert [m.to for m in mailoutbox] == [["taro@example.com"]]
    row = DBTaskResult.objects.get()
    assert row.status == "SUCCESSFUL"
    assert len(row.worker_ids) == 3  # two failed tries, then the one that sent


def test_a_failed_try_that_will_be_retried_is_a_warning_not_an_error(flaky_mail, db, caplog):
    # Django logged each failed try at ERROR with its traceback: with ADMINS set, a mail to
    # the admins for every retry of one message (helper-117).
    flaky_mail(2)
    deliver_email.enqueue(to=["taro@example.com"], subject="件名", body="本文")
    with caplog.at_level(logging.INFO):
        # At the worker's default verbosity, as it runs: each task's start and end logged.
        call_command("db_worker", "--batch", "--no-startup-delay", "--interval", "0", verbosity=1)

    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    retries = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(retries) == 2 and all("next try at" in line for line in retries)
    assert all(line.endswith("+09:00") for line in retries)  # Japan time, as the log is
    finished = [r.getMessage() for r in caplog.records if r.name == "django.tasks"]
    assert any("state=SUCCESSFUL" in line for line in finished)


def test_after_the_last_try_the_task_stays_failed_and_is_logged(
    flaky_mail, settings, db, mailoutbox, caplog
):
    flaky_mail(1000)
    settings.JENCO_TASK_RETRY_SECONDS = 60 * 60
    settings.JENCO_TASK_RETRY_HOURS = 2
    deliver_email.enqueue(to=["taro@example.com"], subject="件名", body="本文")
    with caplog.at_level(logging.WARNING):
        run_worker()  # the first try, then a wait of an hour
        assert DBTaskResult.objects.get().status == "READY"
        # An hour and a half later: the next wait (an hour) would end after the two hours.
        now = timezone.now()
        DBTaskResult.objects.update(run_after=now, enqueued_at=now - datetime.timedelta(minutes=90))
        run_worker()  # the second and last try
    row = DBTaskResult.objects.get()
    assert mailoutbox == []
    assert row.status == "FAILED"
    assert row.exception_class_path == "smtplib.SMTPServerDisconnected"
    errors = [
        r for r in caplog.records if r.levelno == logging.ERROR and r.name == "accounts.tasks"
    ]
    assert len(errors) == 1 and "will not be tried again" in errors[0].getMessage()
    assert errors[0].exc_info and errors[0].exc_info[0].__name__ == "SMTPServerDisconnected"
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == errors  # one, not two
    call_command("housekeeping", stdout=io.StringIO())
    assert DBTaskResult.objects.get().status == "FAILED"  # kept, and not queued again


def test_the_wait_doubles_up_to_its_cap(settings):
    from accounts.tasks import retry_delay

    settings.JENCO_TASK_RETRY_SECONDS = 60
    settings.JENCO_TASK_RETRY_MAX_SECONDS = 3600
    waits = [retry_delay(n).total_seconds() / 60 for n in range(1, 9)]
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60]


def test_a_mailbox_code_whose_send_failed_arrives_and_works(
    flaky_mail, client, migrated_member, mailoutbox
):
    flaky_mail(2)
    client.post(
        "/login/", {"username": "JPN2000001", "password": DEFAULT_PASSWORD, **solved_captcha()}
    )
    run_worker()
    assert len(mailoutbox) == 1  # one code, however many tries it took
    code = re.findall(r"^\s+(\d{6})$", mailoutbox[0].body, re.M)[0]
    assert client.post(MAILBOX, {"code": code})["Location"] == "/backoffice/"


def test_a_confirmation_link_whose_send_failed_arrives_and_works(
    flaky_mail, member_client, member, mailoutbox
):
    flaky_mail(2)
    member_client.post(
        "/backoffice/profile/email/", {"email": "taro.new@example.com", "pin": "482916"}
    )
    run_worker()
    links = [m for m in mailoutbox if m.to == ["taro.new@example.com"]]
    notices = [m for m in mailoutbox if m.to == ["taro@example.com"]]
    assert len(links) == 1 and len(notices) == 1
    member_client.get(emailed_path(links[0], "/backoffice/profile/email/confirm/"), follow=True)
    member_client.post("/backoffice/profile/email/confirm/new-address/")
    member.refresh_from_db()
    assert member.email == "taro.new@example.com"


def test_a_reset_link_whose_send_failed_arrives_and_works(flaky_mail, client, member, mailoutbox):
    flaky_mail(2)
    client.post(
        "/password/forgot/",
        {"username": "JPN1000001", "email": "taro@example.com", **solved_captcha()},
    )
    run_worker()
    assert len(mailoutbox) == 1
    link = emailed_path(mailoutbox[0], "/password/reset/")
    form = client.get(link, follow=True)
    new = "Chestnut-Trail-88"
    response = client.post(
        form.redirect_chain[-1][0] if form.redirect_chain else link,
        {"new_password1": new, "new_password2": new, **solved_captcha()},
    )
    assert response["Location"] == "/password/reset/done/"
    member.refresh_from_db()
    assert member.check_password(new) and not member.check_password(PASSWORD)


# --- A real worker process on a database file ---------------------------------------------


class Deployment:
    """The production settings (DEBUG=0, the database queue) on a SQLite file, a mail
    server from tests/mail_backends.py writing to a folder, and `manage.py` processes."""

    def __init__(self, folder: Path, migrated: Path, **environment):
        self.db = folder / "db.sqlite3"
        shutil.copy(migrated, self.db)
        self.mail = folder / "mail"
        self.tries = folder / "tries"
        self.tries.touch()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "jenco.settings",
            "DEBUG": "0",
            "SECRET_KEY": "tests-only-not-a-secret-" + "x" * 40,
            "SITE_URL": "https://jenco.example",
            "ALLOWED_HOSTS": "127.0.0.1",
            "DATABASE_URL": f"sqlite:///{self.db}",
            "EMAIL_BACKEND": "tests.mail_backends.FlakyFileBackend",
            "EMAIL_FILE_PATH": str(self.mail),
            "JENCO_TEST_MAIL_TRIES": str(self.tries),
            "JENCO_TASK_RETRY_SECONDS": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            **environment,
        }
        self.worker: subprocess.Popen | None = None

    def manage(self, *args: str, **environment) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env | environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def shell(self, code: str) -> str:
        return self.manage("shell", "--no-imports", "-c", code)

    def start_worker(self) -> None:
        self.worker = subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--no-startup-delay", "--interval", "0.2"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop_worker(self, sig=signal.SIGTERM) -> None:
        self.worker.send_signal(sig)
        self.worker.wait(timeout=30)

    def tasks(self) -> list[tuple[str, int]]:
        with sqlite3.connect(self.db) as db:
            rows = db.execute("SELECT status, worker_ids FROM django_tasks_database_dbtaskresult")
            return [(status, len(json.loads(workers))) for status, workers in rows]

    def try_times(self) -> list[float]:
        return [float(line) for line in self.tries.read_text().split()]

    def sent(self) -> list:
        if not self.mail.exists():
            return []
        messages = []
        for file in sorted(self.mail.iterdir()):
            # The file backend writes each message followed by a line of dashes.
            for part in file.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
                if part.strip():
                    messages.append(message_from_bytes(part))
        return messages

    def wait_for(self, condition, seconds=60) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            assert self.worker is None or self.worker.poll() is None, "the worker stopped"
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.1)


@pytest.fixture(scope="module")
def migrated_db(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("migrated")
    Deployment(folder, migrated=os.devnull).manage("migrate", "--verbosity", "0")
    return folder / "db.sqlite3"


@pytest.fixture
def deployment(tmp_path, migrated_db):
    made = []

    def make(**environment) -> Deployment:
        made.append(Deployment(tmp_path, migrated_db, **environment))
        return made[-1]

    yield make
    for d in made:
        if d.worker is not None and d.worker.poll() is None:
            d.worker.kill()
            d.worker.wait()


ENQUEUE = (
    "from accounts.tasks import deliver_email; "
    "deliver_email.enqueue(to=['taro@example.com'], subject='JENCO', body='hello')"
)


def test_a_worker_tries_a_failed_send_again_after_1_2_4_seconds_and_sends_it_once(deployment):
    site = deployment(JENCO_TEST_MAIL_FAILURES="3")
    site.shell(ENQUEUE)
    site.start_worker()
    site.wait_for(lambda: site.sent())
    time.sleep(1.5)  # time enough for a second send, if there were one
    site.stop_worker()

    assert [m["To"] for m in site.sent()] == ["taro@example.com"]
    assert site.tasks() == [("SUCCESSFUL", 4)]
    tries = site.try_times()
    waits = [later - earlier for earlier, later in zip(tries, tries[1:], strict=False)]
    assert len(waits) == 3
    for wait, planned in zip(waits, [1, 2, 4], strict=True):
        assert planned <= wait < planned + 3


def test_a_worker_killed_in_the_middle_of_a_send_loses_nothing(deployment):
    site = deployment(JENCO_TEST_MAIL_HANGS="1")
    site.shell(ENQUEUE)
    site.start_worker()
    site.wait_for(lambda: site.try_times())  # the send has begun, and hangs
    site.stop_worker(signal.SIGKILL)
    assert site.tasks() == [("RUNNING", 1)]

    # Housekeeping leaves a task that may still be running alone...
    assert "0件" in site.manage("housekeeping")
    assert site.tasks() == [("RUNNING", 1)]
    # ...and queues it again once it has run longer than any task can.
    assert "1件をもう一度" in site.manage("housekeeping", JENCO_TASK_TIMEOUT_SECONDS="0")
    site.manage("db_worker", "--batch", "--no-startup-delay")

    assert [m["To"] for m in site.sent()] == ["taro@example.com"]
    assert site.tasks() == [("SUCCESSFUL", 2)]


def test_a_mailbox_code_whose_worker_was_killed_mid_send_arrives_and_works(deployment):
    site = deployment(JENCO_TEST_MAIL_HANGS="1")
    site.shell(
        "from accounts.ja_accounts import ja_member; from accounts.models import MailboxCode; "
        "from accounts.tasks import mail_mailbox_code; "
        "m = ja_member('JPN2000001', name='佐藤 花子', email='hanako@example.com'); m.save(); "
        "mail_mailbox_code.enqueue(code_pk=MailboxCode.objects.create(member=m).pk)"
    )
    site.start_worker()
    site.wait_for(lambda: site.try_times())  # the code's hash is kept; its mail hangs
    site.stop_worker(signal.SIGKILL)
    site.manage("housekeeping", JENCO_TASK_TIMEOUT_SECONDS="0")
    site.manage("db_worker", "--batch", "--no-startup-delay")

    [mail] = site.sent()
    body = next(p for p in mail.walk() if p.get_content_type() == "text/plain")
    body = body.get_payload(decode=True).decode()
    code = re.findall(r"^\s+(\d{6})$", body, re.M)[0]
    works = site.shell(
        "from accounts.flows import mailbox; from accounts.models import MailboxCode; "
        "row = MailboxCode.objects.get(); "
        f"print(row.code_hash == mailbox._hash(row.member_id, '{code}'))"
    )
    assert works.strip() == "True"
