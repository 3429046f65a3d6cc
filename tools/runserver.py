"""The project's runserver in a process of its own: for the live-server tests and screenshots."""

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(env: dict, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess:
    """`manage.py args…` in a process of its own with `env`; the caller judges the outcome."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# deploy/gunicorn.conf.py reads GUNICORN_BIND, GUNICORN_WORKERS and GUNICORN_THREADS.
GUNICORN = [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"]


def start(port: int, env: dict, log_path: Path, *, timeout: float = 60) -> subprocess.Popen:
    """Serve on 127.0.0.1:`port` and return once /healthz answers; the output goes to the log."""
    command = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    with log_path.open("w") as log:
        return start_command(command, port, env, log, log, log_path, timeout=timeout)


def start_command(
    command: list[str], port: int, env: dict, stdout, stderr, log_path: Path, *, timeout: float
) -> subprocess.Popen:
    """Start a server `command` (runserver, gunicorn) and return once /healthz answers on
    `port`; a server that stops or stays silent raises with its log (`log_path`)."""
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=stdout, stderr=stderr)
    name = "gunicorn" if "gunicorn" in command else "runserver"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"{name} stopped:\n{log_path.read_text()}")
        try:
            url = f"http://127.0.0.1:{port}/healthz"
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    stop(server)
    raise RuntimeError(f"{name} did not answer in {timeout:.0f} s:\n{log_path.read_text()}")


def stop(server: subprocess.Popen | None) -> None:
    if server is None or server.poll() is not None:
        return
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
