"""``make bench``: every benchmark in turn; each prints its own numbers and exits non-zero when it
misses its target. Results, with the commands that produced them, are kept in bench/RESULTS.md.

    .venv/bin/python -m bench.run [--quick]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FULL = [
    ["bench.cold_start", "--runs", "21"],
    ["bench.detection"],
    ["bench.webhook", "--callers", "50", "--requests", "20"],
    ["bench.csv_validate"],
    ["bench.parquet_validate"],
    ["bench.delta_log"],
    ["bench.backtest", "--core", "1"],
    ["bench.scenarios"],   # reports precision / recall per family; no target enforced yet (issue 12)
    ["bench.status"],
    ["bench.history_import", "--runs", "1"],
]
QUICK = [
    ["bench.cold_start", "--runs", "7"],
    ["bench.detection", "--big", "5000", "--small", "500", "--ticks", "3"],
    ["bench.webhook", "--callers", "20", "--requests", "5"],
    ["bench.backtest", "--sizes", "1000,10000", "--old", "200"],
    ["bench.delta_log", "--rows", "200000"],
    ["bench.status", "--datasets", "10", "--days", "30", "--runs", "3"],
    ["bench.history_import", "--files", "100", "--rows", "500", "--runs", "1"],
]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes, a few minutes")
    args = parser.parse_args()
    failed = []
    for bench in QUICK if args.quick else FULL:
        print(f"\n$ python -m {' '.join(bench)}", flush=True)
        if not (ROOT / (bench[0].replace(".", "/") + ".py")).exists():
            print("  (not present)")
            continue
        if subprocess.run([sys.executable, "-m", *bench], cwd=ROOT, check=False).returncode != 0:
            failed.append(bench[0])
    print(f"\n{len(failed)} benchmark(s) missed their target: {', '.join(failed) or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
