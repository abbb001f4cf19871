"""Cold start: ``import function_app`` vs the platform's floor, in fresh interpreters.

Two baselines: bare ``import azure.functions``, and ``azure.functions`` plus the SDK-type blob binding
extension (``azurefunctions.extensions.bindings.blob``), which any app whose blob trigger binds a
``BlobClient`` must import at indexing (the worker reads the parameter's annotation; the extension
imports azure.storage.blob and azure.identity). The target, ≤ 1.5×, is against that floor: what the
app itself adds. Runs are interleaved (A, B, C, A, B, C, ...) so machine noise hits all alike; the
result is the ratio of medians.

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
    one("import function_app")  # warm the OS file cache and .pyc files for all
    floor_statement = "import azure.functions, azurefunctions.extensions.bindings.blob"
    bare, floor, app = [], [], []
    for _ in range(args.runs):
        bare.append(one("import azure.functions"))
        floor.append(one(floor_statement))
        app.append(one("import function_app"))
    b, f, a = statistics.median(bare), statistics.median(floor), statistics.median(app)
    print(f"import azure.functions:                      median {b * 1000:.0f} ms over {args.runs} runs")
    print(f"import azure.functions + blob SDK extension: median {f * 1000:.0f} ms over {args.runs} runs")
    print(f"import function_app:                         median {a * 1000:.0f} ms over {args.runs} runs")
    print(f"ratio to the SDK-binding floor: {a / f:.2f}x (target <= 1.5x); to bare azure.functions: {a / b:.2f}x")
    return 0 if a / f <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
