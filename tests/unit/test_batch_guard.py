"""The output guard and the batch guard over in-memory state: a batched dataset's parts are judged
one by one and the batch once, whatever triggers it and however often."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

from shared.core.history import Observation
from shared.core.spec import PipelinesConfig
from shared.core.typed import coerce
from shared.services import batch_guard, output_guard
from shared.services.deps import Deps
from shared.services.ledgers import Ledgers
from shared.services.ledgers.history import HistoryRecord
from tests.fakes import FixedClock, ListAlertSink, MemoryBlobStore, MemoryStateStore

KEY = "2026/11/21"
CONTRACT = {"format": "csv", "columns": {"id": {"type": "integer"}, "score": {"type": "float"}}}


class MemoryProfiler:
    def __init__(self, store: MemoryBlobStore) -> None:
        self.store = store

    def profile(self, container: str, name: str, contract: Any, size: int | None = None) -> Any:
        from shared.adapters import profilers

        data = self.store.read_bytes(container, name)
        return profilers.profile_file(io.BufferedReader(io.BytesIO(data)), contract, fmt="csv", size=len(data))


def world(batch: dict[str, Any]) -> Deps:
    config, problems = coerce(PipelinesConfig, {"datasets": [{
        "name": "scores", "upstream": {"container": "upstream"},
        "output": {"container": "outputs", "prefix": "scores", "batch": batch, "contract": CONTRACT}}]})
    assert config is not None, problems
    clock = FixedClock()
    store = MemoryBlobStore(clock)
    return Deps(config, clock, store, MemoryStateStore(), None, ListAlertSink(), profiler=MemoryProfiler(store))


def csv(rows: int) -> bytes:
    return ("id,score\n" + "".join(f"{i},0.{i % 10}\n" for i in range(rows))).encode()


def land(deps: Deps, name: str, data: bytes) -> output_guard.GuardOutcome:
    deps.data.put("outputs", f"scores/{KEY}/{name}", data)  # type: ignore[attr-defined]
    return output_guard.validate_blob(deps, "outputs", f"scores/{KEY}/{name}", deps.clock.now())


def observations(deps: Deps) -> list[Observation]:
    return [r.parsed() for r in Ledgers.of(deps).history.between("scores", "output", "2000", "9999")]


def test_parts_raise_nothing_and_the_marker_judges_the_batch_once() -> None:
    deps = world({"marker": "_SUCCESS"})
    outcomes = [land(deps, f"part-{i}.csv", csv(50)) for i in range(3)]
    bad = land(deps, "part-3.csv", b"id,score\n")

    assert [o.alerts for o in [*outcomes, bad]] == [[], [], [], []] and bad.status == "fail"
    assert observations(deps) == []                          # nothing learned before the batch is complete
    marker = land(deps, "_SUCCESS", b"")
    again = land(deps, "_SUCCESS", b"")                      # redelivered (a new ETag, even)

    assert marker.alerts == ["output_failed"] and again.alerts == []
    [alert] = deps.alerts.alerts  # type: ignore[attr-defined]
    assert "1 of 4 files failed: part-3.csv" in alert.message and alert.subject == f"batch:{KEY}"
    [batch] = observations(deps)
    assert batch.name == f"batch:{KEY}" and batch.rows == 150
    verdict = Ledgers.of(deps).verdicts.find("scores", KEY)
    assert verdict is not None and verdict.batch_status == "fail" and verdict.status == "fail"


def test_a_quiet_period_batch_is_judged_once_the_period_has_passed() -> None:
    deps = world({"quiet_period": "15m"})
    for i in range(3):
        land(deps, f"part-{i}.csv", csv(50))
    assert batch_guard.settle(deps, deps.config.datasets[0], KEY, deps.clock.now()) is None   # still arriving

    deps.clock.advance(minutes=16)  # type: ignore[attr-defined]
    judged = batch_guard.settle(deps, deps.config.datasets[0], KEY, deps.clock.now())

    assert judged is not None and judged.status == "pass" and judged.alerts == ()
    assert batch_guard.settle(deps, deps.config.datasets[0], KEY, deps.clock.now()) is None
    assert len(observations(deps)) == 1


def test_a_batch_far_below_its_usual_rows_is_a_batch_finding_the_breaker_sees() -> None:
    deps = world({"marker": "_SUCCESS"})
    ledgers = Ledgers.of(deps)
    now = deps.clock.now()
    for d in range(1, 22):   # three weeks of batches of about 1,500 rows
        past = Observation(now - timedelta(days=d), "scores", "output", f"batch:{d}", 30_000, 1500 + 7 * (d % 4))
        ledgers.history.upsert(HistoryRecord.of(past, past.name, ""))
    for i in range(3):
        assert land(deps, f"part-{i}.csv", csv(50)).status == "pass"   # every part passes its contract
    land(deps, "_SUCCESS", b"")

    seen = batch_guard.outputs_seen(deps, deps.config.datasets[0], KEY)
    assert seen.batch_status in ("warn", "fail") and "Row count" in seen.batch_reason
    [alert] = deps.alerts.alerts  # type: ignore[attr-defined]
    assert "rows_anomaly" in alert.facts["findings"] and alert.facts["failing_parts"] == "none"


def test_a_dataset_without_output_batch_keeps_one_observation_and_alert_per_file() -> None:
    deps = world({})
    land(deps, "part-0.csv", csv(50))
    land(deps, "part-1.csv", b"id,score\n")
    assert len(observations(deps)) == 2 and len(deps.alerts.alerts) == 1  # type: ignore[attr-defined]


class FailingOnceSink(ListAlertSink):
    """The alert queue is unreachable for the first alert (the invocation dies there)."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    def emit(self, alert: Any) -> None:
        if not self.failed:
            self.failed = True
            raise ConnectionError("queue unreachable")
        super().emit(alert)


def test_a_batch_claimed_by_an_invocation_that_died_before_alerting_is_alerted_by_the_retry() -> None:
    deps = world({"marker": "_SUCCESS"})
    deps = Deps(deps.config, deps.clock, deps.data, deps.state, None, FailingOnceSink(), profiler=deps.profiler)
    for i in range(2):
        land(deps, f"part-{i}.csv", csv(50))
    land(deps, "part-2.csv", b"id,score\n")
    try:
        land(deps, "_SUCCESS", b"")
    except ConnectionError:
        pass                                                 # the host retries the marker's invocation
    verdict = Ledgers.of(deps).verdicts.find("scores", KEY)
    assert verdict is not None and verdict.batch_status == ""   # the breaker still waits

    retried = output_guard.validate_blob(deps, "outputs", f"scores/{KEY}/_SUCCESS", deps.clock.now())
    again = output_guard.validate_blob(deps, "outputs", f"scores/{KEY}/_SUCCESS", deps.clock.now())

    assert retried.alerts == ["output_failed"] and again.alerts == []
    assert len(deps.alerts.alerts) == 1 and len(observations(deps)) == 1  # type: ignore[attr-defined]
    verdict = Ledgers.of(deps).verdicts.find("scores", KEY)
    assert verdict is not None and verdict.batch_status == "fail"
