"""Delta validation cost: one table version of 100 files judged from its commit's statistics.

    .venv/bin/python -m bench.delta_log [--files 100] [--rows 2000000]

Writes a Delta table with deltalake (one commit adding ``--files`` Parquet files, one per partition),
then profiles that version as the guard does (``core.delta_profile.read_version``) with a statistics-only
contract and, for comparison, with a drift contract that must read the data. Bytes of data files are
counted by the Parquet profiler's counting reader; bytes of the log by the reader below. Target: the
statistics-only contract reads at most 1 MiB of data files (it should read none).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET = 1 << 20
STATS = {"format": "delta", "rows": {"min": 1000},
         "columns": {"id": {"type": "integer", "nullable": False, "min": 0},
                     "ts": {"type": "timestamp", "nullable": False}, "label": {"type": "string"}},
         "freshness": {"column": "ts", "max_age": "36500d"}}
DRIFT = {**STATS, "columns": {**STATS["columns"], "score": {"type": "float", "min": 0, "max": 1}},
         "drift": {"columns": ["score"]}}


def write(table: Path, files: int, rows: int) -> None:
    import numpy as np
    import pyarrow as pa
    from deltalake import write_deltalake

    rng = np.random.default_rng(0)
    t0 = datetime(2026, 11, 21, tzinfo=UTC)
    data = pa.table({"id": pa.array(np.arange(rows, dtype=np.int64)),
                     "ts": pa.array([t0 + timedelta(seconds=int(s)) for s in rng.integers(0, 86_400, rows)],
                                    pa.timestamp("us", "UTC")),
                     "label": pa.array([f"l{i}" for i in rng.integers(0, 50, rows)]),
                     "score": pa.array(rng.random(rows)),
                     "part": pa.array(np.arange(rows) % files)})
    write_deltalake(str(table), data, partition_by=["part"])


def measure(table: Path, raw: dict[str, object], runs: int) -> tuple[int, int, int, float, int]:
    """(data bytes read, files read, log bytes read, median seconds, rows)."""
    from shared.adapters.profilers import profile_file
    from shared.core.delta_log import AddedFile
    from shared.core.delta_profile import read_version
    from shared.core.profile import Profile
    from shared.core.spec import Contract
    from shared.core.typed import coerce

    contract, problems = coerce(Contract, raw)
    assert contract is not None, problems
    log_bytes = [0]

    def read(name: str) -> bytes | None:
        path = table / name
        if not path.exists():
            return None
        data = path.read_bytes()
        log_bytes[0] += len(data)
        return data

    def one(add: AddedFile, parquet: Contract) -> Profile:
        return profile_file(table / add.path, parquet, fmt="parquet")

    times = []
    for _ in range(runs):
        log_bytes[0] = 0
        start = time.perf_counter()
        profile, _, files_read = read_version(read, "", 0, contract, one)
        times.append(time.perf_counter() - start)
    assert profile.readable and not profile.problems, profile.problems
    return profile.bytes_read or 0, files_read, log_bytes[0], statistics.median(times), profile.rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        table = Path(tmp) / "table"
        write(table, args.files, args.rows)
        size = sum(p.stat().st_size for p in table.rglob("*.parquet"))
        print(f"Delta version 0: {args.files} files, {args.rows:,} rows, {size / 1e6:.1f} MB of Parquet")
        ok = True
        for label, raw in (("statistics-only contract", STATS), ("drift contract (reads data)", DRIFT)):
            data, files, log, seconds, rows = measure(table, raw, args.runs)
            print(f"  {label:<28} rows {rows:,}  data files read {files:>3}  data bytes {data:>11,}  "
                  f"log bytes {log:,}  median {seconds * 1000:.1f} ms")
            if raw is STATS and data > TARGET:
                ok = False
        print(f"target: statistics-only reads <= {TARGET:,} data bytes: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
