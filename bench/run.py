"""`make bench`: every benchmark (bench/bench_*.py), each in a process of its own, then the
issue's figures in one table, "figure | measured | goal | ok".

Each benchmark builds its own temporary database, so nothing here touches the project's
db.sqlite3. `--postgres` runs the load on the PostgreSQL and Redis that DATABASE_URL and
REDIS_URL name (bench_load.py). Everything listens on 127.0.0.1 and stops by itself.
"""

import argparse
import json
import os
import platform
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="load runs on DATABASE_URL and REDIS_URL (PostgreSQL, Redis)",
    )
    parser.add_argument("--only", help="run only the benchmarks whose name contains this")
    options = parser.parse_args()

    print(
        f"Python {platform.python_version()}, {os.cpu_count()} CPU cores ({cpu_model()}), "
        f"{platform.system()} {platform.machine()}"
    )
    figures = Path(tempfile.mkdtemp(prefix="jenco-bench-")) / "figures.jsonl"
    env = os.environ | {"JENCO_BENCH_FIGURES": str(figures)}
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        if options.only and options.only not in script.stem:
            continue
        argv = [sys.executable, str(script)]
        if script.stem == "bench_load" and options.postgres:
            argv.append("--postgres")
        print(f"\n== {script.stem}", flush=True)
        start = time.perf_counter()
        if subprocess.run(argv, cwd=HERE.parent, env=env).returncode:
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
    sys.exit(main())
