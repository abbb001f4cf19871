"""Exactly once under faults, against Azurite and the ADF emulator over real sockets.

Each seeded schedule drops a few upstream batches (some markers and files arrive late), then plays
rounds of concurrent ticks while crashing ticks at a random step of claim → createRun → record
(before or after the step took effect), and making the factory answer 429 or 500 (before or after
creating the run). A final healing phase runs clean ticks past the claim timeout. Every complete
batch must end with exactly one run: no duplicates, none never run.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox.adf_emulator import ADFEmulator
from shared.adapters.data_factory import DataFactoryRunner
from shared.adapters.storage import AzureBlobStore, TableStateStore
from shared.connections import FactoryRef, StorageTarget
from shared.core.models import PipelineRun
from shared.core.spec import PipelinesConfig
from shared.core.typed import coerce
from shared.ports import Entity
from shared.services.deps import Deps, Tables
from shared.services.upstream_watcher import run_tick
from tests.fakes import FixedClock, ListAlertSink

SCHEDULES = 200
CLAIM_TIMEOUT = timedelta(minutes=2)


class SimulatedCrash(BaseException):
    """The worker died: nothing after this point of the tick runs (not an Exception on purpose)."""


class FaultPlan:
    """Crash at the n-th side-effecting step of one tick, before or after the step takes effect."""

    def __init__(self, crash_at: int | None, when: str) -> None:
        self.crash_at, self.when, self.steps = crash_at, when, 0
        self._lock = threading.Lock()

    def step(self, effect: Any) -> Any:
        with self._lock:
            self.steps += 1
            crash = self.steps == self.crash_at
        if crash and self.when == "before":
            raise SimulatedCrash
        result = effect()
        if crash:
            raise SimulatedCrash
        return result


class CrashingState:
    def __init__(self, inner: TableStateStore, plan: FaultPlan) -> None:
        self.inner, self.plan = inner, plan

    def get(self, table: str, partition: str, row: str) -> Entity | None:
        return self.inner.get(table, partition, row)

    def query(self, table: str, partition: str, row_from: str = "", row_to: str = "") -> Any:
        return self.inner.query(table, partition, row_from, row_to)

    def insert(self, entity: Entity) -> Entity:
        return self.plan.step(lambda: self.inner.insert(entity))  # type: ignore[no-any-return]

    def replace(self, entity: Entity) -> Entity:
        return self.plan.step(lambda: self.inner.replace(entity))  # type: ignore[no-any-return]

    def upsert(self, entity: Entity) -> Entity:
        return self.plan.step(lambda: self.inner.upsert(entity))  # type: ignore[no-any-return]

    def delete(self, entity: Entity) -> None:
        self.plan.step(lambda: self.inner.delete(entity))


class CrashingRunner:
    def __init__(self, inner: DataFactoryRunner, plan: FaultPlan) -> None:
        self.inner, self.plan = inner, plan

    def start_run(self, pipeline: str, parameters: Mapping[str, Any], *,
                  before_retry: Callable[[], None] | None = None) -> str:
        return self.plan.step(lambda: self.inner.start_run(pipeline, parameters))  # type: ignore[no-any-return]

    def get_run(self, run_id: str) -> PipelineRun:
        return self.inner.get_run(run_id)

    def query_runs(self, pipeline: str, since: datetime, until: datetime) -> list[PipelineRun]:
        return self.inner.query_runs(pipeline, since, until)


@pytest.fixture(scope="module")
def factory() -> Iterator[ADFEmulator]:
    with ADFEmulator(pipelines={"noop": lambda context: None}, page_size=50) as emulator:
        emulator.configure(queue_delay=0.0, run_duration=0.0)
        yield emulator


def dataset_config(name: str, prefix: str) -> PipelinesConfig:
    raw = {"datasets": [{"name": name, "upstream": {
        "container": "faults", "prefix": prefix, "lookback": "3d", "batch": {"marker": "_SUCCESS"},
        "staleness": {"enabled": False}},
        "pipeline": {"name": "noop", "concurrency": {"policy": "concurrent", "max_runs": 10}}}]}
    config, problems = coerce(PipelinesConfig, raw)
    assert config is not None, problems
    return config


def play(seed: int, storage: StorageTarget, factory: ADFEmulator, runner: DataFactoryRunner,
         blobs: AzureBlobStore) -> dict[str, int]:
    rng = random.Random(seed)
    name, prefix = f"d{seed}", f"s{seed}-{uuid.uuid4().hex[:6]}"
    config = dataset_config(name, prefix)
    tables = Tables("f" + uuid.uuid4().hex[:12])
    state = TableStateStore(storage, retry_total=0)
    clock = FixedClock(datetime.now(UTC).replace(microsecond=0))
    days = [f"{(clock.now() - timedelta(days=d)):%Y/%m/%d}" for d in range(rng.randint(1, 3))]
    pending_markers: list[str] = []
    for day in days:
        for i in range(rng.randint(1, 3)):
            blobs.write_bytes("faults", f"{prefix}/{day}/part-{i}.csv", b"id\n1\n")
        if rng.random() < 0.4:
            pending_markers.append(day)                # its marker comes in a later round
        else:
            blobs.write_bytes("faults", f"{prefix}/{day}/_SUCCESS", b"")

    def tick(plan: FaultPlan) -> None:
        deps = Deps(config, clock, blobs, CrashingState(state, plan), CrashingRunner(runner, plan),
                    ListAlertSink(), tables, CLAIM_TIMEOUT)
        try:
            run_tick(deps, clock.now())
        except SimulatedCrash:
            pass

    for _ in range(rng.randint(2, 4)):
        if pending_markers and rng.random() < 0.5:   # a late marker completes a batch
            blobs.write_bytes("faults", f"{prefix}/{pending_markers.pop()}/_SUCCESS", b"")
        if rng.random() < 0.2:                         # a late file lands in a (maybe started) batch
            blobs.write_bytes("faults", f"{prefix}/{rng.choice(days)}/late-{rng.randint(0, 9)}.csv", b"id\n2\n")
        fault = rng.random()
        if fault < 0.15:
            factory.fail_next("createRun", status=429, retry_after=0.01)
        elif fault < 0.35:
            factory.fail_next("createRun", status=500, when=rng.choice(["before", "after"]))
        plans = [FaultPlan(rng.randint(1, 6) if rng.random() < 0.6 else None, rng.choice(["before", "after"]))
                 for _ in range(rng.randint(1, 3))]
        threads = [threading.Thread(target=tick, args=(plan,)) for plan in plans]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        clock.advance(seconds=rng.randint(0, 180))
    for day in pending_markers:
        blobs.write_bytes("faults", f"{prefix}/{day}/_SUCCESS", b"")
    factory.reset_faults()
    for _ in range(3):                                 # healing: clean ticks past the claim timeout
        clock.advance(seconds=CLAIM_TIMEOUT.total_seconds() + 1)
        tick(FaultPlan(None, "before"))
    return {day: len(factory.runs(batch_id=f"{name}:{day}")) for day in days}


@pytest.mark.slow
def test_random_faults_never_duplicate_or_lose_a_run(storage: StorageTarget, factory: ADFEmulator) -> None:
    runner = DataFactoryRunner(
        FactoryRef(factory.subscription_id, factory.resource_group, factory.factory_name, factory.url),
        retries=2, backoff=0.01)
    blobs = AzureBlobStore(storage, retry_total=0)
    duplicates, never_run, batches = [], [], 0
    for seed in range(SCHEDULES):
        counts = play(seed, storage, factory, runner, blobs)
        batches += len(counts)
        duplicates += [(seed, day, n) for day, n in counts.items() if n > 1]
        never_run += [(seed, day) for day, n in counts.items() if n == 0]
    assert batches >= SCHEDULES
    assert duplicates == [], f"duplicate runs: {duplicates[:10]}"
    assert never_run == [], f"batches never run: {never_run[:10]}"
