"""Run every benchmark (bench/bench_*.py), each in a process of its own, and print its figures.

`make bench` runs this after `make setup`. Each benchmark builds its own temporary database,
so nothing here touches the project's db.sqlite3.
"""

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    print(
        f"Python {platform.python_version()}, Django settings jenco.settings, "
        f"{os.cpu_count()} CPU cores, {platform.system()} {platform.machine()}"
    )
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"\n== {script.stem}", flush=True)
        start = time.perf_counter()
        if subprocess.run([sys.executable, str(script)], cwd=HERE.parent).returncode:
            failed.append(script.name)
        print(f"({script.stem} took {time.perf_counter() - start:.0f} s)", flush=True)
    if failed:
        print(f"\nFailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
