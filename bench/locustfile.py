"""The load `make bench` puts on a server: locust users, run by bench_load.py.

JENCO's captcha is real: a user reads the answer of the key its page got from the store (the
SQLite file BENCH_SQLITE, or the PostgreSQL database BENCH_DATABASE_URL), as a person reads
the picture.

Two ways in:
- straight to gunicorn over plain HTTP: cookies are sent back although production marks them
  Secure, and each user comes from an address of its own in X-Forwarded-For (the server
  trusts one proxy);
- through `make serve`'s nginx over HTTPS (BENCH_SOURCE_ADDRESSES=1): its self-signed
  certificate is not verified, each user connects from an address of its own on 127.0.0.0/8,
  which nginx passes on as it would a member's, and sends Origin as a browser does.
"""

import email
import itertools
import json
import os
import random
import re
import sqlite3
import time
from pathlib import Path

import gevent
from locust import HttpUser, events, task
from locust.clients import LocustHttpAdapter
from locust.exception import StopUser

DATABASE = os.environ.get("BENCH_SQLITE", "")
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "")
SOURCE_ADDRESSES = os.environ.get("BENCH_SOURCE_ADDRESSES") == "1"
PASSWORD = "plum-Blossom-2026"
MEMBERS = int(os.environ.get("BENCH_MEMBERS", "200"))
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CAPTCHA = re.compile(r'name="captcha_0" value="([0-9a-f]+)"')
addresses = itertools.count(1)


postgres = None
sqlite = None


def captcha_answer(key: str) -> str:
    """One connection for this process's users, opened once: the load generator shares the
    two cores with the servers, and a connection per answer was client work counted against
    JENCO's sign-ins per second (allauth's users read no captcha)."""
    global postgres, sqlite
    query = "SELECT response FROM captcha_captchastore WHERE hashkey = %s"
    if DATABASE_URL:
        import psycopg

        if postgres is None:  # it locks per query
            postgres = psycopg.connect(DATABASE_URL, autocommit=True)
        (answer,) = postgres.execute(query, (key,)).fetchone()
        return answer
    if sqlite is None:  # autocommit: each read sees the rows the server committed since
        sqlite = sqlite3.connect(DATABASE, timeout=30, isolation_level=None)
    (answer,) = sqlite.execute(query.replace("%s", "?"), (key,)).fetchone()
    return answer


class FromAddress(LocustHttpAdapter):
    """Connections from one source address (any 127.x.y.z is this machine's loopback)."""

    def __init__(self, address: str):
        self.address = address
        super().__init__(pool_manager=None)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs, source_address=(self.address, 0))


class Browser(HttpUser):
    abstract = True

    def on_start(self):
        n = next(addresses)
        a, b, c = n // 62500 % 250, n // 250 % 250, n % 250
        if SOURCE_ADDRESSES:
            self.client.mount("https://", FromAddress(f"127.{10 + a}.{b}.{c + 1}"))
            self.client.mount("http://", FromAddress(f"127.{10 + a}.{b}.{c + 1}"))
        else:
            self.client.headers["X-Forwarded-For"] = f"10.{a}.{b}.{c}"
        if self.host.startswith("https://"):
            self.client.verify = False  # make serve's self-signed certificate
            self.client.headers["Origin"] = self.host.rstrip("/")

    def plain_http_cookies(self):
        for cookie in self.client.cookies:
            cookie.secure = False


class JencoSignIn(Browser):
    """GET /login/, then POST it with a member's password; signed out by dropping cookies."""

    @task
    def sign_in(self):
        self.client.cookies.clear()
        page = self.client.get("/login/", name="GET /login/")
        self.plain_http_cookies()
        key = CAPTCHA.search(page.text)[1]
        data = {
            "csrfmiddlewaretoken": CSRF.search(page.text)[1],
            "username": f"JPN1{random.randrange(MEMBERS):06d}",
            "password": PASSWORD,
            "captcha_0": key,
            "captcha_1": captcha_answer(key),
        }
        with self.client.post(
            "/login/", data, name="sign-in", allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code != 302 or response.headers["Location"] != "/backoffice/":
                response.failure(f"not signed in: {response.status_code}")


class AllauthSignIn(Browser):
    """The same with django-allauth's sign-in form (no captcha)."""

    @task
    def sign_in(self):
        self.client.cookies.clear()
        page = self.client.get("/accounts/login/", name="GET /login/")
        data = {
            "csrfmiddlewaretoken": CSRF.search(page.text)[1],
            "login": f"user{random.randrange(MEMBERS)}",
            "password": PASSWORD,
        }
        with self.client.post(
            "/accounts/login/", data, name="sign-in", allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code != 302:
                response.failure(f"not signed in: {response.status_code}")


class LoginPage(Browser):
    @task
    def page(self):
        self.client.cookies.clear()
        self.client.get("/login/", name="GET /login/")


class Healthz(Browser):
    @task
    def healthz(self):
        self.client.get("/healthz", name="GET /healthz")


# --- Migration day --------------------------------------------------------------------------

MAILDIR = Path(os.environ.get("BENCH_MAILDIR", "."))
JOURNEYS = int(os.environ.get("BENCH_JOURNEYS", "0"))
RESULT = os.environ.get("BENCH_RESULT", "")
CODE = re.compile(r"\b(\d{6})\b")
mailbox_codes: dict[str, str] = {}
mail_seen: dict[str, int] = {}
queue = iter(range(JOURNEYS))
journeys = {"done": 0, "failed": 0, "first": None, "last": None}


def read_new_mail():
    """The file backend writes one file per batch: index every new one by recipient."""
    for entry in os.scandir(MAILDIR):
        stat = entry.stat()
        if mail_seen.get(entry.name) == stat.st_size or time.time() - stat.st_mtime < 0.2:
            continue  # read already, or being written; a file can grow by appended messages
        mail_seen[entry.name] = stat.st_size
        text = Path(entry.path).read_text(errors="replace")
        for raw in text.split("-" * 79):
            message = email.message_from_string(raw.strip())
            body = "".join(
                part.get_payload(decode=True).decode("utf-8", "replace")
                for part in message.walk()
                if part.get_content_type() == "text/plain"
            )
            code = CODE.search(body)
            if message["To"] and code:
                mailbox_codes[message["To"].strip()] = code[1]


class MigrationDay(Browser):
    """One imported member each, through the whole first sign-in, then the next one."""

    def step(self, method, path, name, data=None, expect=302):
        started = time.perf_counter()
        call = self.client.post if method == "POST" else self.client.get
        kwargs = {"data": data} if data is not None else {}
        with call(path, name=name, allow_redirects=False, catch_response=True, **kwargs) as r:
            if r.status_code != expect:
                r.failure(f"{r.status_code} at {name}")
                raise RuntimeError(name)
        self.plain_http_cookies()
        return r, time.perf_counter() - started

    def csrf(self, path, name):
        page, _ = self.step("GET", path, name, expect=200)
        return page, CSRF.search(page.text)[1]

    @task
    def journey(self):
        n = next(queue, None)
        if n is None:
            raise StopUser  # every member has been given to a user
        journeys["first"] = journeys["first"] or time.time()
        began = time.perf_counter()
        self.client.cookies.clear()
        member_id, email = f"JPN4{n:06d}", f"member{n}@example.com"
        try:
            page, token = self.csrf("/login/", "1 GET /login/")
            key = CAPTCHA.search(page.text)[1]
            self.step(
                "POST",
                "/login/",
                "1 POST /login/ (default password)",
                {
                    "csrfmiddlewaretoken": token,
                    "username": member_id,
                    "password": "jenco@12345",
                    "captcha_0": key,
                    "captcha_1": captcha_answer(key),
                },
            )
            _, token = self.csrf("/backoffice/first-sign-in/mailbox/", "2 GET mailbox step")
            started = time.perf_counter()
            while email not in mailbox_codes:
                if time.perf_counter() - started > 60:
                    raise RuntimeError("no mailbox code within 60 s")
                time.sleep(0.2)
                read_new_mail()
            events.request.fire(
                request_type="MAIL",
                name="2 code arrives by mail",
                response_time=(time.perf_counter() - started) * 1000,
                response_length=0,
                exception=None,
                context={},
            )
            self.step(
                "POST",
                "/backoffice/first-sign-in/mailbox/",
                "2 POST mailbox code",
                {"csrfmiddlewaretoken": token, "code": mailbox_codes[email]},
            )
            _, token = self.csrf("/backoffice/profile/pin/", "3 GET PIN step")
            self.step(
                "POST",
                "/backoffice/profile/pin/",
                "3 POST new PIN",
                {
                    "csrfmiddlewaretoken": token,
                    "current_pin": "123123",
                    "new_pin1": "482916",
                    "new_pin2": "482916",
                },
            )
            _, token = self.csrf("/backoffice/profile/password/", "4 GET password step")
            self.step(
                "POST",
                "/backoffice/profile/password/",
                "4 POST new password",
                {
                    "csrfmiddlewaretoken": token,
                    "new_password1": "Spring-Rain-2026",
                    "new_password2": "Spring-Rain-2026",
                    "pin": "482916",
                },
            )
            _, token = self.csrf("/backoffice/", "5 GET dashboard")
            self.step("POST", "/logout/", "5 POST sign out", {"csrfmiddlewaretoken": token})
            journeys["done"] += 1
            events.request.fire(
                request_type="JOURNEY",
                name="6 whole journey",
                response_time=(time.perf_counter() - began) * 1000,
                response_length=0,
                exception=None,
                context={},
            )
        except RuntimeError:
            journeys["failed"] += 1
        journeys["last"] = time.time()
        if journeys["done"] + journeys["failed"] == JOURNEYS:
            # From a greenlet of its own: quit() stops every user, this one included.
            gevent.spawn(self.environment.runner.quit)


@events.quitting.add_listener
def _write_result(environment, **kwargs):
    if RESULT:
        Path(RESULT).write_text(json.dumps(journeys))


@events.quit.add_listener
def _write_stats(exit_code, **kwargs):
    """The final figures, once every user has stopped (the CSV locust writes is its last
    periodic snapshot, up to a second short), in the CSV's column names."""
    path = os.environ.get("BENCH_STATS")
    runner = locust_environment["runner"]
    if not path or runner is None:
        return
    stats = {}
    for entry in [*runner.stats.entries.values(), runner.stats.total]:
        stats[entry.name] = {
            "Request Count": entry.num_requests,
            "Failure Count": entry.num_failures,
            "Requests/s": entry.total_rps,
            "50%": entry.get_response_time_percentile(0.5),
            "99%": entry.get_response_time_percentile(0.99),
        }
    Path(path).write_text(json.dumps(stats))


locust_environment = {"runner": None}


@events.init.add_listener
def _keep_runner(environment, **kwargs):
    locust_environment["runner"] = environment.runner
