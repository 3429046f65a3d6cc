"""The email worker never loses mail: a failed send is tried again with a growing wait, and a
worker killed in the middle of a send loses nothing (issue 13).

The queue and the worker are the real ones (django-tasks-db, `manage.py db_worker`); the
mail server is tests/mail_backends.py, which fails or hangs its first tries.
"""

import datetime
import io
import logging
import re
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.tasks import deliver_email
from tests.conftest import DEFAULT_PASSWORD, PASSWORD, solved_captcha

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


def test_after_the_last_try_the_task_stays_failed_and_is_logged(
    flaky_mail, settings, db, mailoutbox, caplog
):
    flaky_mail(1000)
    settings.JENCO_TASK_RETRY_SECONDS = 60 * 60
    settings.JENCO_TASK_RETRY_HOURS = 2
    deliver_email.enqueue(to=["taro@example.com"], subject="件名", body="本文")
    with caplog.at_level(logging.WARNING, logger="accounts.tasks"):
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
    path = re.search(
        r"https://jenco\.example(/backoffice/profile/email/confirm/\S+/)", links[0].body
    )
    member_client.get(path.group(1), follow=True)
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
    link = re.search(r"https://jenco\.example(/password/reset/\S+/)", mailoutbox[0].body).group(1)
    form = client.get(link, follow=True)
    new = "Chestnut-Trail-88"
    response = client.post(
        form.redirect_chain[-1][0] if form.redirect_chain else link,
        {"new_password1": new, "new_password2": new, **solved_captcha()},
    )
    assert response["Location"] == "/password/reset/done/"
    member.refresh_from_db()
    assert member.check_password(new) and not member.check_password(PASSWORD)
