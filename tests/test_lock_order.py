"""Whatever signs in with a member's passkey, authenticator or recovery codes, or changes them,
locks the member's row before any of those rows (Member.objects.hold). Two that locked in
other orders could each wait for the other, and PostgreSQL ends one with an error, a 500:
helper-140 found a passkey's second step (passkey, then member) against support's two-step
reset (member, then passkeys).

Each case holds the member's row from another connection, lets the request or change run
until it waits, and then asks for the rows it is about to touch without waiting: they must
still be free. PostgreSQL only (SQLite locks the whole database): `make test` runs the suite
again on PostgreSQL.
"""

import os
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

import pytest
from django.db import connections

from accounts.flows import passkeys, two_step
from accounts.models import Authenticator, Member, Passkey, RecoveryCode, SecurityEvent
from tests.softkey import options_in
from tests.test_passkeys import SECOND_STEP, SIGN_IN, add_passkey, signed_in_as
from tests.test_postgres_backend import another_connection
from tests.test_two_step import password_step, turn_on

Kind = SecurityEvent.Kind
pytestmark = [
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="row locks: runs in the PostgreSQL pass of `make test`",
    ),
    pytest.mark.django_db(transaction=True),
]


@contextmanager
def member_row_held(member):
    """The member's row locked from another connection, as another request would hold it."""
    with another_connection() as held:
        held.autocommit = False
        held.execute(f"SELECT 1 FROM {Member._meta.db_table} WHERE id = %s FOR UPDATE", [member.pk])
        try:
            yield held
        finally:
            held.rollback()


def wait_until_blocked(held, seconds: float = 10) -> None:
    """Until another connection waits for a lock `held` holds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        held.execute("SELECT pg_stat_clear_snapshot()")  # read anew, not the transaction's copy
        waiting = held.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))"
        ).fetchone()[0]
        if waiting:
            return
        time.sleep(0.01)
    raise AssertionError("nothing waited for the member's row")


def rows_free(held, rows: dict[str, list[int]]) -> bool:
    """Whether `rows` can be locked now: as the request or change that locks them next would,
    waiting for a lock, so a deadlock with the waiting thread shows (PostgreSQL ends one of
    the two after a second), but not for ever."""
    import psycopg

    held.execute("SET LOCAL lock_timeout = '5s'")
    try:
        for table, pks in rows.items():
            held.execute(f"SELECT 1 FROM {table} WHERE id = ANY(%s) FOR UPDATE", [pks])
    except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected):
        return False
    return True


def run_while_held(member, action: Callable, meanwhile: Callable):
    """Run `action` in a thread of its own while the member's row is held elsewhere; once it
    waits, `meanwhile(held)`; then both answers. The action's error is raised here."""
    answer, failure = [], []

    def run():
        try:
            answer.append(action())
        except BaseException as error:
            failure.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    try:
        with member_row_held(member) as held:
            thread.start()
            wait_until_blocked(held)
            seen = meanwhile(held)
    finally:
        thread.join(20)
    assert not thread.is_alive()
    if failure:
        raise failure[0]
    return seen, answer[0]


def run_with_the_member_held(member, rows, action: Callable):
    """`action` run while the member's row is held elsewhere: whether `rows` were still free
    once it waited, and then what it answered."""
    by_table = {}  # now: a row the action deletes loses its pk
    for row in rows:
        by_table.setdefault(row._meta.db_table, []).append(row.pk)
    return run_while_held(member, action, lambda held: rows_free(held, by_table))


def passkeys_deleted(member) -> Callable:
    """What support's reset does meanwhile, committed."""

    def delete(held):
        held.execute(f"DELETE FROM {Passkey._meta.db_table} WHERE member_id = %s", [member.pk])
        held.commit()

    return delete


def test_a_passkeys_second_step_waits_for_the_member_before_the_passkey(
    member_client, member, client
):
    turn_on(member_client)
    key = add_passkey(member_client)
    passkey = Passkey.objects.get(member=member)
    password_step(client)
    page = client.get("/login/code/").content.decode()
    answer = key.get(options_in(page))

    free, response = run_with_the_member_held(
        member, [passkey], lambda: client.post(SECOND_STEP, {"passkey": answer})
    )

    assert free
    assert response.status_code == 302 and signed_in_as(client) == str(member.pk)


def test_a_passkey_alone_waits_for_the_member_before_the_passkey(member_client, member, client):
    key = add_passkey(member_client)
    passkey = Passkey.objects.get(member=member)
    client.logout()
    answer = key.get(options_in(client.get(SIGN_IN).content.decode()))

    free, response = run_with_the_member_held(
        member, [passkey], lambda: client.post(SIGN_IN, {"passkey": answer})
    )

    assert free
    assert response.status_code == 302 and signed_in_as(client) == str(member.pk)


def test_support_resetting_two_step_waits_for_the_member_before_its_rows(member_client, member):
    # Not the support_agent fixture: its group comes from a migration, which a transactional
    # test's flush empties.
    agent = Member.objects.create_user("JPN9000002", "support@jenco.example", is_staff=True)
    turn_on(member_client)
    add_passkey(member_client)
    rows = [
        *Passkey.objects.filter(member=member),
        *Authenticator.objects.filter(member=member),
        *RecoveryCode.objects.filter(member=member),
    ]

    free, reset = run_with_the_member_held(
        member, rows, lambda: two_step.reset(member, actor=agent)
    )

    assert free and reset
    assert not Passkey.objects.filter(member=member).exists()


def test_turning_two_step_off_waits_for_the_member_before_its_rows(member_client, member):
    turn_on(member_client)
    rows = [
        *Authenticator.objects.filter(member=member),
        *RecoveryCode.objects.filter(member=member),
    ]

    free, turned_off = run_with_the_member_held(
        member, rows, lambda: two_step.turn_off(None, member)
    )

    assert free and turned_off
    assert not Authenticator.objects.filter(member=member).exists()


def test_removing_a_passkey_waits_for_the_member_before_the_passkey(member_client, member):
    add_passkey(member_client)
    passkey = Passkey.objects.get(member=member)

    free, _ = run_with_the_member_held(
        member, [passkey], lambda: passkeys.remove(None, member, passkey)
    )

    assert free
    assert not Passkey.objects.filter(member=member).exists()


def test_a_passkey_removed_while_its_sign_in_waited_signs_nobody_in(member_client, member, client):
    """The second half of helper-140's race: support's reset went first, so the sign-in that
    waited for the member finds the passkey gone, and is refused, not a 500."""
    key = add_passkey(member_client)
    client.logout()
    answer = key.get(options_in(client.get(SIGN_IN).content.decode()))

    _, response = run_while_held(
        member, lambda: client.post(SIGN_IN, {"passkey": answer}), passkeys_deleted(member)
    )

    assert response.status_code == 200
    assert signed_in_as(client) is None


def test_a_passkey_removed_while_its_removal_waited_is_logged_and_mailed_once(
    member_client, member, mailoutbox
):
    """The same form from two tabs, or support's reset meanwhile: the second removal, which
    waited for the member, finds nothing to remove (helper-143: logged and mailed again)."""
    add_passkey(member_client)
    passkey = Passkey.objects.get(member=member)
    mailed = len(mailoutbox)

    _, removed = run_while_held(
        member, lambda: passkeys.remove(None, member, passkey), passkeys_deleted(member)
    )

    assert removed is False
    assert not member.security_events.filter(kind=Kind.PASSKEY_REMOVED).exists()
    assert len(mailoutbox) == mailed
