"""Parquet validation cost: bytes read for a statistics-only contract, and 1 GB vs 10 MB time.

    python bench/parquet_validate.py            # generates bench/data/*.parquet once, then measures

A contract about schema, nulls, ranges of non-float columns, rows, size and freshness is answered from
the footer's statistics, so validating 1 GB should read about as much (and take about as long) as validating
10 MB. Bytes are counted by a wrapping file object around the real file; times are medians over
repeated in-process runs (warm) and over whole `autopilot validate` processes (cold), one core.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
sys.path.insert(0, str(ROOT))

# Statistics answer it all: no declared float column (Parquet statistics leave NaN out, so a declared
# float column is scanned for NaN; FLOAT_CONTRACT measures that cost).
STATS_CONTRACT = """\
format: parquet
columns:
  id: {type: integer, nullable: false}
  ts: {type: timestamp, nullable: false}
  label: {type: string}
  qty: {type: integer, min: 0, max: 999}
allow_extra_columns: true
rows: {min: 1000}
bytes: {min: 1MB, max: 10GB}
freshness: {column: ts, max_age: 36500d}
"""
FLOAT_CONTRACT = STATS_CONTRACT.replace("allow_extra_columns: true", "allow_extra_columns: false").replace(
    "  label: {type: string}\n", "  label: {type: string}\n  score: {type: float, min: 0, max: 1}\n"
                                 "  amount: {type: float, max_null_fraction: 0.05}\n")
DRIFT_CONTRACT = FLOAT_CONTRACT + "drift: {columns: [score]}\n"


class CountingFile(io.RawIOBase):
    """Counts every byte read from the wrapped file (what a ranged blob read would transfer)."""

    def __init__(self, raw: Any) -> None:
        super().__init__()
        self.raw, self.bytes_read, self.reads = raw, 0, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return int(self.raw.seek(offset, whence))

    def tell(self) -> int:
        return int(self.raw.tell())

    def read(self, size: int | None = -1) -> bytes:
        data = self.raw.read(-1 if size is None else size)
        self.bytes_read += len(data)
        self.reads += 1
        return bytes(data)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def generate(path: Path, target_bytes: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(11)
    rows_per_group = 1_000_000 if target_bytes > 100e6 else 50_000
    base = np.datetime64("2026-11-20T00:00:00", "us")
    tmp = path.with_suffix(".tmp")
    start = 0
    writer = None
    while not tmp.exists() or tmp.stat().st_size < target_bytes:
        n = rows_per_group
        table = pa.table({
            "id": np.arange(start, start + n, dtype=np.int64),
            "ts": pa.array(base + rng.integers(0, 86_400_000_000, n).astype("timedelta64[us]"),
                           pa.timestamp("us", tz="UTC")),
            "score": rng.random(n),
            "label": np.array(["alpha", "beta", "gamma", "delta"])[rng.integers(0, 4, n)],
            "amount": pa.array(rng.normal(100, 30, n), mask=rng.random(n) < 0.01),
            "qty": rng.integers(0, 1000, n),
        })
        start += n
        if writer is None:
            writer = pq.ParquetWriter(str(tmp), table.schema, compression="snappy")
        writer.write_table(table, row_group_size=rows_per_group)
    assert writer is not None
    writer.close()
    tmp.rename(path)


def validate_once(path: Path, contract: Any) -> tuple[float, int, int, str]:
    from shared.adapters.profilers import profile_file
    from shared.core.checks import check
    from shared.core.findings import status

    with open(path, "rb") as raw:
        counted = CountingFile(raw)
        start = time.perf_counter()
        profile = profile_file(counted, contract, fmt="parquet", size=path.stat().st_size)
        findings = check(profile, contract, datetime.now(UTC))
        seconds = time.perf_counter() - start
    return seconds, counted.bytes_read, counted.reads, status(findings)


def cli_seconds(path: Path, contract_path: Path, core: int) -> float:
    start = time.perf_counter()
    proc = subprocess.run(["taskset", "-c", str(core), sys.executable, "-m", "cli.validate", str(path),
                           "--contract", str(contract_path), "--json"], cwd=ROOT, capture_output=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"validate failed ({proc.returncode}): {proc.stderr.decode()[-1000:]}")
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=15, help="in-process runs per file (median)")
    parser.add_argument("--cli-repeat", type=int, default=9, help="whole-process runs per file (median)")
    parser.add_argument("--core", type=int, default=0)
    args = parser.parse_args(argv)
    os.sched_setaffinity(0, {args.core})
    from shared.config import parse_yaml_as
    from shared.core.spec import Contract

    DATA.mkdir(parents=True, exist_ok=True)
    files = {"10 MB": DATA / "scores_10mb.parquet", "1 GB": DATA / "scores_1gb.parquet"}
    for label, path in files.items():
        if not path.exists():
            print(f"generating {path} ...", file=sys.stderr)
            generate(path, int(10e6 if label == "10 MB" else 1e9))
    contracts = {"statistics": STATS_CONTRACT, "float rules (NaN scan of score, amount)": FLOAT_CONTRACT,
                 "drift scan (score)": DRIFT_CONTRACT}
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, text in contracts.items():
            contract = parse_yaml_as(Contract, text, kind)
            contract_path = Path(tmp) / f"{kind.split()[0]}.yaml"
            contract_path.write_text(text)
            cli_runs: dict[str, list[float]] = {label: [] for label in files}
            for _ in range(args.cli_repeat if kind == "statistics" else 0):   # interleaved: load hits both alike
                for label, path in files.items():
                    cli_runs[label].append(cli_seconds(path, contract_path, args.core))
            for label, path in files.items():
                runs = [validate_once(path, contract) for _ in range(args.repeat if kind == "statistics" else 3)]
                cli = cli_runs[label]
                results.append({
                    "contract": kind, "file": label, "file_bytes": path.stat().st_size,
                    "status": runs[0][3], "bytes_read": runs[0][1], "reads": runs[0][2],
                    "median_ms_in_process": statistics.median(r[0] for r in runs) * 1000,
                    "median_s_cli": statistics.median(cli) if cli else None})
    print(render(results))
    (DATA / "parquet_results.json").write_text(json.dumps(results, indent=2))
    stats = {r["file"]: r for r in results if r["contract"] == "statistics"}
    most = max(r["bytes_read"] for r in stats.values())
    ratio = stats["1 GB"]["median_s_cli"] / stats["10 MB"]["median_s_cli"]
    targets = [(f"bytes read {most:,} (target ≤ 1 MiB)", most <= 1 << 20),
               (f"1 GB / 10 MB validation time {ratio:.2f}× (target ≤ 1.2×)", ratio <= 1.2)]
    for text, met in targets:
        print(f"  {text}: {'met' if met else 'MISSED'}")
    return 0 if all(met for _, met in targets) else 1


def render(results: list[dict[str, Any]]) -> str:
    lines = ["| contract | file | size | bytes read | reads | validate (in-process, median) | "
             "`autopilot validate` process (median) | status |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in results:
        cli = f"{r['median_s_cli']:.3f} s" if r["median_s_cli"] is not None else "–"
        lines.append(f"| {r['contract']} | {r['file']} | {r['file_bytes'] / 1e6:,.1f} MB | {r['bytes_read']:,} | "
                     f"{r['reads']} | {r['median_ms_in_process']:.1f} ms | {cli} | {r['status']} |")
    stats = {r["file"]: r for r in results if r["contract"] == "statistics"}
    if {"1 GB", "10 MB"} <= stats.keys():
        warm = stats["1 GB"]["median_ms_in_process"] / stats["10 MB"]["median_ms_in_process"]
        cold = stats["1 GB"]["median_s_cli"] / stats["10 MB"]["median_s_cli"]
        lines.append("")
        lines.append(f"1 GB / 10 MB time ratio (statistics contract): in-process {warm:.2f}×, "
                     f"whole process {cold:.2f}×; most bytes read: "
                     f"{max(r['bytes_read'] for r in stats.values()):,} (limit 1 MiB = 1,048,576)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
