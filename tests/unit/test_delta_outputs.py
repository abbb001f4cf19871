"""The breaker's view of a Delta output: a run's outputs are the table versions committed since it
started, ready when each is judged by the Delta guard (a version adding no data counts as passed)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from shared.core import batch_outputs
from shared.core.spec import PipelinesConfig
from shared.core.typed import coerce
from shared.services import delta_outputs, output_guard
from shared.services.deps import Deps
from tests.fakes import FixedClock, ListAlertSink, MemoryBlobStore, MemoryStateStore
from tests.unit.test_delta_log import COMMIT_INFO, HI, LO, NULLS, PROTOCOL, add, meta

CONTRACT = {"format": "delta", "columns": {"id": {"type": "integer", "min": 1}}}


class NoDataReads:
    def profile(self, container: str, name: str, contract: Any, size: int | None = None) -> Any:
        raise AssertionError(f"a statistics-only contract read {name}")


def world() -> Deps:
    config, problems = coerce(PipelinesConfig, {"datasets": [{
        "name": "sales", "upstream": {"container": "upstream"},
        "output": {"container": "lake", "prefix": "sales", "contract": CONTRACT}}]})
    assert config is not None, problems
    clock = FixedClock()
    return Deps(config, clock, MemoryBlobStore(clock), MemoryStateStore(), None, ListAlertSink(),
                profiler=NoDataReads())


def commit(deps: Deps, version: int, *lines: str) -> str:
    name = f"sales/_delta_log/{version:020d}.json"
    deps.data.put("lake", name, "\n".join(lines).encode())  # type: ignore[attr-defined]
    return name


def seen(deps: Deps, since: Any) -> batch_outputs.OutputsVerdict:
    return batch_outputs.judge_outputs(delta_outputs.outputs_seen(deps, deps.config.datasets[0], since),
                                       timedelta(0), deps.clock.now())


def test_the_versions_a_run_committed_decide_its_refresh() -> None:
    deps = world()
    old = commit(deps, 0, COMMIT_INFO, PROTOCOL, meta(), add("part-0.parquet", 50, LO, HI, NULLS))
    output_guard.validate_blob(deps, "lake", old, deps.clock.now())
    run_started = deps.clock.advance(hours=1)

    assert seen(deps, run_started).reason == "no output files for the batch yet"   # version 0 is not the run's
    deps.clock.advance(minutes=5)
    good = commit(deps, 1, COMMIT_INFO, add("part-1.parquet", 30, LO, HI, NULLS))
    compaction = commit(deps, 2, json.dumps({"commitInfo": {"operation": "OPTIMIZE"}}),
                        json.dumps({"remove": {"path": "part-0.parquet", "dataChange": False}}),
                        add("big.parquet", 80, LO, HI, NULLS, dataChange=False))
    assert "0 of 2 judged" in seen(deps, run_started).reason

    output_guard.validate_blob(deps, "lake", good, deps.clock.now())
    skipped = output_guard.validate_blob(deps, "lake", compaction, deps.clock.now())
    ready = seen(deps, run_started)

    assert "adds no data" in skipped.reason and ready.ready and ready.status == "pass"
    bad = commit(deps, 3, COMMIT_INFO, add("part-3.parquet", 30, {**LO, "id": 0}, HI, NULLS))
    output_guard.validate_blob(deps, "lake", bad, deps.clock.now())
    failed = seen(deps, run_started)
    assert failed.ready and failed.status == "fail" and f"{3:020d}.json" in failed.reason
