"""A CSV change, before and after, on the same machine state: `autopilot validate` from a checkout of the
base commit, from this checkout, and pyarrow's typed streaming read, interleaved (order rotates each round).

    git archive main | tar -x -C /tmp/base
    .venv/bin/python -m bench.csv_before_after --base /tmp/base --size 1 --repeat 5

Uses the file and contract of ``bench.csv_validate`` (generated under bench/data/ when absent). Every run
is a child pinned to one core; medians of wall and CPU time, peak RSS from ``os.wait4``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.csv_validate import CONTRACT, DATA, ROOT, generate


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="a checkout of the base commit (e.g. from git archive)")
    parser.add_argument("--size", type=float, default=1.0, help="file size in GB")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--core", type=int, default=1)
    args = parser.parse_args(argv)
    DATA.mkdir(parents=True, exist_ok=True)
    contract = DATA / "csv_contract.yaml"
    contract.write_text(CONTRACT)
    path = DATA / f"mixed_{args.size:g}gb.csv"
    if not path.exists():
        generate(path, int(args.size * 1e9))
    validate = ["-m", "cli.validate", str(path.resolve()), "--contract", str(contract.resolve()), "--json"]
    tools: dict[str, tuple[list[str], Path]] = {
        "before (base)": (validate, Path(args.base).resolve()),
        "after (this checkout)": (validate, ROOT),
        "pyarrow typed read": ([str(ROOT / "bench" / "csv_validate.py"), "--child", "pyarrow typed read",
                                str(path)], ROOT),
    }
    names = list(tools)
    runs: dict[str, list[tuple[float, float, float]]] = {n: [] for n in names}
    for round_ in range(args.repeat):
        for name in names[round_ % 3:] + names[: round_ % 3]:
            command, cwd = tools[name]
            start = time.perf_counter()
            proc = subprocess.Popen(["taskset", "-c", str(args.core), sys.executable, *command], cwd=cwd,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
            if os.waitstatus_to_exitcode(status) not in (0, 1):
                raise SystemExit(f"{name} failed (exit {os.waitstatus_to_exitcode(status)})")
            runs[name].append((wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024))
    size = path.stat().st_size
    wall_base = statistics.median(r[0] for r in runs["pyarrow typed read"])
    cpu_base = statistics.median(r[1] for r in runs["pyarrow typed read"])
    for name in names:
        wall = statistics.median(r[0] for r in runs[name])
        cpu = statistics.median(r[1] for r in runs[name])
        print(f"{name:<22} {size / wall / 1e6:6.0f} MB/s  {wall_base / wall:.2f}x pyarrow (wall)  "
              f"{cpu_base / cpu:.2f}x (CPU)  peak RSS {max(r[2] for r in runs[name]):.0f} MiB  "
              f"(medians of {args.repeat})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
