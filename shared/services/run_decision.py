"""The run decision of the pipeline webhook: verify the run with ADF, judge its duration, and refresh
Power BI or hold it (the circuit breaker). Called once per run by the ``pipeline-events`` worker."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.core import activity_runs, batch_outputs, breaker, metrics
from shared.core.events import PipelineEvent
from shared.core.models import Alert, Link, PipelineRun, RunStatus, Severity
from shared.core.spec import DatasetSpec
from shared.errors import NotFound
from shared.services import batch_guard, delta_outputs, engines, refresh, run_durations, run_failures
from shared.services.deps import Deps


class VerdictPending(Exception):
    """The outputs are not judged yet; look again in a moment."""


def dataset_for(deps: Deps, pipeline: str, batch_id: str) -> DatasetSpec | None:
    candidates = [ds for ds in deps.config.datasets if ds.pipeline and ds.pipeline.name == pipeline]
    for ds in candidates:
        if batch_id.startswith(f"{ds.name}:"):
            return ds
    return candidates[0] if len(candidates) == 1 else None


ENGINE_NAMES = {"adf": "ADF", "synapse": "Synapse", "fabric": "Fabric"}


def engine_of(deps: Deps, event: PipelineEvent) -> str:
    return engines.engine_of_event(deps, event.engine, event.factory, event.pipeline)


def verify(deps: Deps, event: PipelineEvent,
           now: datetime) -> tuple[breaker.RunFacts, str, list[dict[str, Any]]]:
    """What the engine (ADF, Synapse, Fabric) says about the run; also the batch id it was started with, and
    its activity runs."""
    engine = engine_of(deps, event)
    runner = engines.runner(deps, engine)
    if runner is None:
        return breaker.RunFacts(event.run_id, event.pipeline, False, "Unknown",
                                error=f"this app has no settings for {engine}, so the run cannot be verified"), "", []
    try:
        run = runner.get_run(event.run_id)
    except NotFound:
        return breaker.RunFacts(event.run_id, event.pipeline, False, "Unknown",
                                error=f"{ENGINE_NAMES.get(engine, engine)} has no run with this id in the configured "
                                f"{'factory' if engine == 'adf' else 'workspace'}"), "", []
    activities = runner.query_activity_runs(event.run_id)
    failed = [a for a in activities if a.get("status") == "Failed"]
    batch_names = []
    for ds in deps.config.datasets:
        if ds.pipeline:
            batch_names += [n for n, t in ds.pipeline.parameters.items() if t == "{batch_id}"]
    batch_id = next((run.parameters[n] for n in batch_names if run.parameters.get(n)), event.batch_id)
    # The final Web activity runs inside the pipeline, so ADF still says InProgress: success means
    # no activity failed and the run did not end in failure.
    succeeded = (event.status == "Succeeded" and not failed
                 and run.status in (RunStatus.IN_PROGRESS, RunStatus.QUEUED, RunStatus.SUCCEEDED))
    end = run.run_end or now
    duration = (end - run.run_start).total_seconds() if run.run_start else None
    error = failed[0].get("error", "") if failed else (event.error_message if event.status == "Failed" else "")
    activity = failed[0].get("activity", "") if failed else event.error_activity
    if run.pipeline != event.pipeline:
        succeeded, error = False, f"the run belongs to pipeline {run.pipeline}, not {event.pipeline}"
    status = "Succeeded" if succeeded else ("Failed" if failed or event.status == "Failed" else run.status.value)
    return breaker.RunFacts(event.run_id, run.pipeline, succeeded, status, activity, error, run.run_start,
                            duration), batch_id, activities


def _with(links: tuple[Link, ...], more: tuple[Link, ...]) -> tuple[Link, ...]:
    return links + tuple(link for link in more if link not in links)


def decide(deps: Deps, event: PipelineEvent, now: datetime, verdict_deadline: datetime) -> dict[str, Any]:
    facts, batch_id, activities = verify(deps, event, now)
    ds = dataset_for(deps, facts.pipeline, batch_id)
    name = ds.name if ds else "unknown"
    alerts: list[Alert] = []
    engine = engine_of(deps, event)
    links = engines.links(deps, engine, event.run_id)
    failed = [a for a in activities if a.get("status") == "Failed"]
    if not facts.succeeded:
        run = PipelineRun(facts.run_id, facts.pipeline, RunStatus.of(facts.status), run_start=facts.started)
        # Where the work ran (a Databricks run page, Batch stdout/stderr) and its error, not only ADF's monitor.
        lines = activity_runs.error_lines(failed[0]) if failed else []
        details = {"error_code": str(failed[0].get("error_code", ""))} if failed and failed[0].get("error_code") \
            else {}
        if lines:
            details["error_lines"] = "\n".join(lines)
        # Once per run: the follow-up timer may have reported this failure already (or do so at once).
        if run_failures.claim_report(deps, run, name, batch_id):
            alerts.append(Alert(name, "run_failed", Severity.FAIL,
                                f"Pipeline {facts.pipeline} run {facts.run_id} failed"
                                + (f" in activity {facts.failed_activity}" if facts.failed_activity else "")
                                + (f": {facts.error}" if facts.error else "."), now, subject=facts.run_id,
                                facts={"run_id": facts.run_id, "batch": batch_id, "status": facts.status, **details},
                                links=_with(links, activity_runs.links(failed))))
    slow = run_durations.slow_run_alert(deps, facts.pipeline, facts, now, engine)
    if slow is not None:
        alerts.append(Alert(name, slow.code, slow.severity, slow.message, now, subject=slow.subject,
                            facts=slow.facts, links=_with(links, activity_runs.links(activities))))
    for copy in activity_runs.copy_mismatches(activities):
        alerts.append(Alert(name, "copy_mismatch", Severity.FAIL if copy.unexplained else Severity.WARN,
                            f"Run {facts.run_id} of {facts.pipeline}: {copy.sentence()}", now,
                            topic="copy_mismatch", subject=f"{facts.run_id}/{copy.activity}",
                            facts={"run_id": facts.run_id, "batch": batch_id, "activity": copy.activity,
                                   "rows_read": str(copy.rows_read), "rows_copied": str(copy.rows_copied),
                                   "rows_skipped": str(copy.rows_skipped)}, links=links))
    verdict, outputs_detail = None, ""
    if ds is not None and ds.output is not None and batch_id.startswith(f"{ds.name}:") and facts.succeeded:
        key = batch_id.split(":", 1)[1]
        if ds.output.contract.format == "delta":   # the run's outputs are the table versions it committed
            seen = delta_outputs.outputs_seen(deps, ds, facts.started or now)
        else:
            batch_guard.settle(deps, ds, key, now)   # a quiet-period batch is complete once time has passed
            seen = batch_guard.outputs_seen(deps, ds, key)
        outputs = batch_outputs.judge_outputs(seen, ds.output.batch.quiet_period, now)
        if not outputs.ready and now < verdict_deadline:
            raise VerdictPending
        verdict, outputs_detail = outputs.status, outputs.reason
    refreshes: list[dict[str, str]] = []
    held: list[str] = []
    for target in ds.powerbi if ds else ():
        reasons = breaker.hold_reasons(facts, verdict, ds is not None and ds.output is not None, target,
                                       outputs_detail)
        if reasons:
            held.append(f"{target.dataset}: {breaker.summarize(reasons)}")
            refreshes.append({"workspace": target.workspace, "dataset": target.dataset, "state": "held",
                              "reason": breaker.summarize(reasons)})
            continue
        if deps.refresher is None:
            refreshes.append({"workspace": target.workspace, "dataset": target.dataset, "state": "skipped",
                              "reason": "Power BI is not configured"})
            continue
        refreshes.append(refresh.request(deps, name, target, facts.run_id, now).to_dict())
    if held:
        alerts.append(Alert(name, "refresh_held", Severity.WARN,
                            f"Power BI refresh held for run {facts.run_id}: " + "; ".join(held)
                            + ". Dashboards keep the last good data.", now, subject=facts.run_id,
                            facts={"run_id": facts.run_id, "batch": batch_id, "verdict": verdict or "none"},
                            links=links))
    for alert in alerts:
        deps.alerts.emit(alert)
    decision = ("refresh_started" if any(r["state"] == "started" for r in refreshes) else
                "refresh_queued" if any(r["state"] == "queued" for r in refreshes) else
                "refresh_held" if held else "refresh_skipped")
    if deps.metrics is not None:
        deps.metrics.record(metrics.run_points(name, facts.pipeline, facts.status, decision, facts.duration_s))
    return {"runId": facts.run_id, "pipeline": facts.pipeline, "batchId": batch_id,
            "dataset": name, "run": {"status": facts.status, "succeeded": facts.succeeded,
                                     "durationSeconds": facts.duration_s},
            "outputs": verdict or "none", "decision": decision, "refreshes": refreshes,
            "alerts": [a.code for a in alerts]}
