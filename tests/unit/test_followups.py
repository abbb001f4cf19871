"""The follow-up timer: a stuck run is raised once, and one failing step never stops the others."""

from __future__ import annotations

from shared.core.spec import PipelinesConfig
from shared.core.typed import coerce
from shared.errors import Unavailable
from shared.services import followups
from shared.services.deps import Deps
from shared.services.ledgers import Ledgers
from shared.services.ledgers.active import ActiveRun
from tests.fakes import FixedClock, ListAlertSink, MemoryBlobStore, MemoryStateStore, RecordingRunner


def world(max_duration: str = "1h") -> tuple[Deps, RecordingRunner, FixedClock, ListAlertSink]:
    config, problems = coerce(PipelinesConfig, {"datasets": [{
        "name": "scores", "upstream": {"container": "upstream"},
        "pipeline": {"name": "score_batch", "max_duration": max_duration}}]})
    assert config is not None, problems
    clock = FixedClock()
    runner, alerts = RecordingRunner(clock), ListAlertSink()
    deps = Deps(config, clock, MemoryBlobStore(), MemoryStateStore(), runner, alerts)
    return deps, runner, clock, alerts


def test_a_run_in_progress_beyond_max_duration_is_raised_once() -> None:
    deps, runner, clock, alerts = world()
    run_id = runner.start_run("score_batch", {"batchId": "scores:2026/11/21"})
    Ledgers.of(deps).active.upsert(ActiveRun("score_batch", run_id, "scores:2026/11/21"))

    clock.advance(minutes=50)
    early = followups.run(deps, clock.now())
    clock.advance(minutes=20)
    late = followups.run(deps, clock.now())
    clock.advance(minutes=20)
    again = followups.run(deps, clock.now())

    assert (early["stuck_stuck"], late["stuck_stuck"], again["stuck_stuck"]) == (0, 1, 0)
    [alert] = alerts.alerts
    assert alert.code == "run_stuck" and alert.subject == run_id and "beyond the 60 min" in alert.message


def test_a_finished_run_is_never_stuck() -> None:
    deps, runner, clock, alerts = world()
    run_id = runner.start_run("score_batch", {"batchId": "scores:2026/11/21"})
    Ledgers.of(deps).active.upsert(ActiveRun("score_batch", run_id, "scores:2026/11/21"))
    runner.finish(run_id)

    clock.advance(hours=5)
    followups.run(deps, clock.now())

    assert alerts.alerts == []


def test_a_failing_step_is_reported_in_the_summary_and_the_others_still_run() -> None:
    deps, runner, clock, alerts = world()
    run_id = runner.start_run("score_batch", {"batchId": "scores:2026/11/21"})
    Ledgers.of(deps).active.upsert(ActiveRun("score_batch", run_id, "scores:2026/11/21"))

    class DownState(MemoryStateStore):
        def query(self, table: str, partition: str, row_from: str = "", row_to: str = "") -> object:
            if "digest" in table:
                raise Unavailable("table storage is down")
            return super().query(table, partition, row_from, row_to)

    down = DownState()
    down.rows = deps.state.rows   # type: ignore[attr-defined]
    deps = Deps(deps.config, clock, deps.data, down, runner, alerts)
    clock.advance(hours=2)

    summary = followups.run(deps, clock.now())

    assert summary["digests_error"] == "Unavailable"
    assert summary["stuck_stuck"] == 1 and alerts.codes() == ["run_stuck"]
