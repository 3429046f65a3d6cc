"""JENCO under load on gunicorn, beside django-allauth, and a migration day.

JENCO runs as in production (gunicorn with deploy/gunicorn.conf.py, DEBUG=0, the real
MemberArgon2Hasher, the django-tasks-db queue and its worker, mail to files) on a temporary
SQLite database with one app server; `--postgres` runs it on the PostgreSQL and Redis that
DATABASE_URL and REDIS_URL name instead (a throwaway database: it is migrated and filled).
django-allauth is built in its own virtualenv under bench/.allauth/ (git-ignored) with the
same Django, the same Argon2id parameters and the same gunicorn settings. locust, headless,
drives both for a fixed time; everything listens on 127.0.0.1 and stops by itself.
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    PASSWORD,
    PROJECT,
    Server,
    free_port,
    keep,
    locust,
    production_env,
    record,
    value,
    wait_for,
)

HERE = Path(__file__).resolve().parent
LOCUSTFILE = HERE / "locustfile.py"
ALLAUTH = HERE / ".allauth"
USERS, MEMBERS = 8, 200
SECONDS = int(os.environ.get("BENCH_SECONDS", "20"))
WORKERS = "2"  # sync workers, one thread each: the same for JENCO and allauth


def rps(stats: dict, name: str) -> float:
    return float(stats[name]["Requests/s"]) if name in stats else 0.0


def failures(stats: dict) -> int:
    return int(stats["Aggregated"]["Failure Count"]) if "Aggregated" in stats else -1


def manage(env: dict, *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=PROJECT, env=env, check=True)


def seed_jenco(env: dict, journeys: int, tmp: Path) -> None:
    """MEMBERS members on their own password (one hash, shared: verifying costs the same),
    and `journeys` JA members imported with the importer, on the published defaults."""
    script = (
        "from django.contrib.auth.hashers import make_password\n"
        "from accounts.models import Member\n"
        f"h = make_password({PASSWORD!r})\n"
        f"Member.objects.bulk_create([Member(member_id=f'JPN1{{n:06d}}', password=h)"
        f" for n in range({MEMBERS})])\n"
    )
    manage(env, "shell", "--no-imports", "-c", script)
    export = tmp / "ja.csv"
    with export.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["member_id", "name", "email", "id_document_number", "preferred_language"])
        for n in range(journeys):
            writer.writerow([f"JPN4{n:06d}", f"会員 {n}", f"member{n}@example.com", "", "ja"])
    subprocess.run(
        [sys.executable, "manage.py", "import_ja_members", str(export)],
        cwd=PROJECT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def gunicorn(
    env: dict,
    port: int,
    log: Path,
    cwd: Path = PROJECT,
    python: str = sys.executable,
    config: Path = PROJECT / "deploy" / "gunicorn.conf.py",
    app: str | None = None,
):
    argv = [python, "-m", "gunicorn", "-c", str(config)] + ([app] if app else [])
    env = env | {
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": WORKERS,
        "GUNICORN_THREADS": "1",
    }
    return Server(argv, env, cwd, log)


def measure_sign_ins(server, host: str, user_class: str, csv_prefix: Path, env: dict):
    before = server.cpu()
    stats = locust(LOCUSTFILE, user_class, host, USERS, SECONDS, csv_prefix, env)
    cpu = server.cpu() - before
    done = int(stats["sign-in"]["Request Count"]) - int(stats["sign-in"]["Failure Count"])
    return stats, done, cpu


# --- django-allauth, built on demand ---------------------------------------------------------

ALLAUTH_SETTINGS = """
from pathlib import Path
from django.contrib.auth.hashers import Argon2PasswordHasher

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "bench-only-not-a-secret-" + "x" * 40
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
    "django.contrib.messages", "allauth", "allauth.account",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]
ROOT_URLCONF = "site_urls"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
              "OPTIONS": {"context_processors": ["django.template.context_processors.request",
                                                 "django.contrib.auth.context_processors.auth",
                                                 "django.contrib.messages.context_processors.messages"]}}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3",
                         "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                                     "transaction_mode": "IMMEDIATE", "timeout": 20}}}
AUTHENTICATION_BACKENDS = ["allauth.account.auth_backends.AuthenticationBackend"]


class BenchArgon2(Argon2PasswordHasher):  # JENCO's MemberArgon2Hasher's parameters
    time_cost, memory_cost, parallelism = 2, 19 * 1024, 1


PASSWORD_HASHERS = ["site_settings.BenchArgon2"]
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
# Addresses from X-Forwarded-For, as JENCO's bench reads them. allauth limits sign-ins to 30
# a minute per address: each load user signs in faster than that; the check still runs.
ALLAUTH_TRUSTED_PROXY_COUNT = 1
ACCOUNT_RATE_LIMITS = {"login": "100000/m/ip"}
LOGIN_REDIRECT_URL = "/"
USE_TZ = True
"""

ALLAUTH_URLS = """
from django.http import HttpResponse
from django.urls import include, path

urlpatterns = [
    path("accounts/", include("allauth.urls")),
    path("", lambda request: HttpResponse("home")),
    path("healthz", lambda request: HttpResponse("ok")),
]
"""


def build_allauth() -> Path:
    """bench/.allauth/: a virtualenv with django-allauth, Django 6.1 and gunicorn from PyPI,
    and a minimal project. Built once; `rm -rf bench/.allauth` rebuilds it."""
    venv = ALLAUTH / "venv"
    python = venv / "bin" / "python"
    if not (venv / ".installed").exists():
        print("building django-allauth's virtualenv in bench/.allauth/ (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "Django>=6.1,<6.2",
                "django-allauth",
                "gunicorn",
                "argon2-cffi",
            ],
            check=True,
        )
        (venv / ".installed").touch()
    (ALLAUTH / "site_settings.py").write_text(ALLAUTH_SETTINGS)
    (ALLAUTH / "site_urls.py").write_text(ALLAUTH_URLS)
    (ALLAUTH / "gunicorn.conf.py").write_text(
        "import os\n"
        "wsgi_app = 'django.core.wsgi:get_wsgi_application()'\n"
        "bind = [os.environ['GUNICORN_BIND']]\n"
        "workers = int(os.environ['GUNICORN_WORKERS'])\n"
        "threads = int(os.environ['GUNICORN_THREADS'])\n"
        "accesslog = '-'\n"
        "control_socket_disable = True\n"
    )
    return python


def allauth_env() -> dict:
    return os.environ | {"DJANGO_SETTINGS_MODULE": "site_settings", "PYTHONPATH": str(ALLAUTH)}


def run_allauth(tmp: Path) -> tuple[float, float]:
    python = build_allauth()
    env = allauth_env()
    (ALLAUTH / "db.sqlite3").unlink(missing_ok=True)
    django_admin = [str(python), "-m", "django"]
    subprocess.run([*django_admin, "migrate", "--verbosity", "0"], cwd=ALLAUTH, env=env, check=True)
    subprocess.run(
        [
            *django_admin,
            "shell",
            "--no-imports",
            "-c",
            "from django.contrib.auth.hashers import make_password\n"
            "from django.contrib.auth.models import User\n"
            f"h = make_password({PASSWORD!r})\n"
            f"User.objects.bulk_create([User(username=f'user{{n}}', password=h) for n in range({MEMBERS})])\n",
        ],
        cwd=ALLAUTH,
        env=env,
        check=True,
    )
    port = free_port()
    with Server(
        [str(python), "-m", "gunicorn", "-c", str(ALLAUTH / "gunicorn.conf.py")],
        env
        | {
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_WORKERS": WORKERS,
            "GUNICORN_THREADS": "1",
        },
        ALLAUTH,
        tmp / "allauth.log",
    ) as server:
        wait_for(f"http://127.0.0.1:{port}/healthz")
        stats, done, cpu = measure_sign_ins(
            server, f"http://127.0.0.1:{port}", "AllauthSignIn", tmp / "allauth", os.environ
        )
    if failures(stats):
        print(f"allauth: {failures(stats)} failed requests (see {tmp / 'allauth.log'})")
    return done / SECONDS, cpu / max(done, 1) * 1000


# --- the run ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="use DATABASE_URL and REDIS_URL from the environment",
    )
    parser.add_argument("--journeys", type=int, default=2000)
    parser.add_argument("--migration-users", type=int, default=200)
    options = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="jenco-bench-load-"))
    maildir = tmp / "mail"
    maildir.mkdir()
    if options.postgres:
        if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
            sys.exit("--postgres needs DATABASE_URL (postgres://...) and REDIS_URL")
        database_url = os.environ["DATABASE_URL"]
    else:
        database_url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    env = production_env(
        database_url,
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(maildir),
    )
    manage(env, "migrate", "--verbosity", "0")
    seed_jenco(env, options.journeys, tmp)
    locust_env = os.environ | {
        "BENCH_SQLITE": str(tmp / "bench.sqlite3"),
        "BENCH_MEMBERS": str(MEMBERS),
    }
    argon2_ms = value("argon2_ms")
    label = "PostgreSQL + Redis" if options.postgres else "SQLite"
    print(
        f"gunicorn, {WORKERS} sync workers, {label}; locust headless, {USERS} users, "
        f"{SECONDS} s a run",
        flush=True,
    )

    port = free_port()
    host = f"http://127.0.0.1:{port}"
    with gunicorn(env, port, tmp / "jenco.log") as server:
        wait_for(f"{host}/healthz")
        locust(LOCUSTFILE, "JencoSignIn", host, USERS, 3, tmp / "warm", locust_env)
        stats, done, cpu = measure_sign_ins(server, host, "JencoSignIn", tmp / "jenco", locust_env)
        jenco_rate, jenco_cpu = done / SECONDS, cpu / max(done, 1) * 1000
        print(
            f"JENCO: {jenco_rate:.1f} sign-ins/s, {jenco_cpu:.1f} ms server CPU each, "
            f"{failures(stats)} failed requests",
            flush=True,
        )

        pages = {}
        for user_class, name in (("Healthz", "GET /healthz"), ("LoginPage", "GET /login/")):
            before = server.cpu()
            stats = locust(
                LOCUSTFILE, user_class, host, USERS, SECONDS // 2, tmp / user_class, locust_env
            )
            count = int(stats[name]["Request Count"])
            pages[name] = (rps(stats, name), (server.cpu() - before) / max(count, 1) * 1000)
            print(
                f"{name}: {pages[name][0]:.0f}/s, {pages[name][1]:.2f} ms server CPU each",
                flush=True,
            )

    allauth_rate, allauth_cpu = run_allauth(tmp)
    print(
        f"django-allauth: {allauth_rate:.1f} sign-ins/s, {allauth_cpu:.1f} ms server CPU each",
        flush=True,
    )

    if argon2_ms:
        ratio = jenco_cpu / argon2_ms
        record(
            "server CPU per sign-in (GET + POST) / one Argon2",
            f"{jenco_cpu:.1f} ms / {argon2_ms:.1f} ms = {ratio:.2f}x",
            "<= 1.4x",
            ratio <= 1.4,
        )
    record(
        "sign-ins/s, JENCO / django-allauth",
        f"{jenco_rate:.1f} / {allauth_rate:.1f} = {jenco_rate / max(allauth_rate, 0.01):.2f}x",
        ">= 1.2x",
        jenco_rate >= 1.2 * allauth_rate,
    )
    record("  (allauth: server CPU per sign-in)", f"{allauth_cpu:.1f} ms", "", None)
    login, health = pages["GET /login/"], pages["GET /healthz"]
    record(
        "GET /login/ rps / GET /healthz rps",
        f"{login[0]:.0f} / {health[0]:.0f} = {login[0] / max(health[0], 0.01):.2f}x",
        ">= 0.5x",
        login[0] >= 0.5 * health[0],
    )
    record(
        "  (server CPU: GET /login/, GET /healthz)",
        f"{login[1]:.2f} ms, {health[1]:.2f} ms",
        "",
        None,
    )

    migration_day(env, locust_env, tmp, maildir, options, argon2_ms)


def migration_day(env, locust_env, tmp, maildir, options, argon2_ms) -> None:
    port = free_port()
    host = f"http://127.0.0.1:{port}"
    result = tmp / "journeys.json"
    locust_env = locust_env | {
        "BENCH_MAILDIR": str(maildir),
        "BENCH_JOURNEYS": str(options.journeys),
        "BENCH_RESULT": str(result),
    }
    worker = Server([sys.executable, "manage.py", "db_worker"], env, PROJECT, tmp / "worker.log")
    with gunicorn(env, port, tmp / "jenco-migration.log"), worker:
        wait_for(f"{host}/healthz")
        started = time.perf_counter()
        stats = locust(
            LOCUSTFILE,
            "MigrationDay",
            host,
            options.migration_users,
            600,
            tmp / "migration",
            locust_env,
        )
        wall = time.perf_counter() - started
    outcome = json.loads(result.read_text()) if result.exists() else {"done": 0, "failed": -1}
    span = (outcome["last"] - outcome["first"]) if outcome.get("first") else wall
    rate = outcome["done"] / max(span, 0.001)
    errors = failures(stats)
    print(
        f"\nmigration day: {outcome['done']} journeys in {span:.0f} s ({rate:.1f}/s), "
        f"{outcome['failed']} failed journeys, {errors} failed requests, "
        f"{options.migration_users} users"
    )
    print(f"{'step':<40}{'p50':>8}{'p99':>8}{'count':>8}")
    for name, row in sorted(stats.items()):
        if name != "Aggregated":
            print(f"{name:<40}{row['50%']:>6}ms{row['99%']:>6}ms{row['Request Count']:>8}")
    record(
        "migration day: journeys, errors",
        f"{outcome['done']} of {options.journeys}, {errors} failed requests",
        "all, zero errors",
        outcome["done"] == options.journeys and errors == 0,
    )
    hashes = value("journey_hashes")
    if argon2_ms and hashes:
        limit = (os.cpu_count() or 1) / (hashes * argon2_ms / 1000)
        record(
            "migration day: journeys/s / hash-bound limit",
            f"{rate:.1f} / {limit:.1f} = {rate / limit:.2f}",
            f"(limit: {os.cpu_count()} cores / {hashes} x Argon2)",
            None,
        )
    keep("journeys_per_second", rate)


if __name__ == "__main__":
    main()
