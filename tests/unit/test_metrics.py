"""Metrics for Azure Monitor on fakes: what a validation and a run decision record, with which dimensions."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

import pytest

from shared.core import metrics
from shared.core.findings import Finding
from shared.core.history import ColumnStats, Observation
from shared.core.models import Severity
from shared.core.profile import ColumnProfile, Histogram, Profile
from shared.core.spec import Contract, PipelinesConfig
from shared.core.typed import coerce
from shared.services import output_guard, pipeline_events
from shared.services.deps import Deps
from tests.fakes import (
    FixedClock,
    ListAlertSink,
    ListQueue,
    MemoryBlobStore,
    MemoryStateStore,
    RecordingMetrics,
    RecordingRunner,
)

DRIFT_BINS = 6


def _profile(rows: int = 100, nulls: int = 5, counts: tuple[int, ...] = (0, 20, 30, 30, 20, 0)) -> Profile:
    return Profile("csv", 4096, rows, MappingProxyType({
        "id": ColumnProfile("id", "integer", count=rows),
        "score": ColumnProfile("score", "float", count=rows - nulls, nulls=nulls, min=0.0, max=1.0, mean=0.5,
                               std=0.2, histogram=Histogram(0.0, 1.0, counts)),
        "extra": ColumnProfile("extra", "string", count=rows)}), column_order=("id", "score", "extra"))


class StubProfiler:
    def __init__(self, profile: Profile) -> None:
        self.profile_value = profile

    def profile(self, container: str, name: str, contract: Contract, size: int | None = None) -> Profile:
        return self.profile_value


def _guard_deps(profile: Profile) -> tuple[Deps, RecordingMetrics, MemoryBlobStore]:
    config, problems = coerce(PipelinesConfig, {"datasets": [{"name": "scores", "output": {
        "container": "outputs", "prefix": "scores",
        "contract": {"format": "csv", "columns": {"id": {"type": "integer"},
                                                  "score": {"type": "float", "min": 0, "max": 1}},
                     "drift": {"columns": ["score"]}}}}]})
    assert config is not None, problems
    clock = FixedClock()
    store, recorded = MemoryBlobStore(clock), RecordingMetrics()
    deps = Deps(config, clock, store, MemoryStateStore(), None, ListAlertSink(), profiler=StubProfiler(profile),
                metrics=recorded)
    return deps, recorded, store


def test_a_validation_records_status_seconds_rows_bytes_and_null_share_per_declared_column() -> None:
    deps, recorded, store = _guard_deps(_profile())
    store.put("outputs", "scores/2026/11/21/part-0.csv", b"x" * 10)
    outcome = output_guard.validate_blob(deps, "outputs", "scores/2026/11/21/part-0.csv", deps.clock.now())
    where = {"dataset": "scores", "stage": "output"}
    assert recorded.values("autopilot.validations") == [(1.0, {**where, "status": outcome.status})]
    [(seconds, dims)] = recorded.values("autopilot.validation.seconds")
    assert 0 <= seconds < 5 and dims == {**where, "status": outcome.status}
    assert recorded.values("autopilot.output.rows") == [(100.0, where)]
    assert recorded.values("autopilot.output.bytes") == [(4096.0, where)]
    # Only the contract's columns: an undeclared column must not add a dimension value per file.
    assert sorted((d["column"], v) for v, d in recorded.values("autopilot.output.null_share")) == [
        ("id", 0.0), ("score", 0.05)]
    assert recorded.values("autopilot.output.drift") == []      # no history yet: no distance to speak of


def test_a_redelivered_blob_records_nothing_twice() -> None:
    deps, recorded, store = _guard_deps(_profile())
    store.put("outputs", "scores/2026/11/21/part-0.csv")
    for _ in range(3):
        output_guard.validate_blob(deps, "outputs", "scores/2026/11/21/part-0.csv", deps.clock.now())
    assert len(recorded.values("autopilot.validations")) == 1


def test_an_unreadable_file_records_its_status_but_no_profile_numbers() -> None:
    deps, recorded, store = _guard_deps(Profile("csv", 10, 0, readable=False, problems=(
        Finding("unreadable", Severity.FAIL, "not a CSV file"),)))
    store.put("outputs", "scores/2026/11/21/part-0.csv")
    output_guard.validate_blob(deps, "outputs", "scores/2026/11/21/part-0.csv", deps.clock.now())
    assert [d["status"] for _, d in recorded.values("autopilot.validations")] == ["fail"]
    assert recorded.values("autopilot.output.rows") == [] and recorded.values("autopilot.output.null_share") == []


def _obs(day: int, counts: tuple[float, ...]) -> Observation:
    return Observation(datetime(2026, 11, day, 6, tzinfo=UTC), "scores", "output", f"f{day}", 100, 100,
                       MappingProxyType({"score": ColumnStats(histogram=counts)}))


def test_drift_distance_is_the_psi_against_the_pooled_recent_histograms_once_seven_exist() -> None:
    normal = (0.0, 20.0, 30.0, 30.0, 20.0, 0.0)
    shifted = (0.0, 0.0, 10.0, 20.0, 40.0, 30.0)
    past = [_obs(d, normal) for d in range(1, 8)]
    assert metrics.drift_distances(_obs(20, normal), past[:6], ["score"]) == {}
    assert metrics.drift_distances(_obs(20, normal), past, ["score"])["score"] == pytest.approx(0.0)
    moved = metrics.drift_distances(_obs(20, shifted), past, ["score"])["score"]
    assert moved > 0.25
    # Histograms of another shape are not compared with these.
    assert metrics.drift_distances(_obs(20, (1.0, 2.0, 3.0)), past, ["score"]) == {}


def test_every_point_names_a_declared_instrument() -> None:
    with pytest.raises(ValueError, match="unknown metric"):
        metrics.MetricPoint("autopilot.nonsense", 1.0)


def _run_world() -> tuple[Deps, RecordingMetrics, RecordingRunner, FixedClock]:
    config, problems = coerce(PipelinesConfig, {"datasets": [{
        "name": "scores", "upstream": {"container": "upstream"}, "pipeline": {"name": "score_batch"}}]})
    assert config is not None, problems
    clock = FixedClock()
    runner, recorded = RecordingRunner(clock), RecordingMetrics()
    deps = Deps(config, clock, MemoryBlobStore(clock), MemoryStateStore(), runner, ListAlertSink(),
                verdict_wait=timedelta(0), events_queue=ListQueue(), metrics=recorded)
    return deps, recorded, runner, clock


def _decide(deps: Deps, run_id: str, status: str) -> None:
    event = {"factory": "f", "pipeline": "score_batch", "runId": run_id, "status": status,
             "batchId": "scores:2026/11/21"}
    pipeline_events.accept(deps, json.dumps(event).encode(), "application/json", deps.clock.now())
    assert isinstance(deps.events_queue, ListQueue)
    for message in deps.events_queue.drain():
        pipeline_events.process(deps, message, deps.clock.now())


def test_a_run_decision_records_the_runs_outcome_and_duration_once() -> None:
    deps, recorded, runner, clock = _run_world()
    run_id = runner.start_run("score_batch", {"batchId": "scores:2026/11/21"})
    clock.advance(minutes=12)
    runner.finish(run_id)
    _decide(deps, run_id, "Succeeded")
    _decide(deps, run_id, "Succeeded")        # a retried Web activity: decided once, counted once
    assert recorded.values("autopilot.runs") == [(1.0, {"dataset": "scores", "pipeline": "score_batch",
                                                         "outcome": "succeeded", "decision": "refresh_skipped"})]
    assert [v for v, _ in recorded.values("autopilot.run.seconds")] == [720.0]


def test_a_failed_run_is_counted_as_failed() -> None:
    deps, recorded, runner, _ = _run_world()
    run_id = runner.start_run("score_batch", {"batchId": "scores:2026/11/21"})
    runner.activities[run_id] = [{"activity": "Train", "type": "DatabricksNotebook", "status": "Failed",
                                  "error": "boom", "output": {}}]
    _decide(deps, run_id, "Failed")
    assert [d["outcome"] for _, d in recorded.values("autopilot.runs")] == ["failed"]
