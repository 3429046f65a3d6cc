"""What the benchmarks share: production-like settings, figures for run.py's table, servers.

Every server here listens on 127.0.0.1 only and is stopped by the script that started it;
every load runs for a fixed time.
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
PASSWORD = "plum-Blossom-2026"
SECRET = "bench-only-not-a-secret-" + "x" * 40


def production_env(database_url: str, **extra) -> dict:
    """JENCO's production settings (DEBUG=0, the real Argon2 hasher) on loopback HTTP.

    JENCO_TRUSTED_PROXIES=1: the load generator plays many members, each from an address of
    its own (X-Forwarded-For), as they would arrive through nginx; the lockout stays on.
    """
    return (
        os.environ
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
    master and workers), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for child in [pid, *descendants(pid)]:
        try:
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
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


class Server:
    """A process on a loopback port, stopped (and waited for) on leaving the `with`."""

    def __init__(self, argv: list[str], env: dict, cwd: Path, log: Path):
        self.argv, self.env, self.cwd, self.log = argv, env, cwd, log

    def __enter__(self):
        self.logfile = open(self.log, "w")
        self.process = subprocess.Popen(
            self.argv, env=self.env, cwd=self.cwd, stdout=self.logfile, stderr=subprocess.STDOUT
        )
        return self

    def __exit__(self, *exc):
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
) -> dict[str, dict]:
    """Run locust headless for a fixed time; its stats per request name (from its CSV)."""
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
            env=(env or os.environ) | {"PYTHONWARNINGS": "ignore"},
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
            timeout=seconds + 120,
        )
    stats = {}
    with open(f"{csv}_stats.csv") as f:
        for row in csvmodule.DictReader(f):
            stats[row["Name"]] = row
    return stats
