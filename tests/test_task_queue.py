"""Production mail goes through a queue (django-tasks-db) and a worker, not the request."""

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts import emails
from tests.helpers import solved_captcha

# The worker runs as it does in production: it commits and closes its connection, which a
# test inside one rolled-back transaction cannot survive on PostgreSQL.
pytestmark = pytest.mark.django_db(transaction=True)

QUEUE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@pytest.fixture(autouse=True)
def _queue(settings):
    cache.clear()
    settings.TASKS = QUEUE


def ask(client, member_id, email):
    data = {"username": member_id, "email": email, **solved_captcha()}
    with CaptureQueriesContext(connection) as queries:
        response = client.post("/password/forgot/", data)
    assert response["Location"] == "/password/forgot/sent/"
    return [q["sql"].split()[0] for q in queries]


def run_worker():
    call_command("db_worker", "--batch", "--no-startup-delay", "--interval", "0", verbosity=0)


def test_the_request_only_queues_and_the_worker_sends(client, member, mailoutbox):
    ask(client, "JPN1000001", "taro@example.com")
    assert mailoutbox == []
    assert DBTaskResult.objects.count() == 1
    run_worker()
    assert len(mailoutbox) == 1
    assert "/password/reset/" in mailoutbox[0].body


def test_a_match_and_a_miss_do_the_same_work_in_the_request(member, mailoutbox):
    # Each from a browser of its own: the first post's session (what was typed, for the
    # sent page) would otherwise be read and rewritten by the second.
    match = ask(Client(), "JPN1000001", "taro@example.com")
    miss = ask(Client(), "JPN7654321", "nobody@example.com")
    assert match == miss  # the same statements, in the same order
    run_worker()
    assert len(mailoutbox) == 1  # and only the match gets mail


def test_no_queue_row_holds_a_working_reset_link(client, member, mailoutbox):
    ask(client, "JPN1000001", "taro@example.com")
    run_worker()
    token = mailoutbox[0].body.split("/password/reset/")[1].split("/")[1]
    stored = " ".join(
        str(row) for row in DBTaskResult.objects.values_list("args_kwargs", "return_value")
    )
    assert "JPN1000001" in stored  # what the rows do hold: the request, not the link
    assert token not in stored and "/password/reset/" not in stored


def test_no_queue_row_holds_a_working_email_confirmation_link(member_client, member, mailoutbox):
    member_client.post(
        "/backoffice/profile/email/", {"email": "taro.new@example.com", "pin": "482916"}
    )
    run_worker()
    confirm = next(m for m in mailoutbox if m.to == ["taro.new@example.com"])
    token = confirm.body.split("/backoffice/profile/email/confirm/")[1].split("/")[0]
    stored = " ".join(
        str(row) for row in DBTaskResult.objects.values_list("args_kwargs", "return_value")
    )
    assert "taro.new@example.com" in stored
    assert token not in stored and "/email/confirm/" not in stored


def test_a_reset_link_goes_out_ahead_of_notices_queued_before_it(client, member, mailoutbox):
    """A burst of notices (each view-only sign-in mails one) must not keep a member waiting
    on the forgot page for their link."""
    for _ in range(3):
        emails.send_member_email(member, "view_only_sign_in", {"when": timezone.now()})
    ask(client, "JPN1000001", "taro@example.com")
    call_command(
        "db_worker", "--batch", "--no-startup-delay", "--interval", "0", "--max-tasks", "2"
    )  # the forgot page's request, then the link it queued
    assert len(mailoutbox) == 1
    assert "/password/reset/" in mailoutbox[0].body
    run_worker()
    assert len(mailoutbox) == 4  # the notices go out after it
