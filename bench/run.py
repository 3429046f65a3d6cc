"""`make bench`: every benchmark (bench/bench_*.py), each in a process of its own, then the
issue's figures in one table, "figure | measured | goal | ok".

Each benchmark builds its own temporary database, so nothing here touches the project's
db.sqlite3 or var/. bench_load.py also starts `make serve`'s stack (tools/serve.py: nginx,
two app servers, the worker, a private PostgreSQL and Redis) in a temporary folder.
Everything listens on 127.0.0.1 and stops by itself, also on Ctrl-C or a failure.

    bench/run.py                 # the whole run, the issue's sizes
    bench/run.py --quick         # a minute or two: 5 s loads, 100 journeys by 20 users
"""

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def table(rows: list[list]) -> str:
    head = ["figure", "measured", "goal", "ok"]
    cells = [
        [str(c) for c in row[:3]] + [{True: "yes", False: "NO", None: ""}[row[3]]] for row in rows
    ]
    widths = [max(len(r[i]) for r in [head, *cells]) for i in range(4)]
    line = lambda r: " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()  # noqa: E731
    return "\n".join([line(head), "-+-".join("-" * w for w in widths), *map(line, cells)])


class Terminated(KeyboardInterrupt):
    """SIGTERM to run.py (Ctrl-C reaches the benchmark itself; SIGTERM does not)."""


def terminated(signum, frame):
    raise Terminated


def run(argv: list[str], env: dict) -> int:
    """One benchmark; on Ctrl-C or SIGTERM it is given time to stop what it started."""
    process = subprocess.Popen(argv, cwd=HERE.parent, env=env)
    try:
        return process.wait()
    except KeyboardInterrupt as interruption:
        print(f"\nstopping {Path(argv[1]).stem} ...", flush=True)
        if isinstance(interruption, Terminated):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=180)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        raise


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", help="run only the benchmarks whose name contains this")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short run that proves everything works (figures not worth keeping): "
        "--seconds 5 --journeys 100 --migration-users 20",
    )
    parser.add_argument("--seconds", type=int, help="each timed load (BENCH_SECONDS, 20)")
    parser.add_argument("--journeys", type=int, help="members through a migration day (2000)")
    parser.add_argument("--migration-users", type=int, help="its concurrent users (200)")
    parser.add_argument(
        "--parts", help="bench_load.py's parts, comma-separated: compare, stack, sqlite (all)"
    )
    options = parser.parse_args()
    if options.quick:
        options.seconds = options.seconds or 5
        options.journeys = options.journeys or 100
        options.migration_users = options.migration_users or 20
    load_args = []
    for flag in ("journeys", "migration_users", "parts"):
        if getattr(options, flag) is not None:
            load_args += [f"--{flag.replace('_', '-')}", str(getattr(options, flag))]

    print(
        f"Python {platform.python_version()}, {os.cpu_count()} CPU cores ({cpu_model()}), "
        f"{platform.system()} {platform.machine()}"
    )
    figures = Path(tempfile.mkdtemp(prefix="jenco-bench-")) / "figures.jsonl"
    env = os.environ | {"JENCO_BENCH_FIGURES": str(figures)}
    if options.seconds:
        env["BENCH_SECONDS"] = str(options.seconds)
    if options.quick:
        print("--quick: short loads, a small migration day; the figures are not worth keeping")

    signal.signal(signal.SIGTERM, terminated)
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        if options.only and options.only not in script.stem:
            continue
        argv = [sys.executable, str(script)]
        if script.stem == "bench_load":
            argv += load_args
        print(f"\n== {script.stem}", flush=True)
        start = time.perf_counter()
        if run(argv, env):
            failed.append(script.name)
        print(f"({script.stem} took {time.perf_counter() - start:.0f} s)", flush=True)

    rows = (
        [json.loads(line) for line in figures.read_text().splitlines()] if figures.exists() else []
    )
    print(f"\n== figures ({os.cpu_count()} cores, {cpu_model()})\n{table(rows)}")
    if failed:
        print(f"\nFailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("make bench: interrupted", file=sys.stderr)
        sys.exit(130)
