"""How long `manage.py import_ja_members` takes for 100,000 rows, and its peak memory.

The import runs as its own process, exactly as an operator runs it, on a fresh temporary
SQLite database with production settings (DEBUG=0). Peak RSS is the child's own maximum
resident set size from wait4(): the honest figure for one process, which a measurement
inside the process (or RUSAGE_CHILDREN over several children) would not be.
Goal (issue 13): at most 10 s and 300 MB on a 2-core machine.
"""

import argparse
import csv
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT / "bench"))
from common import record  # noqa: E402

SURNAMES = ["山田", "佐藤", "鈴木", "髙橋", "田中", "伊藤", "渡辺", "中村", "小林", "加藤"]
GIVEN = ["太郎", "花子", "一郎", "美咲", "健太", "由美", "翔", "陽子", "大輔", "愛"]


def write_csv(path: Path, rows: int) -> None:
    """A JA export as operators receive one: Japanese names, some full-width IDs."""
    rng = random.Random(42)
    with path.open("w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["member_id", "name", "email", "id_document_number", "preferred_language"])
        for n in range(rows):
            member_id = f"JPN{3_000_000 + n:07d}"
            if n % 10 == 0:  # typed on a Japanese keyboard
                member_id = member_id.translate(
                    str.maketrans("JPN0123456789", "ＪＰＮ０１２３４５６７８９")
                )
            writer.writerow(
                [
                    member_id,
                    f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}",
                    f"member{n}@example.com",
                    f"AB{rng.randrange(10**8):08d}",
                    "en" if n % 7 == 0 else "ja",
                ]
            )


def run_measured(argv: list[str], env: dict) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process; it must succeed."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, cwd=PROJECT, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        sys.exit(f"{' '.join(argv)} exited with {process.returncode}")
    return wall, usage.ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    rows = parser.parse_args().rows

    with tempfile.TemporaryDirectory(prefix="jenco-bench-") as tmp:
        tmp = Path(tmp)
        database, export = tmp / "bench.sqlite3", tmp / "members.csv"
        env = os.environ | {
            "DJANGO_SETTINGS_MODULE": "jenco.settings",
            "DATABASE_URL": f"sqlite:///{database}",
            "DEBUG": "0",
            "SECRET_KEY": "bench-only-not-a-secret-" + "x" * 40,
        }
        manage = [sys.executable, "manage.py"]
        write_csv(export, rows)
        size = export.stat().st_size / 2**20
        subprocess.run([*manage, "migrate", "--verbosity", "0"], cwd=PROJECT, env=env, check=True)

        print(f"{rows:,} rows, {size:.1f} MB CSV (UTF-8), fresh SQLite database, DEBUG=0")
        print(f"{'run':<26}{'wall':>9}{'rows/s':>10}{'peak RSS':>11}")
        for label in ["first import (creates)", "re-run (all unchanged)"]:
            wall, rss = run_measured([*manage, "import_ja_members", str(export)], env)
            print(f"{label:<26}{wall:>8.1f}s{rows / wall:>10,.0f}{rss:>8.0f} MB", flush=True)
            record(
                f"JA import, {rows:,} rows: {label}",
                f"{wall:.1f} s, {rss:.0f} MB",
                "<= 10 s, <= 300 MB",
                wall <= 10 and rss <= 300 if rows == 100_000 else None,
            )

        with sqlite3.connect(database) as db:
            (count,) = db.execute("SELECT count(*) FROM accounts_member").fetchone()
        if count != rows:
            sys.exit(f"expected {rows} members, found {count}")
        print(f"members in the database afterwards: {count:,}")


if __name__ == "__main__":
    main()
