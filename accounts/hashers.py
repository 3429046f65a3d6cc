import threading
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher

_TURNS: dict[int, threading.BoundedSemaphore] = {}


def _turns(at_once: int) -> threading.BoundedSemaphore:
    # setdefault is atomic: the first two hashes of a worker, at once, share one.
    return _TURNS.setdefault(at_once, threading.BoundedSemaphore(at_once))


@contextmanager
def one_of_the_hashes_at_once():
    """Wait for a turn to hash: at most JENCO_HASHES_AT_ONCE Argon2 runs in this process.

    An app server's threads are for the waits on PostgreSQL and Redis, and it runs one
    process per core: four sign-ins hashing at once on one core only take turns on it, each
    with its 19 MiB, and their swaps in and out of the caches cost 10-15 % more CPU a
    verification (README, Benchmarks). A thread waiting for its turn uses no CPU.
    """
    turns = _turns(settings.JENCO_HASHES_AT_ONCE)
    with turns:
        yield


class MemberArgon2Hasher(Argon2PasswordHasher):
    """Argon2id at OWASP's second recommended setting (m=19 MiB, t=2, p=1).

    Django's own default (m=100 MiB, p=8) takes 87 ms a verification on our 2-core machines,
    about 12 sign-ins a second for the whole machine; this takes ~14 ms and still meets
    OWASP's Password Storage Cheat Sheet. The README has the measurement (`make bench`).
    Same algorithm name as Django's hasher, so hashes made with other parameters still verify
    and are upgraded at the next sign-in. A process runs JENCO_HASHES_AT_ONCE of them at once.
    """

    time_cost = 2
    memory_cost = 19 * 1024
    parallelism = 1

    def encode(self, password, salt):
        with one_of_the_hashes_at_once():
            return super().encode(password, salt)

    def verify(self, password, encoded):
        with one_of_the_hashes_at_once():
            return super().verify(password, encoded)
