"""The follow-up timer: a stuck run is raised once, and one failing step never stops the others."""

from __future__ import annotations

from shared.core.events import PipelineEvent
from shared.core.models import RunStatus
from shared.core.spec import PipelinesConfig
from shared.core.typed import coerce
from shared.errors import Unavailable
from shared.services import followups
from shared.services.deps import Deps
from shared.services.ledgers import Ledgers
from shared.services.ledgers.active import ActiveRun
from shared.services.ledgers.runs import RunRecord
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


# -- every failed run reported once ------------------------------------------------------------------

def failing_world(watch: str = "started") -> tuple[Deps, RecordingRunner, FixedClock, ListAlertSink]:
    config, problems = coerce(PipelinesConfig, {"datasets": [{
        "name": "scores", "upstream": {"container": "upstream"},
        "pipeline": {"name": "score_batch", "watch": watch}}]})
    assert config is not None, problems
    clock = FixedClock()
    runner, alerts = RecordingRunner(clock), ListAlertSink()
    return Deps(config, clock, MemoryBlobStore(), MemoryStateStore(), runner, alerts), runner, clock, alerts


def started_by_us(deps: Deps, runner: RecordingRunner, batch: str = "scores:2026/11/21") -> str:
    run_id = runner.start_run("score_batch", {"batchId": batch})
    Ledgers.of(deps).runs.upsert(RunRecord(run_id, "scores", "score_batch", batch, batch.split(":")[1],
                                           runner.runs[run_id].run_start, "InProgress"))
    return run_id


def test_a_run_that_failed_without_a_pipeline_event_is_reported_once_with_its_failing_activity() -> None:
    deps, runner, clock, alerts = failing_world()
    run_id = started_by_us(deps, runner)
    runner.activities[run_id] = [{"activity": "Score", "status": "Failed", "error": "disk full"}]
    runner.finish(run_id, RunStatus.FAILED)

    clock.advance(minutes=5)
    first = followups.run(deps, clock.now())
    clock.advance(minutes=5)
    second = followups.run(deps, clock.now())

    assert (first["failed_runs_reported"], second["failed_runs_reported"]) == (1, 0)
    [alert] = alerts.alerts
    assert alert.code == "run_failed" and alert.subject == run_id
    assert "in activity Score: disk full" in alert.message and alert.facts["batch"] == "scores:2026/11/21"


def test_a_failure_the_timer_reported_is_not_alerted_again_when_the_webhook_arrives_later() -> None:
    from shared.services import run_decision

    deps, runner, clock, alerts = failing_world()
    run_id = started_by_us(deps, runner)
    runner.finish(run_id, RunStatus.FAILED)
    clock.advance(minutes=5)
    followups.run(deps, clock.now())

    event = PipelineEvent("adf-prod", "score_batch", run_id, "Failed", "scores:2026/11/21", "boom", "Score")
    decision = run_decision.decide(deps, event, clock.now(), clock.now())

    assert alerts.codes() == ["run_failed"] and "run_failed" not in decision["alerts"]


def test_the_webhook_reports_first_and_the_timer_then_stays_quiet() -> None:
    from shared.services import run_decision

    deps, runner, clock, alerts = failing_world()
    run_id = started_by_us(deps, runner)
    runner.finish(run_id, RunStatus.FAILED)
    event = PipelineEvent("adf-prod", "score_batch", run_id, "Failed", "scores:2026/11/21", "boom", "Score")

    decision = run_decision.decide(deps, event, clock.now(), clock.now())
    clock.advance(minutes=5)
    followups.run(deps, clock.now())

    assert decision["alerts"] == ["run_failed"] and alerts.codes() == ["run_failed"]


def test_runs_of_the_factory_s_own_triggers_are_reported_only_when_the_dataset_watches_all() -> None:
    for watch, expected in (("started", []), ("all", ["run_failed"])):
        deps, runner, clock, alerts = failing_world(watch)
        run_id = runner.start_run("score_batch", {"batchId": "scores:2026/11/22"})   # a trigger's run
        runner.finish(run_id, RunStatus.CANCELLED)
        clock.advance(minutes=5)

        followups.run(deps, clock.now())

        assert alerts.codes() == expected, watch
        if expected:
            assert "cancelled" in alerts.alerts[0].message
