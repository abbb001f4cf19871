"""``autopilot history import`` of 1,000 output files on Azurite against CSV validation of the same files:
the import must run at ≥ 0.8× the validation throughput (issue 13 point 4).

    .venv/bin/python -m bench.history_import [--files 1000] [--rows 2000] [--runs 3]

The files (10 a day over 100 days, CSV, id/ts/score/label with a drift column) are written once to an
in-memory Azurite. Three passes over them, interleaved, each from fresh state (a new table prefix):

- **validation**: the output guard's ``validate_blob`` on every file in time order, as the blob trigger
  runs it (profile, contract and history checks, report, history, verdict, receipt): the app's CSV
  validation of a blob, and the baseline of the target;
- **import**: ``history_seed.import_history`` (list the partitions, profile every file, write its
  observation), what ``autopilot history import`` runs after reading its settings;
- **profile only**: the streaming profiler over every file, nothing else (the floor both share).

Throughput is CSV megabytes per second of wall time; the medians of ``--runs`` passes are compared.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

TARGET = 0.8
PER_DAY = 10


def csv_file(rows: int, rng: random.Random, day: datetime) -> bytes:
    ts = day.strftime("%Y-%m-%dT06:00:00Z")
    return ("id,ts,score,label\n" + "".join(
        f"{i},{ts},{rng.random():.6f},{rng.randrange(2)}\n" for i in range(rows))).encode()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from sandbox.azurite import Azurite
    from shared.adapters.blob_profiler import BlobProfiler
    from shared.adapters.storage import AzureBlobStore, TableStateStore
    from shared.connections import StorageTarget
    from shared.core.spec import PipelinesConfig
    from shared.core.typed import coerce
    from shared.services import history_seed, output_guard
    from shared.services.deps import Deps, Tables
    from tests.fakes import FixedClock, ListAlertSink

    config, problems = coerce(PipelinesConfig, {"datasets": [{"name": "scores", "output": {
        "container": "outputs", "prefix": "scores", "contract": {
            "format": "csv", "columns": {"id": {"type": "integer", "nullable": False}, "ts": {"type": "timestamp"},
                                        "score": {"type": "float", "min": 0, "max": 1}, "label": {"type": "string"}},
            "drift": {"columns": ["score"]}}}}]})
    assert config is not None, problems
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    days = -(-args.files // PER_DAY)
    names = [(today - timedelta(days=days - d), f"scores/{today - timedelta(days=days - d):%Y/%m/%d}/part-{p}.csv")
             for d in range(days) for p in range(PER_DAY)][: args.files]
    with tempfile.TemporaryDirectory() as tmp, Azurite(Path(tmp) / "azurite", in_memory=True) as azurite:
        storage = StorageTarget(connection_string=azurite.connection_string)
        blobs = AzureBlobStore(storage)
        rng = random.Random(13)
        payloads = [csv_file(args.rows, rng, day) for day, _ in names]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda pair: blobs.write_bytes("outputs", pair[0][1], pair[1]),
                          zip(names, payloads, strict=True)))
        total_mb = sum(map(len, payloads)) / 1e6
        now = datetime.now(UTC) + timedelta(seconds=1)
        print(f"{len(names)} CSV files, {total_mb:.1f} MB in all, {days} days of partitions")

        def deps(prefix: str) -> Deps:
            return Deps(config, FixedClock(now), blobs, TableStateStore(storage), None, ListAlertSink(),
                        Tables(prefix), profiler=BlobProfiler(storage))

        infos = {i.name: i for i in blobs.list_blobs("outputs", "scores/")}
        ordered = sorted(infos.values(), key=lambda i: i.last_modified)
        contract = config.datasets[0].output.contract  # type: ignore[union-attr]
        results: dict[str, list[float]] = {"validation": [], "import": [], "profile only": []}
        for run in range(args.runs):
            d = deps(f"benchv{run}")
            t0 = time.perf_counter()
            for info in ordered:
                output_guard.validate_blob(replace(d, clock=FixedClock(now)), "outputs", info.name, now)
            results["validation"].append(time.perf_counter() - t0)

            d = deps(f"benchi{run}")
            t0 = time.perf_counter()
            outcome = history_seed.import_history(d, "scores", now - timedelta(days=days + 1), now)
            results["import"].append(time.perf_counter() - t0)
            assert outcome.imported == len(names), outcome

            profiler = BlobProfiler(storage)
            t0 = time.perf_counter()
            for info in ordered:
                profiler.profile("outputs", info.name, contract, size=info.size)
            results["profile only"].append(time.perf_counter() - t0)
            print(f"run {run + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in results.items()), flush=True)
    rate = {k: total_mb / statistics.median(v) for k, v in results.items()}
    for k, v in rate.items():
        print(f"{k:>13}: {v:6.2f} MB/s, {len(names) / statistics.median(results[k]):6.1f} files/s "
              f"(median of {args.runs})")
    ratio = rate["import"] / rate["validation"]
    print(f"import / validation: {ratio:.2f}x; import / profile only: {rate['import'] / rate['profile only']:.2f}x")
    print(f"target ≥ {TARGET}x the validation throughput: {'met' if ratio >= TARGET else 'NOT met'}")
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
