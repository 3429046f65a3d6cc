"""The PostgreSQL backend's health check (jenco/postgresql/base.py) tells a connection the
server has ended from a healthy one without a query, so the next request reconnects instead
of failing. PostgreSQL only: `make test` runs the suite again on PostgreSQL."""

import os
import uuid
from pathlib import Path

import pytest
from django.db import IntegrityError, connection, transaction

from accounts.models import Member

pytestmark = [
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="a PostgreSQL backend: runs in the PostgreSQL pass of `make test`",
    ),
    pytest.mark.django_db(transaction=True),
]


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def another_connection():
    import psycopg

    settings = connection.settings_dict
    return psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"],
        host=settings["HOST"],
        port=settings["PORT"],
        autocommit=True,
    )


def end_from_elsewhere(pid: int) -> None:
    """End the connection `pid` as a server restart or an administrator would."""
    with another_connection() as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
        # The server has ended it once it no longer lists it.
        for _ in range(200):
            if not other.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
                return
            other.execute("SELECT pg_sleep(0.01)")
        raise AssertionError("the connection was not ended")


def test_the_health_check_sends_nothing_to_the_server():
    pid = backend_pid()
    assert connection.is_usable()
    # The server still has `SELECT pg_backend_pid()` as the connection's last statement:
    # Django's own check would have left `SELECT 1` there.
    with another_connection() as other:
        (last,) = other.execute(
            "SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]
        ).fetchone()
    assert last == "SELECT pg_backend_pid()"


def test_a_connection_the_server_ended_is_not_usable_and_the_next_request_reconnects():
    pid = backend_pid()
    assert connection.is_usable()

    end_from_elsewhere(pid)

    assert not connection.is_usable()
    # What Django does as a request starts (close_old_connections): the check fails, the
    # connection is closed, and the request's first query opens a new one.
    connection.health_check_done = False
    connection.close_if_health_check_failed()
    assert backend_pid() != pid


def test_a_closed_connection_is_not_usable():
    backend_pid()
    connection.connection.close()
    assert not connection.is_usable()
    connection.close()


def server_log() -> Path:
    """The log of the server tools/services.py started (beside its data), or a skip."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW data_directory")
        log = Path(cursor.fetchone()[0]).parent / "postgres.log"
    if not log.exists():  # a server tools/services.py did not start: its log is elsewhere
        pytest.skip("the server's log is not beside its data (not started by tools/services.py)")
    return log


def test_a_failed_statement_leaves_its_values_out_of_the_servers_log():
    # helper-150 read a registration's password and PIN hashes, address and name in
    # PostgreSQL's log: the INSERT failed on the unique key and was logged whole
    # (tools/services.py starts the server with log_min_error_statement=panic).
    log = server_log()
    secret = f"argon2$secret-{uuid.uuid4().hex}"
    Member.objects.create(member_id="JPN7000001", password="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        Member.objects.create(member_id="JPN7000001", password=secret)

    logged = log.read_text(errors="replace")
    assert (
        'duplicate key value violates unique constraint "accounts_member_member_id_key"' in logged
    )
    assert secret not in logged


def test_a_failing_rows_values_stay_out_of_the_servers_log():
    # A CHECK violation's DETAIL is the whole row: "Failing row contains (..., <hash>, ...)"
    # (helper-154). tools/services.py starts the server with log_error_verbosity=terse.
    log = server_log()
    secret = f"argon2$secret-{uuid.uuid4().hex}"
    member = Member.objects.create(member_id="JPN7000002", password=secret)
    with pytest.raises(IntegrityError), transaction.atomic():
        Member.objects.filter(pk=member.pk).update(pin_failures=-1)

    logged = log.read_text(errors="replace")
    assert "violates check constraint" in logged
    assert secret not in logged
