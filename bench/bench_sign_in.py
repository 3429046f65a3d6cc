"""What one sign-in costs with the production hasher, and what other Argon2 settings would.

Production settings (jenco.settings, DEBUG=1 so no SECRET_KEY or HTTPS is needed) on a
temporary SQLite database. Sign-ins go through our authentication backend, database lookup
included; the Argon2 rows time one verification of a hash made with each setting.
"""

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
RUNS = 25
PASSWORD = "plum-Blossom-2026"


def medians_ms(calls: dict[str, Callable[[], object]], runs: int = RUNS) -> dict[str, float]:
    """The median time of each call, taken in turns so a slow moment hits every call alike."""
    for call in calls.values():
        call()  # warm up: the process's hash of the published default, connections, caches
    times: dict[str, list[float]] = {label: [] for label in calls}
    for _ in range(runs):
        for label, call in calls.items():
            start = time.perf_counter()
            call()
            times[label].append(time.perf_counter() - start)
    return {label: statistics.median(t) * 1000 for label, t in times.items()}


def main() -> None:
    tmp = tempfile.TemporaryDirectory(prefix="jenco-bench-")
    os.environ |= {
        "DJANGO_SETTINGS_MODULE": "jenco.settings",
        "DATABASE_URL": f"sqlite:///{Path(tmp.name) / 'bench.sqlite3'}",
        "DEBUG": "1",
        "SECRET_KEY": "bench-only-not-a-secret-" + "x" * 40,
    }
    sys.path.insert(0, str(PROJECT))
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.hashers import Argon2PasswordHasher, get_hasher
    from django.core.management import call_command

    from accounts.backends import MemberBackend
    from accounts.hashers import MemberArgon2Hasher
    from accounts.ja_accounts import ja_member
    from accounts.models import Member

    call_command("migrate", verbosity=0)
    Member.objects.create_user("JPN1000001", password=PASSWORD)
    ja_member("JPN2000001").save()
    default_password = settings.JENCO_DEFAULT_PASSWORDS[0]
    print(f"production hasher: {get_hasher().__class__.__name__}; median of {RUNS} runs")

    backend = MemberBackend()  # ours alone: axes' lockout would stop a benchmark's failures

    def sign_in(member_id, password):
        return lambda: backend.authenticate(None, username=member_id, password=password)

    sign_ins = {
        "member with own password": sign_in("JPN1000001", PASSWORD),
        "  same, wrong password": sign_in("JPN1000001", "wrong-password"),
        "JA member, default password": sign_in("JPN2000001", default_password),
        "unknown member ID": sign_in("JPN7777777", PASSWORD),
    }
    print(f"\n{'authenticate()':<34}{'median':>9}")
    for label, ms in medians_ms(sign_ins).items():
        print(f"{label:<34}{ms:>7.1f}ms", flush=True)

    class Argon2At46MiB(Argon2PasswordHasher):
        time_cost, memory_cost, parallelism = 1, 46 * 1024, 1

    hashers = {
        "Django's default": Argon2PasswordHasher(),
        "ours (MemberArgon2Hasher)": MemberArgon2Hasher(),
        "OWASP alternative": Argon2At46MiB(),
    }
    verifications = {
        label: partial(hasher.verify, PASSWORD, hasher.encode(PASSWORD, hasher.salt()))
        for label, hasher in hashers.items()
    }
    print(f"\n{'Argon2id verification':<28}{'m':>8}{'t':>3}{'p':>3}{'median':>10}{'per s':>8}")
    for label, ms in medians_ms(verifications).items():
        hasher = hashers[label]
        memory = f"{hasher.memory_cost // 1024}MiB"
        print(
            f"{label:<28}{memory:>8}{hasher.time_cost:>3}{hasher.parallelism:>3}"
            f"{ms:>8.1f}ms{1000 / ms:>8.0f}",
            flush=True,
        )
    print("(per s: verifications a second for one process)")
    tmp.cleanup()


if __name__ == "__main__":
    main()
