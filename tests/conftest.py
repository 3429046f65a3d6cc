"""The members every test needs, signed in or not, and the mail they get."""

import pytest

from accounts.ja_accounts import ja_member
from accounts.models import Member
from tests.helpers import PASSWORD, finished_member, prove_mailbox


@pytest.fixture(autouse=True)
def _fresh_default_hashes():
    # The hash of the published defaults is cached per process; tests swap hashers.
    from accounts import credentials

    credentials._default_hash.cache_clear()
    yield
    credentials._default_hash.cache_clear()


@pytest.fixture(autouse=True)
def _no_quotes_kept_from_another_test():
    # The ticker keeps the quotes it read for a few seconds per process; each test's
    # database starts anew, so must that copy.
    from backoffice import ticker

    ticker.forget_here()


@pytest.fixture(autouse=True)
def _no_page_copies_kept_from_another_test():
    # The sign-in page's copies (accounts/pages.py) live as long as the process: each test
    # starts without them, so a test that makes one sees it made.
    from accounts import pages

    pages.forget()


@pytest.fixture(autouse=True)
def _no_language_carried_over():
    # A page answered in English leaves English active in this thread (LocaleMiddleware
    # activates, nothing deactivates): the next test would start in it, where a command
    # run without --language speaks the site's language.
    from django.utils import translation

    yield
    translation.deactivate()


@pytest.fixture
def member(db) -> Member:
    """A member who finished the migration: own password and PIN."""
    return finished_member(
        "JPN1000001", "taro@example.com", "山田 太郎", id_document_number="AB98765432"
    )


@pytest.fixture
def english_member(db) -> Member:
    return finished_member(
        "JPN1000002", "alice@example.com", "Alice Smith", preferred_language="en"
    )


@pytest.fixture
def migrated_member(db) -> Member:
    """Brought over from JA, still on the published default password and PIN."""
    m = ja_member(
        "JPN2000001", name="佐藤 花子", email="hanako@example.com", id_document_number="X1234567"
    )
    m.save()
    return m


@pytest.fixture
def staff(db) -> Member:
    return Member.objects.create_superuser("JPN9000001", "admin@jenco.example", PASSWORD)


@pytest.fixture
def support_agent(db) -> Member:
    from django.contrib.auth.models import Group

    agent = Member.objects.create_user(
        "JPN9000002", "support@jenco.example", PASSWORD, is_staff=True
    )
    agent.groups.add(Group.objects.get(name="Support"))
    return agent


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


@pytest.fixture
def migrated_client(client, migrated_member):
    """Signed in on the defaults, with the mailbox code already entered: at the PIN step."""
    client.force_login(migrated_member)
    prove_mailbox(client, migrated_member)
    return client


@pytest.fixture
def mailoutbox(db, mailoutbox, monkeypatch):
    """Sent mail, as it would be sent in production: mail is queued when the change commits
    (transaction.on_commit), and inside a test's rolled-back transaction nothing commits. So
    here what waits for a commit runs when the code's own outermost transaction ends (or at
    once outside one), and the test keeps its fast rollback: no transactional_db needed.
    (`db` first: setting the database up empties Django's outbox for a new list.)"""
    from django.db import connections
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.transaction import Atomic

    def only_the_tests_transactions(connection) -> bool:
        return all(getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)

    def run_waiting(connection) -> None:
        while connection.run_on_commit and only_the_tests_transactions(connection):
            _savepoints, callback, robust = connection.run_on_commit.pop(0)
            try:
                callback()
            except Exception:
                if not robust:
                    raise

    original_on_commit = BaseDatabaseWrapper.on_commit
    original_exit = Atomic.__exit__

    def on_commit(self, func, robust=False):
        original_on_commit(self, func, robust)
        run_waiting(self)

    def exit_and_commit(self, exc_type, exc_value, traceback):
        result = original_exit(self, exc_type, exc_value, traceback)
        if exc_type is None and not getattr(self, "_from_testcase", False):
            run_waiting(connections[self.using or "default"])
        return result

    monkeypatch.setattr(BaseDatabaseWrapper, "on_commit", on_commit)
    monkeypatch.setattr(Atomic, "__exit__", exit_and_commit)
    return mailoutbox
