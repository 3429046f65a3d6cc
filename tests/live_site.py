"""A real JENCO server in its own process, on a SQLite file, for the concurrency tests.

pytest-django's `live_server` cannot show what concurrent requests do to SQLite here: the test
database is in memory, and for an in-memory database the live server hands every request
thread the test's one connection (pytest_django/live_server_helper.py, `connections_override`),
so concurrent requests share one transaction and SQLite's write lock is never contended. This
server runs `manage.py runserver` (threaded: one thread and one connection per request) with
the test settings on a database file, as a one-machine deployment does.

With `database_url` and `redis_url` (tests/test_production_stack.py) it is an app server of a
deployment on PostgreSQL and Redis, and with `server="gunicorn"` it runs the production app
server with deploy/gunicorn.conf.py instead of runserver.
"""

import email
import http.client
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlparse

from tools import runserver

ROOT = Path(__file__).resolve().parent.parent
FORM = "application/x-www-form-urlencoded"


class LiveSite:
    def __init__(
        self,
        folder: Path,
        name: str = "server",
        *,
        database_url: str | None = None,
        redis_url: str | None = None,
        server: str = "runserver",
    ):
        # Another LiveSite on the same folder, with another name, is a second app server of
        # the same deployment: the same database and mailbox, its own port and log.
        self.folder = folder
        self.db = folder / "db.sqlite3"
        self.database_url = database_url or f"sqlite:///{self.db}"
        self.mail = folder / "mail"
        self.log = folder / f"{name}.log"
        self.port = runserver.free_port()
        self.server = server
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "REDIS_URL"},
            **({"REDIS_URL": redis_url} if redis_url else {}),
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DEBUG": "0",
            "DATABASE_URL": self.database_url,
            "ALLOWED_HOSTS": "127.0.0.1",
            "EMAIL_BACKEND": "accounts.mail.FileBackend",
            "EMAIL_FILE_PATH": str(self.mail),
            # These tests ask for many links from one address on purpose.
            "JENCO_RESET_EMAILS_PER_HOUR": "1000",
            "JENCO_FORGOT_PER_ADDRESS": "1000",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        self.process: subprocess.Popen | None = None

    # --- Running Django in other processes ----------------------------------------------

    def manage(self, *args: str, timeout: int = 120) -> str:
        result = runserver.manage(self.env, *args, timeout=timeout)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def shell(self, code: str, timeout: int = 120) -> str:
        return self.manage("shell", "--no-imports", "-c", code, timeout=timeout)

    def manage_in_background(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def start(self, migrate: bool = True) -> None:
        self.mail.mkdir(parents=True, exist_ok=True)
        if migrate:
            self.manage("migrate", "--verbosity", "0")
        if self.server == "gunicorn":
            self.process = self._start_gunicorn(timeout=30)
        else:
            self.process = runserver.start(self.port, self.env, self.log, timeout=30)

    def _start_gunicorn(self, timeout: float) -> subprocess.Popen:
        env = {
            **self.env,
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "GUNICORN_WORKERS": self.env.get("GUNICORN_WORKERS", "2"),
            "GUNICORN_THREADS": self.env.get("GUNICORN_THREADS", "2"),
        }
        with self.log.open("a") as log:
            return runserver.start_command(
                runserver.GUNICORN,
                self.port,
                env,
                log,
                subprocess.STDOUT,
                self.log,
                timeout=timeout,
            )

    def stop(self) -> None:
        runserver.stop(self.process)

    # --- Reading its database and mailbox ------------------------------------------------

    def query(self, sql: str, *params) -> list[tuple]:
        if self.database_url.startswith("postgres"):
            return postgres_query(self.database_url, sql, *params)
        with sqlite3.connect(self.db, timeout=20) as db:
            return db.execute(sql, params).fetchall()

    def member(self, member_id: str) -> dict:
        columns = ["password", "pin", "sub_password", "email", "last_login", "pin_locked_until"]
        row = self.query(
            f"SELECT {', '.join(columns)} FROM accounts_member WHERE member_id = ?", member_id
        )
        assert row, f"{member_id} is not in the database"
        return dict(zip(columns, row[0], strict=True))

    def captcha_answer(self, key: str) -> str:
        rows = self.query("SELECT response FROM captcha_captchastore WHERE hashkey = ?", key)
        assert rows, f"captcha {key} is not in the store"
        return rows[0][0]

    def mails_to(self, address: str) -> list[str]:
        """The text of every mail sent to `address`, oldest first."""
        texts = []
        for path in sorted(self.mail.glob("*.log")):  # accounts.mail.FileBackend: by time
            for raw in re.split(rb"\n-{70,}\n", path.read_bytes()):
                message = email.message_from_bytes(raw.strip())
                if address not in (message.get("To") or ""):
                    continue
                for part in message.walk():
                    if part.get_content_type() == "text/plain":
                        texts.append(part.get_payload(decode=True).decode())
        return texts

    def log_mark(self) -> int:
        return self.log.stat().st_size

    def server_log(self, since: int = 0) -> str:
        with self.log.open("rb") as log:
            log.seek(since)
            return log.read().decode(errors="replace")


def postgres_query(database_url: str, sql: str, *params) -> list[tuple]:
    """`sql` with `?` placeholders, through psql (the tests' own process stays off the database)."""
    for param in params:
        literal = "NULL" if param is None else "'" + str(param).replace("'", "''") + "'"
        sql = sql.replace("?", literal, 1)
    url = urlparse(database_url)
    psql = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"
    result = subprocess.run(
        [psql, "-h", url.hostname, "-p", str(url.port), "-U", url.username, "-d", url.path[1:]]
        + ["-X", "-q", "-tA", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return [tuple(line.split("\t")) for line in result.stdout.splitlines() if line]


@dataclass
class Page:
    status: int
    location: str
    body: str
    started: float
    finished: float


class Inputs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        # As a browser submits a form: a disabled input is not sent.
        if tag == "input" and attrs.get("name") and "disabled" not in attrs:
            self.values.setdefault(attrs["name"], attrs.get("value") or "")


class Browser:
    """One person's browser: its own cookies and connections; never follows redirects."""

    def __init__(self, site: LiveSite):
        # `site` may be anything with a port and captcha_answer(); with an `https` attribute
        # (an ssl.SSLContext) it is spoken to over TLS (tests/test_serve.py, through nginx).
        self.site = site
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, data: dict | None = None, barrier=None) -> Page:
        context = getattr(self.site, "https", None)
        if context is not None:
            connection = http.client.HTTPSConnection(
                "127.0.0.1", self.site.port, timeout=60, context=context
            )
        else:
            connection = http.client.HTTPConnection("127.0.0.1", self.site.port, timeout=60)
        connection.connect()
        headers = {"User-Agent": "jenco-concurrency-test"}
        if method == "POST":  # as a browser sends it with a form (over HTTPS Django checks it)
            scheme = "https" if context is not None else "http"
            headers["Origin"] = f"{scheme}://127.0.0.1:{self.site.port}"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if data is not None:
            body = urlencode(data)
            headers["Content-Type"] = FORM
        if barrier is not None:
            barrier.wait(timeout=30)  # connected already: only the request itself is left
        started = time.monotonic()
        connection.request(method, path, body, headers)
        response = connection.getresponse()
        page = Page(
            response.status,
            response.getheader("Location") or "",
            response.read().decode(errors="replace"),
            started,
            time.monotonic(),
        )
        for header in response.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                if morsel["max-age"] == "0":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        connection.close()
        return page

    def get(self, path: str) -> Page:
        return self.request("GET", path)

    def form(self, path: str) -> dict:
        """Open a form page: its hidden fields, with the captcha answered as a member would."""
        page = self.get(path)
        assert page.status == 200, f"GET {path}: {page.status}"
        inputs = Inputs()
        inputs.feed(page.body)
        fields = {"csrfmiddlewaretoken": inputs.values["csrfmiddlewaretoken"]}
        if "captcha_0" in inputs.values:
            key = inputs.values["captcha_0"]
            fields |= {"captcha_0": key, "captcha_1": self.site.captcha_answer(key)}
        return fields

    def sign_in(self, member_id: str, password: str) -> Page:
        data = {**self.form("/login/"), "username": member_id, "password": password}
        return self.request("POST", "/login/", data)
