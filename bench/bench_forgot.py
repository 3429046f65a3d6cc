"""Does a forgot-password request that matches a member answer slower than one that doesn't?

It must not: the time would tell an attacker which member ID + email pairs exist. The lookup
and the email run in a django.tasks task, so with a queueing backend the request does the same
work either way. Measured twice: with the immediate backend (development: the task runs inside
the request, so a match is slower) and with the production queue (django-tasks-db: the request
stores the task; a worker sends the mail later). Whole requests through Django's test client, middleware
included, on a temporary SQLite database.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
RUNS = 60
BACKENDS = {
    "immediate (development)": "django.tasks.backends.immediate.ImmediateBackend",
    "queued (django-tasks-db)": "django_tasks_db.DatabaseBackend",
}


def measure() -> None:
    sys.path.insert(0, str(PROJECT))
    import django

    django.setup()
    from captcha.models import CaptchaStore
    from django.core.management import call_command
    from django.test import Client

    from accounts.models import Member

    call_command("migrate", verbosity=0)
    Member.objects.create_user("JPN1000001", email="taro@example.com", password="x-Y-z-12345")
    client = Client()

    def ask(member_id, email):
        key = CaptchaStore.generate_key()
        answer = CaptchaStore.objects.get(hashkey=key).response
        data = {"username": member_id, "email": email, "captcha_0": key, "captcha_1": answer}
        start = time.perf_counter()
        response = client.post("/password/forgot/", data)
        elapsed = time.perf_counter() - start
        assert response.status_code == 302, response.status_code
        return elapsed

    cases = {
        "matching": ("JPN1000001", "taro@example.com"),
        "not matching": ("JPN7654321", "taro@example.com"),
    }
    for case in cases.values():
        ask(*case)  # warm up
    times = {label: [] for label in cases}
    for _ in range(RUNS):
        for label, case in cases.items():
            times[label].append(ask(*case))
    for label, t in times.items():
        print(f"    {label:<14} median {statistics.median(t) * 1000:6.2f} ms")


def main() -> None:
    if len(sys.argv) > 1:
        measure()
        return
    print(f"POST /password/forgot/, median of {RUNS} requests each")
    for label, backend in BACKENDS.items():
        with tempfile.TemporaryDirectory(prefix="jenco-bench-") as tmp:
            env = os.environ | {
                "DJANGO_SETTINGS_MODULE": "jenco.settings",
                "DATABASE_URL": f"sqlite:///{Path(tmp) / 'bench.sqlite3'}",
                "DEBUG": "1",
                "SECRET_KEY": "bench-only-not-a-secret-" + "x" * 40,
                "TASKS_BACKEND": backend,
                "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
                "JENCO_FORGOT_PER_ADDRESS": "100000",
                "JENCO_RESET_EMAILS_PER_HOUR": "100000",
                "LOG_LEVEL": "WARNING",
                "ALLOWED_HOSTS": "testserver",
            }
            print(f"  tasks backend: {label}", flush=True)
            subprocess.run([sys.executable, __file__, "measure"], env=env, check=True)


if __name__ == "__main__":
    main()
