"""Issue 13: `make serve` runs the files in deploy/ production-like, and stops them all.

tools/serve.py (what `make serve` runs) with a folder of its own: a private PostgreSQL and
Redis, two gunicorn app servers from deploy/jenco-web@.service, the worker from
deploy/jenco-worker.service and nginx with deploy/nginx/jenco.conf, over HTTPS with a
self-signed certificate. The demo member signs in through nginx, the worker mails the mailbox
code, both app servers answer, and `make serve-stop` (tools/serve.py stop) leaves nothing.
"""

import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.live_site import ROOT, Browser, LiveSite, postgres_query
from tools import runserver
from tools.services import pg_bin

MAILBOX = "/backoffice/first-sign-in/mailbox/"


class Served:
    """What Browser needs of the served site: its port, TLS, and the captcha store."""

    mails_to = LiveSite.mails_to

    def __init__(self, port: int, cert: Path, database_url: str, mail: Path):
        self.port = port
        self.https = ssl.create_default_context(cafile=str(cert))  # verified: our own CA
        self.database_url = database_url
        self.mail = mail

    def captcha_answer(self, key: str) -> str:
        rows = postgres_query(
            self.database_url, "SELECT response FROM captcha_captchastore WHERE hashkey = ?", key
        )
        assert rows, f"captcha {key} is not in the store"
        return rows[0][0]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text()[-60:]


@pytest.fixture
def served():
    if not (pg_bin() / "initdb").exists():
        pytest.skip("PostgreSQL is not installed (`make services` installs it)")
    # In the checkout's git-ignored var/: PostgreSQL runs as `postgres`, who cannot enter
    # pytest's private temporary folders.
    var = ROOT / "var" / f"test-serve-{secrets.token_hex(4)}"
    port = runserver.free_port()
    # The app servers as make serve sizes them, whatever the shell running the tests says.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUNICORN_")}
    process = subprocess.Popen(
        [sys.executable, "tools/serve.py", "--var", str(var), "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    printed = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        printed.append(line)
        if line.startswith("Ctrl-C"):
            break
    output = "".join(printed)
    try:
        assert f"JENCO is running at https://127.0.0.1:{port}/" in output, output
        assert f"to try passkeys, open https://localhost:{port}/" in output
        yield process, var, port, output
    finally:
        subprocess.run([sys.executable, "tools/serve.py", "stop", "--var", str(var)], cwd=ROOT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
        finally:
            shutil.rmtree(var, ignore_errors=True)


def test_make_serve_signs_the_demo_member_in_over_https_and_stops_cleanly(served):
    process, var, port, output = served
    assert "Demo member" in output and "JPN1234567" in output and "jenco@12345" in output
    assert f"{var / 'mail'}" in output  # where the mail goes, said plainly
    state = json.loads((var / "serve" / "state.json").read_text())
    env = dict(line.split("=", 1) for line in (var / "services" / "env").read_text().splitlines())
    site = Served(port, var / "serve" / "tls" / "cert.pem", env["DATABASE_URL"], var / "mail")

    # The address printed for passkeys serves the site too (the certificate names it).
    with urllib.request.urlopen(f"https://localhost:{port}/login/", context=site.https) as page:
        assert page.status == 200 and 'name="captcha_0"' in page.read().decode()

    browser = Browser(site)
    # The sample quotes are loaded, as make run loads them: the ticker shows.
    assert 'class="ticker"' in browser.get("/login/").body
    page = browser.sign_in("JPN1234567", "jenco@12345")
    assert (page.status, page.location) == (302, "/backoffice/")
    assert browser.get("/backoffice/").location == MAILBOX
    # The worker (deploy/jenco-worker.service) sends the code: into var/mail here.
    for _ in range(100):
        mails = site.mails_to("hanako@example.com")
        if mails:
            break
        time.sleep(0.2)
    assert mails and re.search(r"^\s+\d{6}$", mails[-1], re.M), mails

    # nginx takes turns between the two app servers: each answered the signed-in page, as
    # nginx's access log says (the app servers keep none of their own behind it).
    for _ in range(4):
        page = browser.get(MAILBOX)
        assert page.status == 200
    # Their logs are named by position, not by this run's ports, so runs do not pile them up.
    web_logs = sorted((var / "serve" / "logs").glob("web*.log"))
    assert [log.name for log in web_logs] == ["web-1.log", "web-2.log"]
    ports = [name.removeprefix("web@") for name in state["processes"] if name.startswith("web@")]
    nginx_log = (var / "serve" / "logs" / "jenco.access.log").read_text().splitlines()
    answered = {line.split()[-2] for line in nginx_log if f'GET {MAILBOX} HTTP/1.1" 200 ' in line}
    assert answered == {f"127.0.0.1:{port}" for port in ports} and len(ports) == 2
    # In Japan time, as the app servers' and the worker's lines are (TIME_ZONE).
    assert nginx_log and all(
        re.search(r"\[\d\d/\w{3}/\d{4}(:\d\d){3} \+0900\]", line) for line in nginx_log
    )
    for log in web_logs:
        assert MAILBOX not in log.read_text()
    # Each app server runs one worker process per core of its share of the machine (both
    # app servers on the cores this process may use).
    masters = [pid for name, (pid, _start) in state["processes"].items() if name.startswith("web")]
    assert len(masters) == 2
    for pid in masters:
        workers = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        assert len(workers) == max(1, len(os.sched_getaffinity(0)) // 2)

    # A request for another host name (a scanner's) is dropped by nginx's default server,
    # over http and https alike: it never reaches an app server or its log.
    http_port = int(re.search(r"plain http://127\.0\.0\.1:(\d+)/", output)[1])
    connection = http.client.HTTPConnection("127.0.0.1", http_port, timeout=5)
    connection.request("GET", "/login/", headers={"Host": "evil.example"})
    with pytest.raises(http.client.RemoteDisconnected):
        connection.getresponse()
    connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=site.https)
    connection.request("GET", "/login/", headers={"Host": "evil.example"})
    with pytest.raises(http.client.RemoteDisconnected):
        connection.getresponse()
    for log in web_logs:
        assert "evil.example" not in log.read_text()

    # A second `make serve` from the same checkout is refused, saying where the first one
    # serves, and the first one goes on (it was stopped without a word: helper-117).
    second = subprocess.run(
        [sys.executable, "tools/serve.py", "--var", str(var), "--port", str(runserver.free_port())],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode != 0
    assert f"already running from this checkout (https://127.0.0.1:{port}, pid" in second.stderr
    assert "Stopped" not in second.stdout + second.stderr
    assert browser.get(MAILBOX).status == 200 and process.poll() is None

    # `make serve-stop`: the supervisor, nginx, both app servers, the worker, PostgreSQL and
    # Redis are all gone.
    result = subprocess.run(
        [sys.executable, "tools/serve.py", "stop", "--var", str(var)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert process.wait(60) == 0
    pids = [state["supervisor"][0]] + [pid for pid, _start in state["processes"].values()]
    assert {"nginx", "worker"} <= set(state["processes"]) and len(state["processes"]) == 4
    assert not [pid for pid in pids if alive(pid)]
    for url in env.values():
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1].split("/")[0])), 1)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), 1)
    assert not (var / "serve" / "state.json").exists()
