"""Each engine's runner under the faults a start can meet (429 before, 5xx before or after the run is
created, a lost answer, throttling beyond the budget), with the reconciliation a caller does after
``Unavailable``: every batch ends with exactly one run, none twice, none missed.

ADF and Synapse find a run by its batch id parameter; Fabric, whose job instances carry no
parameters, by the start attempt's window (``FabricRunner.find_started_run``). The watcher's own
fault test (claims, crashes, concurrent ticks, the start slot) runs against each engine in
``test_exactly_once_faults.py``."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox.adf_emulator import ADFEmulator
from sandbox.engine_emulator import EngineEmulator
from sandbox.fabric_emulator import FabricEmulator
from sandbox.synapse_emulator import SynapseEmulator
from shared.adapters.data_factory import DataFactoryRunner
from shared.adapters.fabric import FabricRunner
from shared.adapters.synapse import SynapseRunner
from shared.connections import FactoryRef
from shared.errors import Throttled, Unavailable
from shared.ports import PipelineRunner
from tests.integration.adf_fixture import TEST_PIPELINES

KNOBS: dict[str, Any] = {"retries": 2, "backoff": 0.01, "max_wait": 0.5, "connect_timeout": 2.0,
                         "read_timeout": 0.4}
FAULTS = ("none", "429 before", "500 before", "500 after", "503 after", "lost answer", "throttled long")


@dataclass
class Engine:
    emulator: EngineEmulator
    runner: PipelineRunner
    reconcile: Callable[[str, datetime, set[str]], str | None]


def _by_batch_id(runner: PipelineRunner) -> Callable[[str, datetime, set[str]], str | None]:
    def reconcile(batch: str, claimed_at: datetime, known: set[str]) -> str | None:
        until = datetime.now(UTC) + timedelta(minutes=5)
        runs = runner.query_runs("copy_job", claimed_at - timedelta(minutes=5), until)
        found = sorted(r.run_id for r in runs if r.parameters.get("batchId") == batch)
        return found[0] if found else None
    return reconcile


def _engine(name: str) -> Engine:
    if name == "adf":
        adf = ADFEmulator(TEST_PIPELINES).start()
        ref = FactoryRef(adf.subscription_id, adf.resource_group, adf.factory_name, adf.url)
        adf_runner = DataFactoryRunner(ref, **KNOBS)
        return Engine(adf, adf_runner, _by_batch_id(adf_runner))
    if name == "synapse":
        synapse = SynapseEmulator(TEST_PIPELINES).start()
        synapse_runner = SynapseRunner(synapse.url, **KNOBS)
        return Engine(synapse, synapse_runner, _by_batch_id(synapse_runner))
    fabric = FabricEmulator(TEST_PIPELINES, page_size=20).start()
    fabric_runner = FabricRunner(fabric.workspace_id, fabric.items, base_url=f"{fabric.url}/v1", **KNOBS)

    def by_window(batch: str, claimed_at: datetime, known: set[str]) -> str | None:
        found = fabric_runner.find_started_run("copy_job", claimed_at=claimed_at, known_run_ids=known)
        return None if found is None else found.run_id
    return Engine(fabric, fabric_runner, by_window)


@pytest.fixture(params=["adf", "synapse", "fabric"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    built = _engine(request.param)
    try:
        yield built
    finally:
        built.emulator.stop()


def _inject(emulator: EngineEmulator, fault: str) -> None:
    if fault == "429 before":
        emulator.fail_next("createRun", status=429, retry_after=0.01)
    elif fault == "500 before":
        emulator.fail_next("createRun", status=500)
    elif fault in ("500 after", "503 after"):
        emulator.fail_next("createRun", status=int(fault[:3]), when="after")
    elif fault == "lost answer":
        emulator.slow_next("createRun", seconds=0.8)
    elif fault == "throttled long":
        emulator.fail_next("createRun", status=429, retry_after=30, count=3)


def _start_once(engine: Engine, batch: str, known: set[str]) -> str:
    """What the watcher does for one claimed batch: start; after Unavailable, reconcile before starting again."""
    claimed_at = datetime.now(UTC)
    for _ in range(6):
        try:
            return engine.runner.start_run("copy_job", {"batchId": batch})
        except Throttled:
            engine.emulator.reset_faults()        # the next tick comes after the Retry-After
        except Unavailable:
            found = engine.reconcile(batch, claimed_at, known)
            if found is not None:
                return found
    raise AssertionError(f"batch {batch} never started")


def test_every_batch_gets_exactly_one_run_whatever_fault_its_start_meets(engine: Engine) -> None:
    rng = random.Random(15)
    known: set[str] = set()
    recorded: dict[str, str] = {}
    for i in range(24):
        batch = f"scores:2026/11/{i + 1:02d}"
        fault = FAULTS[i % len(FAULTS)] if i < len(FAULTS) else rng.choice(FAULTS)
        _inject(engine.emulator, fault)
        recorded[batch] = run_id = _start_once(engine, batch, known)
        known.add(run_id)

    runs = engine.emulator.runs()
    per_batch = {batch: [r["runId"] for r in runs if r["parameters"].get("batchId") == batch] for batch in recorded}
    assert {b: len(ids) for b, ids in per_batch.items() if len(ids) != 1} == {}   # no duplicate, none missed
    assert {b: ids[0] for b, ids in per_batch.items()} == recorded                # and each recorded run is its own
