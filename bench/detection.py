"""Detection cost: one watcher tick over 100k historical upstream blobs vs over 1k (Azurite).

Both containers use the same date-partitioned layout (``raw/yyyy/MM/dd/part-N.csv``, 100 files a
day) and hold one new complete batch for today; only the amount of history differs. The tick's cost
should follow new data, not history. Target: time and list calls ≤ 1.5× (100k vs 1k).

    .venv/bin/python -m bench.detection [--big 100000] [--small 1000] [--ticks 7] [--upload]

How the history gets in: today's batch and one template blob are uploaded through the API; the
history is then cloned from the template into the stopped Azurite's database by ``seed_blobs.js``
(Azurite's own LokiJS), and Azurite is restarted on it. Uploading 100k blobs through the API takes
over an hour here because Azurite's PUT scans every blob of the container; ``--upload`` does it
anyway (in memory). Either way the measured ticks talk to Azurite through the real SDK.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sandbox.azurite import TOOLS_DIR, Azurite
from shared.adapters.storage import AzureBlobStore, TableStateStore
from shared.connections import StorageTarget
from shared.core.models import BlobInfo, PipelineRun, RunStatus
from shared.core.spec import PipelinesConfig
from shared.core.typed import coerce
from shared.services.deps import Deps, Tables
from shared.services.upstream_watcher import run_tick

NOW = datetime.now(UTC).replace(microsecond=0)
FILES_PER_DAY = 100


class CountingBlobStore:
    def __init__(self, inner: AzureBlobStore) -> None:
        self.inner, self.list_calls, self.listed = inner, 0, 0

    def list_blobs(self, container: str, prefix: str) -> Iterator[BlobInfo]:
        self.list_calls += 1
        for blob in self.inner.list_blobs(container, prefix):
            self.listed += 1
            yield blob

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class NullRunner:
    def start_run(self, pipeline: str, parameters: Mapping[str, Any], *,
                  before_retry: Callable[[], None] | None = None) -> str:
        return "bench-run"

    def get_run(self, run_id: str) -> PipelineRun:
        return PipelineRun(run_id, "p", RunStatus.SUCCEEDED)

    def query_runs(self, pipeline: str, since: datetime, until: datetime) -> list[PipelineRun]:
        return []

    def query_activity_runs(self, run_id: str) -> list[dict[str, str]]:
        return []


class NullSink:
    def emit(self, alert: object) -> None:
        pass

    def requeue(self, message: str, delay: timedelta) -> None:
        pass


TODAY = [f"raw/{NOW:%Y/%m/%d}/part-000.csv", f"raw/{NOW:%Y/%m/%d}/_SUCCESS"]
SEEDER = Path(__file__).with_name("seed_blobs.js")


def history(total: int) -> list[str]:
    days = max(1, -(-total // FILES_PER_DAY))
    return [f"raw/{(NOW - timedelta(days=d)):%Y/%m/%d}/part-{i:03d}.csv"
            for d in range(1, days + 1) for i in range(FILES_PER_DAY)][:total]


def upload(blobs: AzureBlobStore, container: str, names: list[str]) -> None:
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda n: blobs.write_bytes(container, n, b"id,value\n1,2\n"), names))


def seed(location: Path, sizes: dict[str, int]) -> None:
    """Upload today's batch per container through the API, then clone the history in offline."""
    with Azurite(location) as server:
        blobs = AzureBlobStore(StorageTarget(connection_string=server.connection_string))
        for container in sizes:
            upload(blobs, container, TODAY)
    database = location / "__azurite_db_blob__.json"
    for container, total in sizes.items():
        names = location / f"names-{container}.txt"
        names.write_text("\n".join(history(total)) + "\n", encoding="utf-8")
        subprocess.run(["node", str(SEEDER), str(database), container, TODAY[0], str(names)],
                       check=True, env={**os.environ, "TOOLS": str(TOOLS_DIR)})


def config(container: str) -> PipelinesConfig:
    raw = {"datasets": [{"name": container, "upstream": {
        "container": container, "prefix": "raw", "batch": {"marker": "_SUCCESS"}},
        "pipeline": {"name": "p"}}]}
    result, problems = coerce(PipelinesConfig, raw)
    assert result is not None, problems
    return result


def tick(target: StorageTarget, container: str) -> tuple[float, int, int]:
    """One timed tick: seconds, list calls, blobs listed."""
    blobs = CountingBlobStore(AzureBlobStore(target))
    # A fresh state table each time: every tick detects and starts the new batch.
    deps = Deps(config(container), None, blobs, TableStateStore(target),  # type: ignore[arg-type]
                NullRunner(), NullSink(), Tables(f"b{uuid.uuid4().hex[:16]}"))
    start = time.perf_counter()
    outcome = run_tick(deps, datetime.now(UTC))
    seconds = time.perf_counter() - start
    assert len(outcome.started) == 1, outcome
    return seconds, blobs.list_calls, blobs.listed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--ticks", type=int, default=7)
    parser.add_argument("--upload", action="store_true",
                        help="upload the history through the API instead of seeding it (slow past 20k)")
    args = parser.parse_args()
    sizes = {"small": args.small, "big": args.big}
    location = Path(tempfile.mkdtemp(prefix="bench-detection-"))
    try:
        if not args.upload:
            start = time.perf_counter()
            seed(location, sizes)
            print(f"seeded {sum(sizes.values())} historical blobs in {time.perf_counter() - start:.0f} s",
                  file=sys.stderr)
        return measure_all(args, location)
    finally:
        shutil.rmtree(location, ignore_errors=True)


def measure_all(args: argparse.Namespace, location: Path) -> int:
    server = Azurite(in_memory=True) if args.upload else Azurite(location, startup_timeout=300)
    with server:
        target = StorageTarget(connection_string=server.connection_string)
        if args.upload:
            blobs = AzureBlobStore(target)
            for name, total in (("small", args.small), ("big", args.big)):
                start = time.perf_counter()
                upload(blobs, name, history(total) + TODAY)
                print(f"uploaded {total} historical blobs to '{name}' in "
                      f"{time.perf_counter() - start:.0f} s", file=sys.stderr)
        # One untimed tick per side first: Azurite's first query on a collection builds its indexes.
        tick(target, "small")
        tick(target, "big")
        # Interleave the measurements so drift in Azurite hits both sides alike.
        small_t, big_t = [], []
        for _ in range(args.ticks):
            small_t.append(tick(target, "small"))
            big_t.append(tick(target, "big"))
    s_time = statistics.median(t for t, _, _ in small_t)
    b_time = statistics.median(t for t, _, _ in big_t)
    _, s_calls, s_listed = small_t[-1]
    _, b_calls, b_listed = big_t[-1]
    print(f"{args.small:>7} historical blobs: tick median {s_time * 1000:.0f} ms, {s_calls} list calls, "
          f"{s_listed} blobs listed")
    print(f"{args.big:>7} historical blobs: tick median {b_time * 1000:.0f} ms, {b_calls} list calls, "
          f"{b_listed} blobs listed")
    print(f"ratio: time {b_time / s_time:.2f}x, list calls {b_calls / s_calls:.2f}x (target <= 1.5x)")
    return 0 if b_time / s_time <= 1.5 and b_calls / s_calls <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
