"""`make serve`: JENCO production-like on this machine, from the files in deploy/.

    python tools/serve.py [--var var] [--port 8443]   # runs until Ctrl-C (or SIGTERM)
    python tools/serve.py stop [--var var]            # `make serve-stop`

It starts a private PostgreSQL 15 and Redis 7 (tools/services.py), runs migrate,
collectstatic, compilemessages, load_quotes (the samples) and create_demo_member, then two
gunicorn app servers started from deploy/jenco-web@.service's ExecStart= and Environment=
lines (instance = port), the email worker from deploy/jenco-worker.service, and nginx with
deploy/nginx/jenco.conf rendered with local ports and paths and a self-signed certificate.
Everything it keeps is under VAR (git-ignored): services/, serve/ (secret key, env file,
certificate, nginx prefix, logs, the pids `stop` reads) and mail/ (the file email backend's
output).
"""

import argparse
import contextlib
import datetime
import fcntl
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.services import Services, free_port, free_ports, port_is_free  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
WEB_UNIT = DEPLOY / "jenco-web@.service"
WORKER_UNIT = DEPLOY / "jenco-worker.service"
NGINX_SITE = DEPLOY / "nginx" / "jenco.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
APP_SERVERS = 2


def workers_per_server() -> int:
    """Each app server's share of the cores, one worker process per core (at least one). A
    sign-in is CPU for its hash and the rest, and the waits on PostgreSQL and Redis are
    covered by each worker's threads: more processes than cores only take turns on them,
    each with its own copy of the code and data in memory and in the CPU's caches (issue 13:
    two app servers of 2 workers each on 2 cores spent 0.6-2 ms more CPU per sign-in than
    of 1 worker each)."""
    return max(1, len(os.sched_getaffinity(0)) // APP_SERVERS)  # the cores we may use


# --- systemd units ------------------------------------------------------------------------


def read_unit(path: Path, instance: str = "") -> dict[str, list[str]]:
    """The [Service] section's settings (each key's values in order), %i replaced."""
    values: dict[str, list[str]] = {}
    section = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]":
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), []).append(value.strip().replace("%i", instance))
    return values


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines as systemd's EnvironmentFile= reads them (no shell, optional quotes)."""
    env = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key.strip()] = value
    return env


def unit_command(path: Path, instance: str, env_file: Path) -> tuple[list[str], dict[str, str]]:
    """The unit's ExecStart= as a local command, and the environment systemd would give it.

    The unit's WorkingDirectory (the install folder, /srv/jenco) stands for this checkout, its
    EnvironmentFile= for `env_file`.
    """
    unit = read_unit(path, instance)
    workdir = unit["WorkingDirectory"][0]
    command = [
        word.replace(workdir, str(ROOT), 1) if word.startswith(workdir) else word
        for word in shlex.split(unit["ExecStart"][0])
    ]
    if command[0] == str(ROOT / ".venv/bin/python"):
        command[0] = sys.executable  # the interpreter make uses
    elif command[0].startswith(str(ROOT / ".venv/bin/")):
        command[0] = str(Path(sys.executable).parent / Path(command[0]).name)
    env = {}
    for assignment in unit.get("Environment", []):
        for word in shlex.split(assignment):
            key, _, value = word.partition("=")
            env[key] = value
    if unit.get("EnvironmentFile"):
        env.update(read_env_file(env_file))  # as systemd: the file wins over Environment=
    return command, env


# --- nginx ---------------------------------------------------------------------------------


def render_nginx_site(
    *,
    https: int,
    http: int,
    app_ports: list[int],
    cert: Path,
    key: Path,
    logs: Path,
    static_root: Path = ROOT / "staticfiles",
) -> str:
    """deploy/nginx/jenco.conf with local ports and paths: every replaced line must be there.
    It listens on loopback, IPv6's too where it can (::1)."""
    text = NGINX_SITE.read_text()
    v6 = "[::1]" if ipv6_loopback_free(http, https) else None
    replacements = [
        ("listen 80 default_server;", f"listen 127.0.0.1:{http} default_server;"),
        (
            "listen 443 ssl http2 default_server;",
            f"listen 127.0.0.1:{https} ssl http2 default_server;",
        ),
        ("listen 80;", f"listen 127.0.0.1:{http};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;"),
        *(
            (f"    listen [::]:{port}{rest}\n", f"    listen {v6}:{local}{rest}\n" if v6 else "")
            for port, local, rest in (
                (80, http, " default_server;"),
                (443, https, " ssl http2 default_server;"),
                (80, http, ";"),
                (443, https, " ssl http2;"),
            )
        ),
        (
            "server_name members.jenco.example;",
            f"server_name 127.0.0.1 localhost{' [::1]' if v6 else ''};",
        ),
        (  # to the name asked for (one of server_name's), on the https port
            "return 301 https://members.jenco.example$request_uri;",
            f"return 301 https://$host:{https}$request_uri;",
        ),
        ("/etc/letsencrypt/live/members.jenco.example/fullchain.pem", str(cert)),
        ("/etc/letsencrypt/live/members.jenco.example/privkey.pem", str(key)),
        ("/var/log/nginx/", f"{logs}/"),
        ("alias /srv/jenco/staticfiles/", f"alias {static_root}/"),  # /static/, the busy page
    ]
    for old, new in replacements:
        if old not in text:
            raise SystemExit(f"{NGINX_SITE} no longer has {old!r}: update tools/serve.py")
        text = text.replace(old, new)
    upstream = re.compile(r"^(\s*)server 127\.0\.0\.1:\d+( [^;]*)?;\n", re.MULTILINE)
    lines = upstream.findall(text)
    if not lines:
        raise SystemExit(f"{NGINX_SITE}: no 'server 127.0.0.1:PORT' line in the upstream")
    indent, options = lines[0]
    servers = "".join(f"{indent}server 127.0.0.1:{p}{options};\n" for p in app_ports)
    text = upstream.sub("", text, count=len(lines) - 1)
    return upstream.sub(servers.replace("\\", "\\\\"), text, count=1)


def ipv6_loopback_free(*ports: int) -> bool:
    """Whether these ports are free on ::1: a container may have IPv6 turned off, and the
    ports were chosen free on 127.0.0.1 only. Where not, the site listens on IPv4 alone."""
    for port in ports:
        try:
            with socket.socket(socket.AF_INET6) as probe:
                probe.bind(("::1", port))
        except OSError:
            return False
    return True


def write_nginx_prefix(prefix: Path, site: str, logs: Path) -> Path:
    """A complete nginx configuration around the site, all its files under `prefix`."""
    prefix.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    (prefix / "jenco.conf").write_text(site)
    temp = "\n".join(
        f"    {name}_temp_path {prefix / (name + '_temp')};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"""# Written by tools/serve.py around deploy/nginx/jenco.conf (rendered: jenco.conf here).
worker_processes 1;
worker_rlimit_nofile 10000;
daemon off;
pid {prefix / "nginx.pid"};
error_log {logs / "nginx-error.log"} error;
# Each member's connection and its proxied one to an app server: 200 members at once took
# more than 256 (their requests failed before nginx logged them; make bench's migration day).
events {{ worker_connections 4096; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    server_tokens off;
{temp}
    include {prefix / "jenco.conf"};
}}
"""
    )
    return conf


def nginx_test(conf: Path, prefix: Path) -> None:
    result = subprocess.run(
        [NGINX, "-t", "-q", "-p", f"{prefix}/", "-e", str(prefix / "startup.log"), "-c", str(conf)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"nginx -t refused {conf}:\n{result.stdout}{result.stderr}")


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "cert.pem", folder / "key.pem"
    if not (cert.exists() and key.exists()):
        subprocess.run(
            [
                shutil.which("openssl") or "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "365",
                "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost",
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        key.chmod(0o600)
    return cert, key


# --- Processes -----------------------------------------------------------------------------


def wait_for(url: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    context = ssl._create_unverified_context()  # noqa: S323 (our own self-signed certificate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{' '.join(process.args)} stopped:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer in {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    with log.open("a") as out:
        # A session of its own: `stop` ends the whole group (gunicorn's workers too).
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def end(pid: int, timeout: float = 20) -> None:
    """TERM the process group `pid` leads (ours: start_new_session), then KILL what is left."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        with contextlib.suppress(ChildProcessError):  # reap it if it is our child
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def same_process(pid: int, started: str) -> bool:
    """`pid` still the process we started (its start time as /proc/PID/stat recorded it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19] == started
    except (OSError, IndexError):
        return False


def start_time(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]


# --- The stack -----------------------------------------------------------------------------


class Stack:
    def __init__(self, var: Path, port: int | None):
        self.var = var.resolve()
        self.folder = self.var / "serve"
        self.logs = self.folder / "logs"
        self.mail = self.var / "mail"
        self.state_file = self.folder / "state.json"
        self.services = Services(self.var / "services")
        self.port = port
        self.processes: dict[str, subprocess.Popen] = {}
        self.commands: dict[str, tuple[list[str], dict]] = {}
        self.log_files: dict[str, Path] = {}
        self.site_url = ""
        self.starting = False  # past the checks: from here on, shutdown has things to stop

    def log_of(self, name: str) -> Path:
        return self.log_files.get(name, self.logs / f"{name}.log")

    def secret_key(self) -> str:
        path = self.folder / "secret_key"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(50))
            path.chmod(0o600)
        return path.read_text().strip()

    def save_state(self) -> None:
        state = {
            "supervisor": [os.getpid(), start_time(os.getpid())],
            "processes": {
                name: [p.pid, start_time(p.pid)]
                for name, p in self.processes.items()
                if p.poll() is None
            },
            "services": str(self.services.folder),
            "url": self.site_url,
        }
        # Whole or not at all: a `make serve` or `serve-stop` reading it meanwhile never finds
        # half of it.
        partial = self.state_file.with_suffix(".tmp")
        partial.write_text(json.dumps(state))
        partial.replace(self.state_file)

    def run(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.mail.mkdir(parents=True, exist_ok=True)
        # One `make serve` per checkout: a second stopped the first without a word
        # (helper-117), and two started at once both got past a look at the state file
        # (helper-119). The lock is held as long as this process lives.
        self.lock = (self.folder / "lock").open("w")
        try:
            fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # One started before the lock existed holds none: its state file says it runs.
            if running_supervisor(self.var) is not None:
                raise BlockingIOError
        except BlockingIOError:
            where = running_supervisor(self.var) or "starting"
            raise SystemExit(
                f"make serve is already running from this checkout ({where}): press "
                "Ctrl-C where it runs or `make serve-stop`, then try again."
            ) from None
        stop(self.var, quiet=True)  # whatever a run that did not stop cleanly left
        https = self.port or free_port()
        if not port_is_free(https):
            raise SystemExit(f"port {https} is taken: SERVE_PORT=... make serve")
        self.starting = True
        urls = self.services.start()
        http, *app_ports = free_ports(1 + APP_SERVERS, besides=https)
        site_url = self.site_url = f"https://127.0.0.1:{https}"
        until = datetime.date.today() + datetime.timedelta(days=90)
        # The EnvironmentFile= of both units (/etc/jenco/jenco.env in production).
        env_file = self.folder / "jenco.env"
        settings = {
            "DJANGO_SETTINGS_MODULE": "jenco.settings",
            "DEBUG": "0",
            "SECRET_KEY": self.secret_key(),
            "ALLOWED_HOSTS": "127.0.0.1,localhost,[::1]",
            "SITE_URL": site_url,
            **urls,
            "SECURE_PROXY_SSL_HEADER": "1",
            "JENCO_TRUSTED_PROXIES": "1",
            # HSTS is per host, whatever the port: a year of it for 127.0.0.1 would turn
            # `make run`'s http://127.0.0.1:8000 into https in this browser.
            "SECURE_HSTS_SECONDS": "0",
            "SECURE_HSTS_PRELOAD": "0",
            "EMAIL_BACKEND": "accounts.mail.FileBackend",
            "EMAIL_FILE_PATH": str(self.mail),
            "JENCO_DEFAULT_CREDENTIALS_UNTIL": until.isoformat(),
            "GUNICORN_WORKERS": os.environ.get("GUNICORN_WORKERS", str(workers_per_server())),
            "GUNICORN_THREADS": os.environ.get("GUNICORN_THREADS", "4"),
        }
        if "GUNICORN_ACCESS_LOG" in os.environ:  # `-`: the app servers' own access log too
            settings["GUNICORN_ACCESS_LOG"] = os.environ["GUNICORN_ACCESS_LOG"]
        # The project's own settings given to `make serve` (JENCO_SHARED_ADDRESSES=… make
        # serve) reach the app servers, except those the stack sets itself: they were
        # dropped without a word (helper-125).
        settings |= {
            k: v for k, v in os.environ.items() if k.startswith("JENCO_") and k not in settings
        }
        env_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        env_file.chmod(0o600)
        base_env = {
            k: v
            for k, v in os.environ.items()
            if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER", "TZ")
        }
        manage_env = {**base_env, **read_env_file(env_file), "PYTHONDONTWRITEBYTECODE": "1"}
        for step in (
            ["migrate", "--noinput", "--verbosity", "0"],
            ["collectstatic", "--noinput", "--verbosity", "0"],
            ["compilemessages", "--ignore=.venv", "--ignore=var", "--verbosity", "0"],
            # Not --deploy: mail goes to files here, which check --deploy rightly refuses.
            ["check", "--fail-level", "ERROR"],
            # The ticker's sample quotes, as make run loads them (a real feed replaces them).
            ["load_quotes", "deploy/samples/quotes.csv"],
        ):
            print(f"manage.py {' '.join(step)}", flush=True)
            subprocess.run(
                [sys.executable, "manage.py", *step], cwd=ROOT, env=manage_env, check=True
            )
        demo = subprocess.run(
            [sys.executable, "manage.py", "create_demo_member"],
            cwd=ROOT,
            env=manage_env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

        for n, port in enumerate(app_ports, 1):
            command, env = unit_command(WEB_UNIT, str(port), env_file)
            self.commands[f"web@{port}"] = (command, {**base_env, **env})
            # By position, not port: each run picks free ports, and logs named after them
            # piled up one pair per run.
            self.log_files[f"web@{port}"] = self.logs / f"web-{n}.log"
        command, env = unit_command(WORKER_UNIT, "", env_file)
        self.commands["worker"] = (command, {**base_env, **env})
        for name, (command, env) in self.commands.items():
            self.processes[name] = start(command, env, self.log_of(name))
        self.save_state()
        for port in app_ports:
            name = f"web@{port}"
            wait_for(f"http://127.0.0.1:{port}/healthz", self.processes[name], self.log_of(name))

        cert, key = self_signed_certificate(self.folder / "tls")
        prefix = self.folder / "nginx"
        site = render_nginx_site(
            https=https, http=http, app_ports=app_ports, cert=cert, key=key, logs=self.logs
        )
        conf = write_nginx_prefix(prefix, site, self.logs)
        nginx_test(conf, prefix)
        nginx_command = [
            NGINX,
            "-p",
            f"{prefix}/",
            "-e",
            str(self.logs / "nginx-error.log"),
            "-c",
            str(conf),
        ]
        # nginx stamps its access log in its process's zone (TZ, which it keeps): the same
        # zone as the app servers' and the worker's lines (deploy/gunicorn.conf.py).
        nginx_env = {**base_env, "TZ": manage_env.get("TIME_ZONE") or "Asia/Tokyo"}
        self.commands["nginx"] = (nginx_command, nginx_env)
        self.processes["nginx"] = start(nginx_command, nginx_env, self.log_of("nginx"))
        self.save_state()
        wait_for(f"{site_url}/healthz", self.processes["nginx"], self.logs / "nginx-error.log")

        print(
            f"""
JENCO is running at {site_url}/  (self-signed certificate: {cert})
  plain http://127.0.0.1:{http}/ redirects there; to try passkeys, open https://localhost:{https}/
  (browsers allow passkeys on a host name, not on an address)
  nginx (deploy/nginx/jenco.conf) -> 2 gunicorn app servers (deploy/jenco-web@.service) on
  127.0.0.1:{", ".join(map(str, app_ports))}, the email worker (deploy/jenco-worker.service),
  PostgreSQL {urls["DATABASE_URL"]}, Redis {urls["REDIS_URL"]}
  DEBUG=0, environment in {env_file}; HSTS off (127.0.0.1 is shared with make run)
  Demo member: {demo}
  Email is not sent: the worker writes every message into {self.mail}/
  Logs: {self.logs}/
Ctrl-C (or `make serve-stop`) stops everything.""",
            flush=True,
        )
        self.supervise()

    def supervise(self) -> None:
        stopping = False

        def on_signal(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        while not stopping:
            time.sleep(0.5)
            for name, process in list(self.processes.items()):
                code = process.poll()
                # Restart=on-failure, as systemd would.
                if code not in (None, 0) and not stopping:
                    print(f"{name} exited with {code}; restarting it", flush=True)
                    command, env = self.commands[name]
                    self.processes[name] = start(command, env, self.log_of(name))
                    self.save_state()
        print("\nStopping JENCO...", flush=True)
        self.shutdown()

    def shutdown(self) -> None:
        if not self.starting:  # refused before it started anything (running, port taken)
            return
        for name in ("nginx", *[n for n in self.processes if n != "nginx"]):
            if name in self.processes:
                end(self.processes[name].pid)
                self.processes[name].wait()
        self.services.stop()
        self.state_file.unlink(missing_ok=True)
        print("Stopped: nginx, app servers, worker, PostgreSQL, Redis.", flush=True)


def running_supervisor(var: Path) -> str | None:
    """What a `make serve` still running from `var` serves ("https://127.0.0.1:8443, pid
    4242"), or None."""
    state_file = var.resolve() / "serve" / "state.json"
    try:
        state = json.loads(state_file.read_text())
    except (FileNotFoundError, ValueError):  # none, or left unreadable by a crash
        return None
    supervisor, started = state["supervisor"]
    if supervisor == os.getpid() or not same_process(supervisor, started):
        return None
    return ", ".join(filter(None, [state.get("url", ""), f"pid {supervisor}"]))


def stop(var: Path, quiet: bool = False) -> None:
    """Stop what a `make serve` using `var` left: its supervisor, processes and services."""
    var = var.resolve()
    state_file = var / "serve" / "state.json"
    stopped = []
    if state_file.exists():
        state = json.loads(state_file.read_text())
        supervisor, started = state["supervisor"]
        if supervisor != os.getpid() and same_process(supervisor, started):
            os.kill(supervisor, signal.SIGTERM)  # it stops its children itself
            deadline = time.monotonic() + 60
            while same_process(supervisor, started) and time.monotonic() < deadline:
                time.sleep(0.2)
            stopped.append("make serve")
        for name, (pid, started) in state["processes"].items():
            if same_process(pid, started):
                end(pid)
                stopped.append(name)
        state_file.unlink(missing_ok=True)
    stopped += Services(var / "services").stop()
    if not quiet:
        print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", nargs="?", choices=["run", "stop"], default="run")
    parser.add_argument("--var", type=Path, default=ROOT / "var", help="state (git-ignored)")
    parser.add_argument("--port", type=int, default=None, help="nginx's https port (free one)")
    args = parser.parse_args(argv)
    if args.command == "stop":
        stop(args.var)
        return 0
    stack = Stack(args.var, args.port)

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)  # `make serve-stop` while it starts
    try:
        stack.run()
    except subprocess.CalledProcessError as error:
        stack.shutdown()
        print(f"make serve: {' '.join(map(str, error.cmd))} failed", file=sys.stderr)
        return 1
    except BaseException:
        stack.shutdown()
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
