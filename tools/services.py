"""A private PostgreSQL (15 or newer) cluster and Redis 7 server for this checkout (stdlib only).

    python tools/services.py start [--folder var/services]   # idempotent
    python tools/services.py stop  [--folder var/services]
    python tools/services.py status|env [--folder var/services]

Both listen on free loopback ports (kept for the next start while they stay free), keep their
data in the git-ignored folder and nothing else on the machine: no system service is started
or changed. `start` prints, and writes to FOLDER/env, the two lines the app needs:

    DATABASE_URL=postgres://jenco@127.0.0.1:PORT/jenco
    REDIS_URL=redis://127.0.0.1:PORT/0

PostgreSQL is Debian's (binaries in /usr/lib/postgresql/N/bin: 15 on Debian 12, 17 on Debian
13): the version the folder's cluster was made with, else the newest installed (PG_BIN, a bin
folder, overrides both). initdb refuses
to run as root, so as root it and pg_ctl run as the `postgres` user, which then owns the data
folder. The cluster trusts connections (-A trust) on 127.0.0.1 only, with its unix socket inside
the folder; its one role, `jenco`, is the cluster's superuser, so it may create the test_
database pytest-django makes. `--fast` (for CI) turns off fsync: a crash may lose the data.
Redis runs with `--save ''` (nothing written to disk) and daemonizes, with its pid file here.
"""

import argparse
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_LIB = Path("/usr/lib/postgresql")
OLDEST_PG = 15
ROLE = DATABASE = "jenco"
RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"


def pg_bin(data: Path | None = None) -> Path:
    """PostgreSQL's programs: PG_BIN's if set; else those of the version the cluster in `data`
    was made with (a newer one refuses its files); else Debian's newest installed, 15 or
    newer (Debian 12's is 15, Debian 13's 17)."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    if data is not None and (data / "PG_VERSION").exists():
        return PG_LIB / (data / "PG_VERSION").read_text().strip() / "bin"
    versions = [
        int(initdb.parent.parent.name)
        for initdb in PG_LIB.glob("*/bin/initdb")
        if initdb.parent.parent.name.isdigit()
    ]
    newest = max((v for v in versions if v >= OLDEST_PG), default=OLDEST_PG)
    return PG_LIB / str(newest) / "bin"


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int, besides: int | None = None) -> list[int]:
    """`count` distinct free ports on loopback, none of them `besides`. Each is held until
    all are drawn: drawn one at a time, the kernel once gave the same port twice, and nginx
    refused a duplicate listen."""
    sockets = [socket.socket() for _ in range(count + 1)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        ports = [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
    return [port for port in ports if port != besides][:count]


def port_is_free(port: int) -> bool:
    """Whether a server could listen on `port` now. As a server binds (SO_REUSEADDR, as
    nginx, PostgreSQL and Redis do): the connections of one just stopped, waiting out
    TIME_WAIT, said `make serve` again right after `make serve-stop` found the port taken
    (helper-142)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class Services:
    def __init__(self, folder: Path, fast: bool = False):
        self.folder = folder.resolve()
        self.fast = fast
        self.pg = self.folder / "postgres"
        self.pg_data = self.pg / "data"
        self.pg_bin = pg_bin(self.pg_data)
        self.redis = self.folder / "redis"
        self.env_file = self.folder / "env"

    # --- Ports, kept in small files so a restart reuses them --------------------------------

    def _port(self, name: str, running: bool) -> int:
        path = self.folder / f"{name}.port"
        if path.exists():
            port = int(path.read_text())
            if running or port_is_free(port):
                return port
        port = free_port()
        path.write_text(f"{port}\n")
        return port

    # --- PostgreSQL --------------------------------------------------------------------------

    def _as_owner(self, *command: str, **kwargs) -> subprocess.CompletedProcess:
        """Run a PostgreSQL program, as `postgres` when we are root (initdb refuses root)."""
        if os.geteuid() == 0:
            command = (RUNUSER, "-u", "postgres", "--", *command)
        result = subprocess.run(command, capture_output=True, text=True, **kwargs)
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
        return result

    def pg_running(self) -> bool:
        if not (self.pg_data / "PG_VERSION").exists():
            return False
        command = [str(self.pg_bin / "pg_ctl"), "status", "-D", str(self.pg_data)]
        if os.geteuid() == 0:
            command = [RUNUSER, "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True).returncode == 0

    def start_postgres(self) -> int:
        if not (self.pg_bin / "initdb").exists():
            raise SystemExit(
                f"PostgreSQL {OLDEST_PG} or newer is not installed ({self.pg_bin}): "
                "'sudo apt-get install postgresql' (or `make services` as root)"
            )
        running = self.pg_running()
        port = self._port("postgres", running)
        if running:
            return port
        self.pg.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            reach = subprocess.run([RUNUSER, "-u", "postgres", "--", "test", "-x", self.folder])
            if reach.returncode != 0:
                raise SystemExit(
                    f"The postgres user cannot reach {self.folder} (a folder on the way is "
                    "private): choose a folder under one everyone may enter, such as var/."
                )
            owner = pwd.getpwnam("postgres")
            for path in (self.pg, *self.pg.rglob("*")):
                os.chown(path, owner.pw_uid, owner.pw_gid, follow_symlinks=False)
        self.pg.chmod(0o700)
        if not (self.pg_data / "PG_VERSION").exists():
            self._as_owner(
                str(self.pg_bin / "initdb"),
                "-D", str(self.pg_data),
                "-U", ROLE,
                "-A", "trust",
                "-E", "UTF8",
                "--locale", "C.UTF-8",
            )  # fmt: skip
        options = [
            f"-p {port}",
            f"-k {self.pg}",  # the unix socket stays in our folder
            "-c listen_addresses=127.0.0.1",
            # A failed statement's text stays out of the log: its VALUES can hold a member's
            # hashes, address and name (helper-150 read a registration's there). So does an
            # error's DETAIL, which for a CHECK or NOT NULL violation is the whole row
            # ("Failing row contains ...", helper-154): the error's own line is logged.
            "-c log_min_error_statement=panic",
            "-c log_error_verbosity=terse",
        ]
        if self.fast:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self._as_owner(
            str(self.pg_bin / "pg_ctl"),
            "start", "-w", "-t", "60",
            "-D", str(self.pg_data),
            "-l", str(self.pg / "postgres.log"),
            "-o", " ".join(options),
        )  # fmt: skip
        exists = self._as_owner(
            str(self.pg_bin / "psql"),
            "-h", "127.0.0.1", "-p", str(port), "-U", ROLE, "-d", "postgres", "-tAc",
            f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'",  # noqa: S608 (a constant)
        )  # fmt: skip
        if exists.stdout.strip() != "1":
            self._as_owner(
                str(self.pg_bin / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                ROLE,
                DATABASE,
            )
        return port

    def stop_postgres(self) -> bool:
        if not self.pg_running():
            return False
        self._as_owner(
            str(self.pg_bin / "pg_ctl"),
            "stop",
            "-w",
            "-t",
            "60",
            "-m",
            "fast",
            "-D",
            str(self.pg_data),
        )
        return True

    # --- Redis -------------------------------------------------------------------------------

    @property
    def redis_pid_file(self) -> Path:
        return self.redis / "redis.pid"

    def redis_pid(self) -> int | None:
        """The pid of our redis-server, if it runs (a stale pid file is not believed)."""
        try:
            pid = int(self.redis_pid_file.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if b"redis-server" in cmdline else None

    def start_redis(self) -> int:
        if shutil.which("redis-server") is None:
            raise SystemExit(
                "redis-server is not installed: "
                "'sudo apt-get install redis-server' (or `make services` as root)"
            )
        running = self.redis_pid() is not None
        port = self._port("redis", running)
        if running:
            return port
        self.redis.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                shutil.which("redis-server"),
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--daemonize", "yes",
                "--dir", str(self.redis),
                "--pidfile", str(self.redis_pid_file),
                "--logfile", str(self.redis / "redis.log"),
                "--save", "",
                "--appendonly", "no",
            ],
            check=True,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while not (answers(port) and self.redis_pid()):
            if time.monotonic() > deadline:
                log = (self.redis / "redis.log").read_text(errors="replace")
                raise SystemExit(f"redis-server did not start on port {port}:\n{log}")
            time.sleep(0.05)
        return port

    def stop_redis(self) -> bool:
        pid = self.redis_pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)
        self.redis_pid_file.unlink(missing_ok=True)
        return True

    # --- Both ----------------------------------------------------------------------------------

    def urls(self, pg_port: int, redis_port: int) -> dict[str, str]:
        return {
            "DATABASE_URL": f"postgres://{ROLE}@127.0.0.1:{pg_port}/{DATABASE}",
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        }

    def start(self) -> dict[str, str]:
        self.folder.mkdir(parents=True, exist_ok=True)
        urls = self.urls(self.start_postgres(), self.start_redis())
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in urls.items()))
        return urls

    def stop(self) -> list[str]:
        stopped = []
        if self.stop_redis():
            stopped.append("redis")
        if self.stop_postgres():
            stopped.append("postgres")
        return stopped

    def running(self) -> dict[str, bool]:
        return {"postgres": self.pg_running(), "redis": self.redis_pid() is not None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["start", "stop", "status", "env"])
    parser.add_argument(
        "--folder", type=Path, default=ROOT / "var" / "services", help="data (git-ignored)"
    )
    parser.add_argument("--fast", action="store_true", help="fsync off (CI: data may be lost)")
    args = parser.parse_args(argv)
    services = Services(args.folder, fast=args.fast)
    if args.command == "start":
        for name, value in services.start().items():
            print(f"{name}={value}")
        print(f"# written to {services.env_file}", file=sys.stderr)
    elif args.command == "stop":
        stopped = services.stop()
        print(f"stopped: {', '.join(stopped) or 'nothing was running'}", file=sys.stderr)
    elif args.command == "status":
        state = services.running()
        for name, up in state.items():
            print(f"{name}: {'running' if up else 'stopped'}")
        return 0 if all(state.values()) else 3
    else:
        if not services.env_file.exists():
            return 1
        print(services.env_file.read_text(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
