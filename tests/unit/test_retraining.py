"""Retraining on drift: the dataset's retraining pipeline starts once per incident, never twice."""

from __future__ import annotations

from shared.core.spec import PipelinesConfig
from shared.core.typed import coerce
from shared.errors import Unavailable
from shared.services import retraining
from shared.services.deps import Deps
from tests.fakes import FixedClock, ListAlertSink, MemoryBlobStore, MemoryStateStore, RecordingRunner


def world(cooldown: str = "7d") -> tuple[Deps, RecordingRunner, FixedClock]:
    config, problems = coerce(PipelinesConfig, {"datasets": [{
        "name": "scores", "output": {"container": "outputs", "prefix": "scores"},
        "retrain": {"pipeline": "retrain_model", "parameters": {"dataset": "{dataset}", "reason": "{codes}",
                                                                "incident": "{incident}"},
                    "on": ["drift"], "cooldown": cooldown}}]})
    assert config is not None, problems
    clock = FixedClock()
    runner = RecordingRunner(clock)
    return Deps(config, clock, MemoryBlobStore(), MemoryStateStore(), runner, ListAlertSink()), runner, clock


def test_drift_starts_the_retraining_pipeline_once_per_incident() -> None:
    deps, runner, clock = world()
    ds = deps.config.datasets[0]

    first = retraining.maybe_start(deps, ds, "2026/11/21", ("drift", "rows_anomaly"), clock.now())
    clock.advance(days=1)
    again = retraining.maybe_start(deps, ds, "2026/11/22", ("drift",), clock.now())

    assert first is not None and first.run_id and again is None
    [run] = runner.runs.values()
    assert run.pipeline == "retrain_model" and run.parameters["reason"] == "drift,rows_anomaly"
    assert run.parameters["dataset"] == "scores" and run.parameters["incident"].startswith("scores:")


def test_a_new_incident_after_the_cooldown_starts_another_run() -> None:
    deps, runner, clock = world(cooldown="2d")
    ds = deps.config.datasets[0]
    retraining.maybe_start(deps, ds, "2026/11/21", ("drift",), clock.now())
    clock.advance(days=3)

    later = retraining.maybe_start(deps, ds, "2026/11/24", ("drift",), clock.now())

    assert later is not None and later.run_id and len(runner.runs) == 2


def test_findings_that_are_not_triggers_start_nothing() -> None:
    deps, runner, clock = world()

    assert retraining.maybe_start(deps, deps.config.datasets[0], "b", ("rows_anomaly", "level_shift"),
                                  clock.now()) is None
    assert runner.runs == {}


def test_a_start_that_failed_after_creating_the_run_is_found_by_its_incident_not_started_twice() -> None:
    deps, runner, clock = world()
    ds = deps.config.datasets[0]
    runner.lose_answer_next = 1   # the factory creates the run, then answers 500

    failed = retraining.maybe_start(deps, ds, "2026/11/21", ("drift",), clock.now())
    clock.advance(minutes=10)
    retried = retraining.maybe_start(deps, ds, "2026/11/21", ("drift",), clock.now())

    assert failed is not None and failed.error and not failed.run_id
    [run_id] = runner.runs
    assert retried is not None and retried.run_id == run_id
    clock.advance(hours=1)
    assert retraining.maybe_start(deps, ds, "2026/11/21", ("drift",), clock.now()) is None


def test_a_start_the_factory_refused_before_creating_is_tried_again_for_the_same_incident() -> None:
    deps, runner, clock = world()
    ds = deps.config.datasets[0]
    runner.fail_next = [Unavailable("503 before anything was created")]

    retraining.maybe_start(deps, ds, "2026/11/21", ("drift",), clock.now())
    clock.advance(minutes=5)
    retried = retraining.maybe_start(deps, ds, "2026/11/21", ("drift",), clock.now())

    assert retried is not None and retried.run_id and len(runner.runs) == 1


def test_the_drift_alert_says_which_retraining_run_was_started_or_why_not() -> None:
    from datetime import UTC, datetime

    from shared.core.models import Alert, Severity

    alert = Alert("scores", "output_warning", Severity.WARN, "scores/2026/11/21/a.csv: score drifted",
                  datetime(2026, 11, 21, tzinfo=UTC))

    [started] = retraining.announced(retraining.Retrain("retrain_model", "run-7"), [alert])
    [failed] = retraining.announced(retraining.Retrain("retrain_model", error="503"), [alert])

    assert started.message.endswith("Retraining pipeline retrain_model started (run run-7).")
    assert started.facts["retrain_run"] == "run-7"
    assert failed.message.endswith("could not be started: 503") and failed.facts["retrain_run"] == "not started"
    assert retraining.announced(None, [alert]) == [alert]
