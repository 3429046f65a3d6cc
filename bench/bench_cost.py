"""What one sign-in post costs the server's CPU, by outcome, and what one Argon2 costs.

Whole requests through Django's test client (every middleware, the real captcha store, the
lockout, the security log) with production settings (DEBUG=0, MemberArgon2Hasher, the
django-tasks-db queue) on a temporary SQLite database, in this one process, so the CPU time
is the request's own. Figures for run.py:
- one Argon2 verification at the configured parameters (the unit of the other figures);
- a wrong password, an unknown ID and a default password: CPU per post, within 5 %;
- the hash work of one migration-day journey (how many Argon2 runs it makes).
"""

import io
import logging
import multiprocessing
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PASSWORD, PROJECT, keep, production_env, record  # noqa: E402

RUNS = 25
POSTS = 100  # rounds of the three posts: Argon2's own spread (a few %) averages out


def verifications(runs: int) -> list[float]:
    """CPU seconds of `runs` verifications at the production parameters, one by one."""
    from accounts.hashers import MemberArgon2Hasher

    hasher = MemberArgon2Hasher()
    encoded = hasher.encode(PASSWORD, hasher.salt())
    times = []
    for _ in range(runs):
        start = time.process_time()
        hasher.verify(PASSWORD, encoded)
        times.append(time.process_time() - start)
    return times


def main() -> None:
    tmp = tempfile.TemporaryDirectory(prefix="jenco-bench-")
    os.environ.update(
        production_env(
            f"sqlite:///{Path(tmp.name) / 'bench.sqlite3'}",
            EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        )
    )
    sys.path.insert(0, str(PROJECT))
    import django

    django.setup()
    from captcha.models import CaptchaStore
    from django.conf import settings
    from django.contrib.auth.hashers import Argon2PasswordHasher
    from django.core import mail
    from django.core.management import call_command
    from django.test import Client

    from accounts.flows import mailbox
    from accounts.hashers import MemberArgon2Hasher
    from accounts.ja_accounts import ja_member
    from accounts.models import MailboxCode, Member

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # the pages' manifest names
    quotes = PROJECT / "deploy" / "samples" / "quotes.csv"
    call_command("load_quotes", str(quotes), stdout=io.StringIO())  # every page's ticker
    mail.outbox = []
    for name in ("jenco", "axes", "django.tasks"):  # a line per sign-in is noise here
        logging.getLogger(name).setLevel(logging.WARNING)

    hasher = MemberArgon2Hasher()
    encoded = hasher.encode(PASSWORD, hasher.salt())
    argon2_ms = statistics.median(verifications(RUNS)) * 1000
    # What a verification costs while every core verifies at once, as the app server's
    # workers do under load: each 19 MiB pass then shares the memory bus and the cache.
    cores = os.cpu_count() or 1
    with multiprocessing.get_context("fork").Pool(cores) as pool:
        loaded = [t for ts in pool.map(verifications, [RUNS] * cores) for t in ts]
    loaded_ms = statistics.median(loaded) * 1000
    keep("argon2_ms", loaded_ms)
    keep("argon2_alone_ms", argon2_ms)
    print(
        f"one Argon2id verification (t={hasher.time_cost}, m={hasher.memory_cost // 1024} MiB, "
        f"p={hasher.parallelism}), CPU, median of {RUNS}: {argon2_ms:.1f} ms alone, "
        f"{loaded_ms:.1f} ms with all {cores} cores verifying"
    )
    record(
        "one Argon2id verification (t=2, m=19 MiB, p=1)",
        f"{argon2_ms:.1f} ms alone, {loaded_ms:.1f} ms on all {cores} cores at once",
        "(the unit: the second)",
        None,
    )

    # Distinct IDs and addresses, so no post meets a lockout (which would cost no hash).
    Member.objects.bulk_create(
        [Member(member_id=f"JPN10{n:05d}", password=encoded) for n in range(POSTS + 1)]
    )
    Member.objects.bulk_create([ja_member(f"JPN20{n:05d}") for n in range(POSTS + 1)])
    client = Client()

    def post(username: str, password: str, n: int) -> float:
        client.cookies.clear()
        key = CaptchaStore.generate_key()
        answer = CaptchaStore.objects.get(hashkey=key).response
        data = {"username": username, "password": password, "captcha_0": key, "captcha_1": answer}
        start = time.process_time()
        client.post("/login/", data, headers={"x-forwarded-for": f"10.9.{n // 250}.{n % 250}"})
        return time.process_time() - start

    default = settings.JENCO_DEFAULT_PASSWORDS[0]
    kinds = {
        "wrong password": lambda n: post(f"JPN10{n:05d}", "not-the-password", n),
        "unknown ID": lambda n: post(f"JPN77{n:05d}", "not-the-password", 1000 + n),
        "default password": lambda n: post(f"JPN20{n:05d}", default, 2000 + n),
    }
    measured: dict[str, list[float]] = {kind: [] for kind in kinds}
    for n in range(POSTS + 1):
        for kind, run in kinds.items():
            ms = run(n) * 1000
            if n:  # the first of each warms caches
                measured[kind].append(ms)
    medians = {kind: statistics.median(ms) for kind, ms in measured.items()}
    print(f"\nsign-in post, server CPU (median of {POSTS}, whole request):")
    for kind, ms in medians.items():
        print(f"  {kind:<18}{ms:>7.1f} ms")
    spread = (max(medians.values()) - min(medians.values())) / min(medians.values())
    record(
        "wrong password / unknown ID / default password, CPU per post",
        " / ".join(f"{ms:.1f}" for ms in medians.values()) + f" ms (spread {spread:.1%})",
        "within 5 %",
        spread <= 0.05,
    )

    # The hash work of one migration-day journey, counted where Django hashes.
    runs = {"n": 0}
    for name in ("encode", "verify"):
        original = getattr(Argon2PasswordHasher, name)

        def counted(self, *args, _original=original, **kwargs):
            runs["n"] += 1
            return _original(self, *args, **kwargs)

        setattr(Argon2PasswordHasher, name, counted)
    member = ja_member("JPN3000001", email="journey@example.com")
    member.save()
    from accounts import credentials

    for spelling in settings.JENCO_DEFAULT_PASSWORDS:  # the per-process hash of the defaults
        credentials._default_hash(spelling)
    runs["n"] = 0
    client.cookies.clear()
    xff = {"x-forwarded-for": "10.8.0.1"}
    key = CaptchaStore.generate_key()
    answer = CaptchaStore.objects.get(hashkey=key).response
    client.post(
        "/login/",
        {"username": "JPN3000001", "password": default, "captcha_0": key, "captcha_1": answer},
        headers=xff,
    )
    mailbox.mail_code(MailboxCode.objects.filter(member=member).latest("created").pk)
    code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body)[1]
    new_password = "Spring-Rain-2026"
    steps = [
        ("/backoffice/first-sign-in/mailbox/", {"code": code}),
        (
            "/backoffice/profile/pin/",
            {"current_pin": settings.JENCO_DEFAULT_PIN, "new_pin1": "482916", "new_pin2": "482916"},
        ),
        (
            "/backoffice/profile/password/",
            {"new_password1": new_password, "new_password2": new_password, "pin": "482916"},
        ),
        ("/logout/", {}),
    ]
    for path, data in steps:
        response = client.post(path, data, headers=xff)
        if response.status_code != 302:
            sys.exit(f"journey step {path} answered {response.status_code}")
    member.refresh_from_db()
    if member.on_default_password or member.on_default_pin:
        sys.exit("the journey did not finish the migration")
    keep("journey_hashes", runs["n"])
    print(
        f"\none migration-day journey runs Argon2 {runs['n']} times "
        f"({runs['n'] * loaded_ms:.0f} ms of hash work)"
    )


if __name__ == "__main__":
    main()
