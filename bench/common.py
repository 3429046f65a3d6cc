"""What the benchmarks share: production-like settings, figures for run.py's table, servers.

Every server here listens on 127.0.0.1 only and is stopped by the script that started it;
every load runs for a fixed time.
"""

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
PASSWORD = "plum-Blossom-2026"
SECRET = "bench-only-not-a-secret-" + "x" * 40


# The load generator signs in to its 200 members thousands of times within an hour, which
# JENCO_SIGN_INS_PER_MEMBER_HOUR (30) would refuse after a few seconds: set out of its way.
# Each sign-in still counts its member's sign-ins of the hour, in the statement it always ran.
SIGN_IN_LIMITS = {"JENCO_SIGN_INS_PER_MEMBER_HOUR": "1000000000"}


def production_env(database_url: str, **extra) -> dict:
    """JENCO's production settings (DEBUG=0, the real Argon2 hasher) on loopback HTTP.

    JENCO_TRUSTED_PROXIES=1: the load generator plays many members, each from an address of
    its own (X-Forwarded-For), as they would arrive through nginx; the lockout stays on.
    """
    return (
        SIGN_IN_LIMITS
        | os.environ
        | {
            "DJANGO_SETTINGS_MODULE": "jenco.settings",
            "DATABASE_URL": database_url,
            "DEBUG": "0",
            "SECRET_KEY": SECRET,
            "SECURE_SSL_REDIRECT": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "SITE_URL": "http://127.0.0.1",
            "JENCO_TRUSTED_PROXIES": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        | extra
    )


def record(name: str, measured: str, goal: str, ok: bool | None) -> None:
    """One row of run.py's table "figure | measured | goal | ok" (ok None: for information)."""
    path = os.environ.get("JENCO_BENCH_FIGURES")
    if path:
        with open(path, "a") as out:
            out.write(json.dumps([name, measured, goal, ok]) + "\n")


def value(name: str):
    """A number an earlier benchmark of this run left for a later one (JENCO_BENCH_FIGURES)."""
    path = os.environ.get("JENCO_BENCH_FIGURES")
    if path and Path(path + ".values").exists():
        return json.loads(Path(path + ".values").read_text()).get(name)
    return None


def keep(name: str, number: float) -> None:
    path = os.environ.get("JENCO_BENCH_FIGURES")
    if path:
        values = Path(path + ".values")
        known = json.loads(values.read_text()) if values.exists() else {}
        values.write_text(json.dumps(known | {name: number}))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: float = 30) -> None:
    import urllib.request

    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and all its descendants still running (gunicorn's
    master and workers), from /proc, with that of the children they have reaped
    (PostgreSQL's backends that ended with their connection)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for child in [pid, *descendants(pid)]:
        try:
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += sum(map(int, fields[11:15])) / ticks  # utime, stime, cutime, cstime
    return total


def descendants(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except FileNotFoundError:
            continue
        for child in map(int, children):
            found += [child, *descendants(child)]
    return found


def die_with_parent() -> None:
    """preexec_fn: the kernel sends this child SIGTERM when the benchmark dies, even by
    SIGKILL, so no server outlives the run that started it (Linux's PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1


def stop_on_sigterm() -> None:
    """SIGTERM (run.py stopping, or a parent's death) unwinds like Ctrl-C: every `with` and
    `finally` stops what it started."""

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)


@contextlib.contextmanager
def shielded():
    """Stopping what we started is not cut short by a second Ctrl-C or SIGTERM."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class Server:
    """A process on a loopback port, stopped (and waited for) on leaving the `with`."""

    def __init__(self, argv: list[str], env: dict, cwd: Path, log: Path):
        self.argv, self.env, self.cwd, self.log = argv, env, cwd, log

    def __enter__(self):
        self.logfile = open(self.log, "w")
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdout=self.logfile,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        return self

    def __exit__(self, *exc):
        with shielded():
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.logfile.close()

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)


def locust(
    locustfile: Path,
    user_class: str,
    host: str,
    users: int,
    seconds: int,
    csv: Path,
    env: dict | None = None,
    grace: int = 120,
) -> dict[str, dict]:
    """Run locust headless for a fixed time; its stats per request name (the locustfile's
    final figures, or else its CSV's last snapshot)."""
    import csv as csvmodule

    argv = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(locustfile),
        "--headless",
        "-u",
        str(users),
        "-r",
        str(min(users, 50)),  # users started a second
        "-t",
        f"{seconds}s",
        "-H",
        host,
        "--csv",
        str(csv),
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--stop-timeout",
        "30",
        user_class,
    ]
    with open(f"{csv}.log", "w") as log:  # locust's own summary: the CSV has it
        subprocess.run(
            argv,
            env=(env or os.environ) | {"PYTHONWARNINGS": "ignore", "BENCH_STATS": f"{csv}.json"},
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
            timeout=seconds + grace,
            preexec_fn=die_with_parent,
        )
    if Path(f"{csv}.json").exists():  # the locustfile's final figures
        return json.loads(Path(f"{csv}.json").read_text())
    stats = {}
    with open(f"{csv}_stats.csv") as f:
        for row in csvmodule.DictReader(f):
            stats[row["Name"]] = row
    return stats


class ServeStack:
    """`make serve`'s stack (tools/serve.py: nginx with TLS, two gunicorn app servers and the
    email worker from deploy/, a private PostgreSQL 15 and Redis 7), all state under `var`,
    stopped on leaving the `with` whatever happened: SIGTERM to serve.py (it stops its
    processes and services), then `serve.py stop --var` for anything left, then the database
    files go (the logs stay)."""

    def __init__(self, var: Path, env: dict | None = None, startup: float = 300):
        self.var, self.env, self.startup = var, SIGN_IN_LIMITS | (env or os.environ), startup
        self.log = var / "serve.log"
        self.url = ""

    def __enter__(self):
        self.var.mkdir(parents=True, exist_ok=True)
        # As root, PostgreSQL runs as `postgres`, which must reach the folder.
        self.var.chmod(0o755)
        self.logfile = open(self.log, "w")
        self.process = subprocess.Popen(
            [sys.executable, "tools/serve.py", "--var", str(self.var)],
            cwd=PROJECT,
            env=self.env,
            stdout=self.logfile,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        try:
            self.url = self._wait_for_url()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_for_url(self) -> str:
        import re

        deadline = time.monotonic() + self.startup
        while time.monotonic() < deadline:
            found = re.search(r"JENCO is running at (https://\S+?)/?\s", self.log.read_text())
            if found:
                return found[1]
            if self.process.poll() is not None:
                raise SystemExit(f"tools/serve.py stopped:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.3)
        raise SystemExit(f"tools/serve.py gave no URL in {self.startup:.0f} s ({self.log})")

    def __exit__(self, *exc):
        with shielded():
            self._stop()

    def _stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        subprocess.run(
            [sys.executable, "tools/serve.py", "stop", "--var", str(self.var)],
            cwd=PROJECT,
            stdout=self.logfile,
            stderr=subprocess.STDOUT,
            check=False,
        )
        self.logfile.close()
        import shutil

        shutil.rmtree(self.var / "services" / "postgres", ignore_errors=True)

    def env_file(self) -> dict[str, str]:
        """VAR/serve/jenco.env, the settings every process of the stack runs with."""
        sys.path.insert(0, str(PROJECT))
        from tools.serve import read_env_file

        return read_env_file(self.var / "serve" / "jenco.env")

    def pids(self) -> dict[str, int]:
        """The stack's processes by part: app servers, worker, nginx, PostgreSQL, Redis."""
        state = json.loads((self.var / "serve" / "state.json").read_text())
        found = {name: pid for name, (pid, _) in state["processes"].items()}
        services = self.var / "services"
        for name, pidfile in (
            ("postgres", services / "postgres" / "data" / "postmaster.pid"),
            ("redis", services / "redis" / "redis.pid"),
        ):
            with contextlib.suppress(OSError, ValueError, IndexError):
                found[name] = int(pidfile.read_text().split()[0])
        return found

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far: "app servers" (gunicorn's masters and workers) and "stack"
        (those, nginx, the worker, PostgreSQL and Redis)."""
        parts = {name: cpu_seconds(pid) for name, pid in self.pids().items()}
        app = sum(seconds for name, seconds in parts.items() if name.startswith("web@"))
        return {"app servers": app, "stack": sum(parts.values())}
