"""Exactly once under faults, against Azurite and each engine's emulator (ADF, Synapse, Fabric) over real
sockets.

Each seeded schedule drops a few upstream batches (some markers and files arrive late), then plays
rounds of concurrent ticks while crashing ticks at a random step of claim → createRun → record
(before or after the step took effect), and making the factory answer 429 or 500 (before or after
creating the run). A final healing phase runs clean ticks past the claim timeout. Every complete
batch must end with exactly one run: no duplicates, none never run.

ADF and Synapse reconcile a batch by its batch id parameter; Fabric, whose job instances carry no
parameters, by the start attempt's window, one unresolved start per pipeline (the watcher's start slot).
Schedules per engine: ``SCHEDULES``.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox.adf_emulator import ADFEmulator
from sandbox.engine_emulator import EngineEmulator
from sandbox.fabric_emulator import FabricEmulator
from sandbox.synapse_emulator import SynapseEmulator
from shared.adapters.data_factory import DataFactoryRunner
from shared.adapters.fabric import FabricRunner
from shared.adapters.storage import AzureBlobStore, TableStateStore
from shared.adapters.synapse import SynapseRunner
from shared.connections import FactoryRef, StorageTarget
from shared.core.models import PipelineRun
from shared.core.spec import PipelinesConfig
from shared.core.typed import coerce
from shared.ports import Entity, PipelineRunner
from shared.services.deps import Deps, Tables
from shared.services.upstream_watcher import run_tick
from tests.fakes import FixedClock, ListAlertSink

SCHEDULES = {"adf": 100, "synapse": 50, "fabric": 80}   # ~150 s in all, as 200 ADF-only ones took
KNOBS: dict[str, Any] = {"retries": 2, "backoff": 0.01}
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

    def scan(self, table: str, row_from: str = "", row_to: str = "", *,
             since: tuple[str, str] | None = None) -> Any:
        return self.inner.scan(table, row_from, row_to, since=since)

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
    def __init__(self, inner: PipelineRunner, plan: FaultPlan) -> None:
        self.inner, self.plan = inner, plan

    def start_run(self, pipeline: str, parameters: Mapping[str, Any], *,
                  before_retry: Callable[[], None] | None = None) -> str:
        return self.plan.step(lambda: self.inner.start_run(pipeline, parameters))  # type: ignore[no-any-return]

    def get_run(self, run_id: str) -> PipelineRun:
        return self.inner.get_run(run_id)

    def query_runs(self, pipeline: str, since: datetime, until: datetime) -> list[PipelineRun]:
        return self.inner.query_runs(pipeline, since, until)


class CrashingFabricRunner(CrashingRunner):
    """Fabric's runner also finds a start by its time (reads never crash a tick here)."""

    inner: FabricRunner

    def find_started_run(self, pipeline: str, *, claimed_at: datetime,
                         known_run_ids: Collection[str] = ()) -> PipelineRun | None:
        return self.inner.find_started_run(pipeline, claimed_at=claimed_at, known_run_ids=known_run_ids)


def _engine(name: str) -> tuple[EngineEmulator, PipelineRunner]:
    pipelines = {"noop": lambda context: None}
    if name == "adf":
        adf = ADFEmulator(pipelines=pipelines, page_size=50).start()
        ref = FactoryRef(adf.subscription_id, adf.resource_group, adf.factory_name, adf.url)
        return adf, DataFactoryRunner(ref, **KNOBS)
    if name == "synapse":
        synapse = SynapseEmulator(pipelines=pipelines, page_size=50).start()
        return synapse, SynapseRunner(synapse.url, **KNOBS)
    # Fabric keeps only the newest instances of an item, as the real one does (about 100): plenty here.
    fabric = FabricEmulator(pipelines=pipelines, page_size=50, retention=1000).start()
    return fabric, FabricRunner(fabric.workspace_id, fabric.items, base_url=f"{fabric.url}/v1", **KNOBS)


@pytest.fixture(scope="module", params=["adf", "synapse", "fabric"])
def engine(request: pytest.FixtureRequest) -> Iterator[tuple[str, EngineEmulator, PipelineRunner]]:
    emulator, runner = _engine(request.param)
    emulator.configure(queue_delay=0.0, run_duration=0.0)
    try:
        yield request.param, emulator, runner
    finally:
        emulator.stop()


def dataset_config(name: str, prefix: str, engine: str) -> PipelinesConfig:
    raw = {"datasets": [{"name": name, "upstream": {
        "container": "faults", "prefix": prefix, "lookback": "3d", "batch": {"marker": "_SUCCESS"},
        "staleness": {"enabled": False}},
        "pipeline": {"name": "noop", "engine": engine, "concurrency": {"policy": "concurrent", "max_runs": 10},
                     **({"item": "noop"} if engine == "fabric" else {})}}]}
    config, problems = coerce(PipelinesConfig, raw)
    assert config is not None, problems
    return config


def play(seed: int, storage: StorageTarget, factory: EngineEmulator, runner: PipelineRunner,
         blobs: AzureBlobStore, engine: str) -> dict[str, int]:
    rng = random.Random(seed)
    name, prefix = f"d{seed}", f"s{seed}-{uuid.uuid4().hex[:6]}"
    config = dataset_config(name, prefix, engine)
    tables = Tables("f" + uuid.uuid4().hex[:12])
    state = TableStateStore(storage, retry_total=0)
    clock = FixedClock(datetime.now(UTC).replace(microsecond=0))
    if engine == "fabric":
        # Fabric finds a start by its time: runs start on the test's time line, and schedules, which share
        # the item but not their state, each play an hour after the last one ended (as another deployment
        # would), so a run of an earlier schedule is no start of this one's.
        clock.at = max(clock.at, getattr(factory, "time_line", clock.at))
        factory.clock = clock.now
    crashing = CrashingFabricRunner if engine == "fabric" else CrashingRunner
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
        deps = Deps(config, clock, blobs, CrashingState(state, plan), None, ListAlertSink(), tables, CLAIM_TIMEOUT,
                    runners={engine: crashing(runner, plan)})
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
    if engine == "fabric":
        factory.time_line = clock.now() + timedelta(hours=1)  # type: ignore[attr-defined]
    return {day: len(factory.runs(batch_id=f"{name}:{day}")) for day in days}


@pytest.mark.slow
def test_random_faults_never_duplicate_or_lose_a_run_on_any_engine(
        storage: StorageTarget, engine: tuple[str, EngineEmulator, PipelineRunner]) -> None:
    name, factory, runner = engine
    blobs = AzureBlobStore(storage, retry_total=0)
    duplicates, never_run, batches = [], [], 0
    for seed in range(SCHEDULES[name]):
        counts = play(seed, storage, factory, runner, blobs, name)
        batches += len(counts)
        duplicates += [(seed, day, n) for day, n in counts.items() if n > 1]
        never_run += [(seed, day) for day, n in counts.items() if n == 0]
    assert batches >= SCHEDULES[name]
    assert duplicates == [], f"duplicate runs: {duplicates[:10]}"
    assert never_run == [], f"batches never run: {never_run[:10]}"
