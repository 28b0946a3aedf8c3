"""Run every benchmark in this folder, one after the other, and print their reports.

    .venv/bin/python benchmarks/run_all.py           # quick sizes (a few minutes on 2 cores)
    .venv/bin/python benchmarks/run_all.py --full    # the sizes the README reports (long)

Each benchmark measures its reference in the same run and prints ratios against it, so the
figures compare on any machine; the absolute times depend on it (print `nproc` beside them).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="full sizes (tens of minutes)")
    ap.add_argument("only", nargs="*", help="names such as network, staging (default: all)")
    args = ap.parse_args()
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if any(o in s.stem for o in args.only)]
    print(f"machine: {os.cpu_count()} cores, {sys.platform}, Python {sys.version.split()[0]}")
    failed = 0
    for script in scripts:
        cmd = [sys.executable, str(script)] + ([] if args.full else ["--quick"])
        print(f"\n=== {script.name} {'(full)' if args.full else '(quick)'} ===", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call(cmd, cwd=HERE.parent)
        print(f"--- {script.name}: exit {rc} in {time.perf_counter() - t0:.1f} s", flush=True)
        failed += rc != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
