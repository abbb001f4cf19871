"""Cold start: ``import function_app`` vs bare ``import azure.functions`` in fresh interpreters.

Runs are interleaved (A, B, A, B, ...) so machine noise hits both alike; the result is the ratio of
medians. Target: ≤ 1.5×.

    .venv/bin/python -m bench.cold_start [--runs 21]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def one(statement: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], check=True, cwd=ROOT)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    one("import function_app")  # warm the OS file cache and .pyc files for both
    bare, app = [], []
    for _ in range(args.runs):
        bare.append(one("import azure.functions"))
        app.append(one("import function_app"))
    b, a = statistics.median(bare), statistics.median(app)
    print(f"import azure.functions: median {b * 1000:.0f} ms over {args.runs} runs")
    print(f"import function_app:    median {a * 1000:.0f} ms over {args.runs} runs")
    print(f"ratio: {a / b:.2f}x (target <= 1.5x)")
    return 0 if a / b <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
