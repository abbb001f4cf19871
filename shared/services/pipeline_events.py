"""The pipeline webhook: verify the run with ADF, check its duration, then refresh or hold.

One decision per run: a retried Web activity gets the stored answer, not a second refresh. The body
is never trusted alone; ADF says what happened. Only configured URLs are ever called.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared.core import breaker
from shared.core.baseline import Point, Verdict, judge
from shared.core.events import PipelineEvent, Rejection, parse_event
from shared.core.models import Alert, RunStatus, Severity
from shared.core.spec import DatasetSpec, HistorySpec
from shared.errors import Conflict, ExternalError, NotFound
from shared.ports import Entity
from shared.services import guard_output, refresh
from shared.services.arrivals import parse_time
from shared.services.deps import Deps

log = logging.getLogger(__name__)

PROCESSING_TIMEOUT = timedelta(minutes=5)   # a claim older than this was abandoned by a dead worker
DURATION_HISTORY = timedelta(days=30)
DURATION_SPEC = HistorySpec(min_history=5, window=60, sensitivity=3.5, seasonality="none")


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def location(run_id: str) -> str:
    return f"/api/pipeline-events/{run_id}"


def handle(deps: Deps, body: bytes, content_type: str, now: datetime) -> Reply:
    parsed = parse_event(body, content_type)
    if isinstance(parsed, Rejection):
        return Reply(parsed.status, parsed.body())
    event = parsed
    if deps.factory_name and event.factory.lower() != deps.factory_name.lower():
        return Reply(400, {"error": "the pipeline event is invalid",
                           "details": [f"factory: this app watches factory {deps.factory_name!r}, "
                                       f"not {event.factory!r}"]})
    claim = Entity(deps.tables.events, event.run_id, "", {"state": "processing", "at": now.isoformat()})
    try:
        claim = deps.state.insert(claim)
    except Conflict:
        return _existing(deps, event, now)
    try:
        reply = _decide(deps, event, now)
    except ExternalError as exc:
        deps.state.delete(claim)   # let the Web activity's retry try again
        log.warning("pipeline event could not be verified", extra={"run_id": event.run_id, "error": str(exc)})
        return Reply(503, {"error": "ADF could not be reached to verify the run; retry later",
                           "details": [type(exc).__name__]}, {"Retry-After": "30"})
    deps.state.upsert(Entity(deps.tables.events, event.run_id, "",
                             {"state": "decided", "at": now.isoformat(), "reply": json.dumps(reply.body),
                              "status": reply.status}))
    return reply


def status_of(deps: Deps, run_id: str) -> Reply:
    """GET on the Location: the stored decision, 202 while it is being made, 404 when unknown."""
    row = deps.state.get(deps.tables.events, run_id, "")
    if row is None:
        return Reply(404, {"error": f"no pipeline event for run {run_id}"})
    if row.data.get("state") != "decided":
        return Reply(202, {"state": "processing", "runId": run_id}, {"Location": location(run_id),
                                                                      "Retry-After": "10"})
    return Reply(int(row.data.get("status", 200)), json.loads(str(row.data.get("reply", "{}"))))


def _existing(deps: Deps, event: PipelineEvent, now: datetime) -> Reply:
    row = deps.state.get(deps.tables.events, event.run_id, "")
    if row is not None and row.data.get("state") == "decided":
        body = json.loads(str(row.data.get("reply", "{}")))
        return Reply(200, {**body, "duplicate": True})
    started = parse_time(row.data.get("at")) if row else None
    if row is not None and started is not None and now - started > PROCESSING_TIMEOUT:
        deps.state.delete(row)
        return handle_again(deps, event, now)
    return Reply(202, {"state": "processing", "runId": event.run_id},
                 {"Location": location(event.run_id), "Retry-After": "10"})


def handle_again(deps: Deps, event: PipelineEvent, now: datetime) -> Reply:
    body = json.dumps({"factory": event.factory, "pipeline": event.pipeline, "runId": event.run_id,
                       "status": event.status, "batchId": event.batch_id}).encode()
    return handle(deps, body, "application/json", now)


def _dataset_for(deps: Deps, pipeline: str, batch_id: str) -> DatasetSpec | None:
    candidates = [ds for ds in deps.config.datasets if ds.pipeline and ds.pipeline.name == pipeline]
    for ds in candidates:
        if batch_id.startswith(f"{ds.name}:"):
            return ds
    return candidates[0] if len(candidates) == 1 else None


def verify(deps: Deps, event: PipelineEvent, now: datetime) -> tuple[breaker.RunFacts, str]:
    """What ADF says about the run; also the batch id it was started with."""
    assert deps.runner is not None
    try:
        run = deps.runner.get_run(event.run_id)
    except NotFound:
        return breaker.RunFacts(event.run_id, event.pipeline, False, "Unknown",
                                error="ADF has no run with this id in the configured factory"), ""
    activities = deps.runner.query_activity_runs(event.run_id)
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
    activity = failed[0].get("name", "") if failed else event.error_activity
    if run.pipeline != event.pipeline:
        succeeded, error = False, f"the run belongs to pipeline {run.pipeline}, not {event.pipeline}"
    status = "Succeeded" if succeeded else ("Failed" if failed or event.status == "Failed" else run.status.value)
    return breaker.RunFacts(event.run_id, run.pipeline, succeeded, status, activity, error, run.run_start,
                            duration), batch_id


def _duration_judgement(deps: Deps, pipeline: str, facts: breaker.RunFacts, now: datetime) -> Alert | None:
    if facts.duration_s is None or deps.runner is None:
        return None
    history: list[tuple[datetime, float]] = []
    if deps.durations is not None:
        try:
            history = deps.durations(pipeline, now - DURATION_HISTORY, now)
        except ExternalError as exc:
            # Log Analytics down or empty must not block the run's decision: use the factory's history.
            log.warning("run history from Log Analytics unavailable", extra={"error_type": type(exc).__name__})
    if not history:
        history = [(r.run_start, (r.run_end - r.run_start).total_seconds())
                   for r in deps.runner.query_runs(pipeline, now - DURATION_HISTORY, now)
                   if r.run_start and r.run_end and r.status is RunStatus.SUCCEEDED and r.run_id != facts.run_id]
    j = judge([Point(t, d) for t, d in history], Point(facts.started or now, facts.duration_s), DURATION_SPEC)
    if j.verdict not in (Verdict.WARN, Verdict.FAIL) or j.score <= 0:
        return None
    return Alert("", "run_slow", Severity.WARN,
                 f"Run {facts.run_id} of {pipeline} took {facts.duration_s / 60:.1f} min, longer than usual "
                 f"(normal up to {(j.high or 0) / 60:.1f} min, median {(j.expected or 0) / 60:.1f} min over "
                 f"{j.history} runs).", now, subject=facts.run_id,
                 facts={"run_id": facts.run_id, "duration_min": f"{facts.duration_s / 60:.1f}"})


def _decide(deps: Deps, event: PipelineEvent, now: datetime) -> Reply:
    facts, batch_id = verify(deps, event, now)
    ds = _dataset_for(deps, facts.pipeline, batch_id)
    name = ds.name if ds else "unknown"
    alerts: list[Alert] = []
    links = deps.run_links(event.run_id)
    if not facts.succeeded:
        alerts.append(Alert(name, "run_failed", Severity.FAIL,
                            f"Pipeline {facts.pipeline} run {facts.run_id} failed"
                            + (f" in activity {facts.failed_activity}" if facts.failed_activity else "")
                            + (f": {facts.error}" if facts.error else "."), now, subject=facts.run_id,
                            facts={"run_id": facts.run_id, "batch": batch_id, "status": facts.status}, links=links))
    slow = _duration_judgement(deps, facts.pipeline, facts, now)
    if slow is not None:
        alerts.append(Alert(name, slow.code, slow.severity, slow.message, now, subject=slow.subject,
                            facts=slow.facts, links=links))
    verdict = None
    if ds is not None and ds.output is not None and batch_id.startswith(f"{ds.name}:") and facts.succeeded:
        verdict = _wait_for_verdict(deps, ds.name, batch_id.split(":", 1)[1])
    refreshes: list[dict[str, str]] = []
    held: list[str] = []
    for target in ds.powerbi if ds else ():
        reasons = breaker.hold_reasons(facts, verdict, ds is not None and ds.output is not None, target)
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
    return Reply(200, {"runId": facts.run_id, "pipeline": facts.pipeline, "batchId": batch_id,
                       "dataset": name, "run": {"status": facts.status, "succeeded": facts.succeeded,
                                                "durationSeconds": facts.duration_s},
                       "outputs": verdict or "none", "decision": decision, "refreshes": refreshes,
                       "alerts": [a.code for a in alerts]})


def _wait_for_verdict(deps: Deps, dataset: str, batch: str) -> str | None:
    """Outputs are validated by the blob trigger within seconds of landing; give it a moment."""
    deadline = time.monotonic() + deps.verdict_wait.total_seconds()
    while True:
        verdict = guard_output.read_verdict(deps, dataset, batch)
        if verdict is not None or time.monotonic() >= deadline:
            return str(verdict["status"]) if verdict else None
        time.sleep(1.0)
