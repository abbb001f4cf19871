"""A 200-part batch of 5 MB Parquet parts judged as one, against one 1 GB Parquet file.

    .venv/bin/python -m bench.batch_parts                 # 200 × 5 MB vs 1 × 1 GB
    .venv/bin/python -m bench.batch_parts --parts 20      # a quick look

Both go through the real output guard (``output_guard.validate_blob``) in this process, with the real
Parquet profiler reading from memory (blob store, state and alerts are the in-memory test doubles, so
what is measured is the guard's own work: profiling, contract checks, state rows, and for the batch the
part rows, the completeness check after every part and the batch judgement on ``_SUCCESS``). The
contract declares float columns and a drift column, so every file is scanned, not only its footer.
Target (issue 11): the batch in ≤ 2× the time of the single file.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from bench.parquet_validate import DATA, DRIFT_CONTRACT, generate

ROOT = Path(__file__).resolve().parent.parent
KEY = "2026/11/29"


class MemoryProfiler:
    """The Profiler port over the in-memory blob store, with the real file profilers."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def profile(self, container: str, name: str, contract: Any, size: int | None = None) -> Any:
        from shared.adapters import profilers

        data = self.store.read_bytes(container, name)
        return profilers.profile_file(io.BufferedReader(io.BytesIO(data)), contract, fmt="parquet", size=len(data))


def deps_for(batched: bool) -> Any:
    from shared.core.spec import PipelinesConfig
    from shared.core.typed import coerce
    from shared.services.deps import Deps
    from tests.fakes import FixedClock, ListAlertSink, MemoryBlobStore, MemoryStateStore

    output: dict[str, Any] = {"container": "outputs", "prefix": "big", "contract": yaml.safe_load(DRIFT_CONTRACT)}
    if batched:
        output["batch"] = {"marker": "_SUCCESS"}
    config, problems = coerce(PipelinesConfig, {"datasets": [{"name": "big", "upstream": {"container": "upstream"},
                                                              "output": output}]})
    assert config is not None, problems
    clock = FixedClock(datetime.now(UTC))
    store = MemoryBlobStore(clock)
    return Deps(config, clock, store, MemoryStateStore(), None, ListAlertSink(), profiler=MemoryProfiler(store))


def data_files(parts: int, part_mb: float, single_gb: float) -> tuple[Path, list[Path]]:
    DATA.mkdir(parents=True, exist_ok=True)
    single = DATA / f"single-{single_gb:g}gb.parquet"
    if not single.exists():
        generate(single, int(single_gb * 1e9))
    part = DATA / f"part-{part_mb:g}mb.parquet"
    if not part.exists():
        generate(part, int(part_mb * 1e6))
    return single, [part] * parts


def main(argv: list[str]) -> int:
    from shared.services import output_guard
    from shared.services.ledgers import Ledgers

    ap = argparse.ArgumentParser()
    ap.add_argument("--parts", type=int, default=200)
    ap.add_argument("--part-mb", type=float, default=5)
    ap.add_argument("--gb", type=float, default=1)
    args = ap.parse_args(argv)
    single, parts = data_files(args.parts, args.part_mb, args.gb)

    one = deps_for(batched=False)
    one.data.put("outputs", f"big/{KEY}/data.parquet", single.read_bytes())
    start = time.perf_counter()
    outcome = output_guard.validate_blob(one, "outputs", f"big/{KEY}/data.parquet", one.clock.now())
    single_s = time.perf_counter() - start
    assert outcome.status in ("pass", "warn"), outcome
    del one

    batch = deps_for(batched=True)
    data = parts[0].read_bytes()
    names = [f"big/{KEY}/part-{i:05d}-3f2a.c000.snappy.parquet" for i in range(len(parts))]
    for name in names:
        batch.data.put("outputs", name, data)
    for bookkeeping in ("_started_8812", "_committed_8812", "_SUCCESS"):
        batch.data.put("outputs", f"big/{KEY}/{bookkeeping}", b"")
    start = time.perf_counter()
    for name in [*names, f"big/{KEY}/_started_8812", f"big/{KEY}/_committed_8812", f"big/{KEY}/_SUCCESS"]:
        output_guard.validate_blob(batch, "outputs", name, batch.clock.now())
    batch_s = time.perf_counter() - start
    led = Ledgers.of(batch)
    judged = led.batch_judgements.get("big|batch", KEY.replace("/", "$2F"))
    observations = [r.parsed() for r in led.history.between("big", "output", "2000", "9999")]
    assert judged is not None and len(observations) == 1, (judged, observations)

    ratio = batch_s / single_s
    print(f"single file: {single.stat().st_size / 1e9:.2f} GB, {single_s:.1f} s")
    print(f"batch: {len(parts)} parts × {parts[0].stat().st_size / 1e6:.1f} MB "
          f"({len(parts) * parts[0].stat().st_size / 1e9:.2f} GB), {batch_s:.1f} s, status {judged.status}, "
          f"one observation of {observations[0].rows:,} rows")
    print(f"ratio batch / single: {ratio:.2f} (target ≤ 2.0) {'MET' if ratio <= 2 else 'NOT MET'}")
    return 0 if ratio <= 2 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
