"""The member hasher runs at most JENCO_HASHES_AT_ONCE Argon2 hashes at once in a process.

An app server's threads wait on PostgreSQL and Redis; its process has one core's share, and
four sign-ins hashing at once on it only take turns, at 10-15 % more CPU each (README,
Benchmarks). Real Argon2 here: the hashes are counted as they run, not replaced.
"""

import threading
import time

import argon2
import pytest
from django.contrib.auth.hashers import check_password, identify_hasher, make_password

from accounts.hashers import MemberArgon2Hasher
from jenco import settings as production

# The production list, not MemberArgon2Hasher alone: a hasher of the same name further down
# checked every password in its place, outside the turns (helper-143).
PRODUCTION_HASHERS = production.PASSWORD_HASHERS


@pytest.fixture
def hashes_running(monkeypatch):
    """The most Argon2 hashes seen running at once in this process (each held 50 ms so that
    hashes started together overlap unless something makes them wait)."""
    lock = threading.Lock()
    running = [0]
    most = [0]

    def counted(real):
        def run(*args, **kwargs):
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            try:
                time.sleep(0.05)
                return real(*args, **kwargs)
            finally:
                with lock:
                    running[0] -= 1

        return run

    # Where Django's Argon2 hasher reaches them: verify through argon2.PasswordHasher, which
    # imported verify_secret; encode through the module, as argon2.low_level.hash_secret.
    checking = argon2._password_hasher
    monkeypatch.setattr(checking, "verify_secret", counted(checking.verify_secret))
    monkeypatch.setattr(argon2.low_level, "hash_secret", counted(argon2.low_level.hash_secret))
    return most


def _at_once(*jobs):
    start = threading.Barrier(len(jobs))
    answers = [None] * len(jobs)

    def run(n, job):
        start.wait()
        answers[n] = job()

    threads = [threading.Thread(target=run, args=(n, job)) for n, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.mark.parametrize("at_once", [1, 2])
def test_sign_ins_at_once_hash_no_more_than_the_setting_allows(settings, hashes_running, at_once):
    settings.PASSWORD_HASHERS = PRODUCTION_HASHERS
    settings.JENCO_HASHES_AT_ONCE = at_once
    encoded = make_password("plum-Blossom-2026")
    hashes_running[0] = 0

    answers = _at_once(
        *[lambda: check_password("plum-Blossom-2026", encoded)] * 3,
        lambda: check_password("wrong-Blossom-2026", encoded),
        lambda: make_password("new-Blossom-2026"),
    )

    assert hashes_running[0] == at_once
    assert isinstance(
        identify_hasher(encoded), MemberArgon2Hasher
    )  # and checks it    assert answers[:4] == [True, True, True, False]  # each still checked, and right
    assert check_password("new-Blossom-2026", answers[4])


def test_a_failed_hash_gives_its_turn_back(settings):
    settings.PASSWORD_HASHERS = PRODUCTION_HASHERS
    settings.JENCO_HASHES_AT_ONCE = 1
    encoded = make_password("plum-Blossom-2026")
    broken = encoded[:-8] + "########"  # not base64: argon2 raises, Django answers False

    assert check_password("plum-Blossom-2026", broken) is False
    assert _at_once(lambda: check_password("plum-Blossom-2026", encoded)) == [True]


def test_an_unknown_id_and_a_known_one_wait_for_the_same_turns(settings, hashes_running):
    # The unknown ID's equal cost is a hash made (credentials), the known one's a hash checked:
    # only the first waited its turn, and took longer when others hashed (helper-143).
    from accounts.credentials import burn_one_verification

    settings.PASSWORD_HASHERS = PRODUCTION_HASHERS
    settings.JENCO_HASHES_AT_ONCE = 1
    encoded = make_password("plum-Blossom-2026")
    hashes_running[0] = 0

    _at_once(
        lambda: check_password("plum-Blossom-2026", encoded),
        lambda: check_password("plum-Blossom-2026", encoded),
        lambda: burn_one_verification("plum-Blossom-2026"),  # what an unknown ID costs
    )

    assert hashes_running[0] == 1
