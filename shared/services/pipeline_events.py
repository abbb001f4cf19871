"""The pipeline webhook: verify the run with ADF, check its duration, then refresh or hold.

One decision per run: a retried Web activity gets the same Location and the one decision, not a
second refresh. The body is never trusted alone; ADF says what happened. Only configured URLs are
ever called.

The POST does one write: the event goes on the ``pipeline-events`` queue (durable), and the worker
records it in the events table before deciding, so the record is made once per run however many
times the event is sent. Until the worker has recorded it, the Location answers 202 on the strength
of the ``accepted`` time it carries (for ACCEPTED_WINDOW), then 404.
"""

from __future__ import annotations

import json
import logging
import statistics
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.core import breaker
from shared.core.baseline import Judgement, Point, judge
from shared.core.events import PipelineEvent, Rejection, parse_event
from shared.core.models import Alert, RunStatus, Severity
from shared.core.spec import DatasetSpec, HistorySpec
from shared.errors import Conflict, ExternalError, NotFound
from shared.services import guard_output, refresh
from shared.services.deps import Deps
from shared.services.ledgers import Ledgers
from shared.services.ledgers.events import ACCEPTED, EventRecord
from shared.services.ledgers.table import parse_time

log = logging.getLogger(__name__)

PROCESSING_TIMEOUT = timedelta(minutes=5)   # a claim older than this was abandoned by a dead worker
VERDICT_POLL = timedelta(seconds=3)         # how soon the worker looks again for the output verdict
DURATION_HISTORY = timedelta(days=30)
DURATION_SPEC = HistorySpec(min_history=5, window=60, sensitivity=3.5, seasonality="none")
BAND_TTL = timedelta(minutes=5)
ACCEPTED_WINDOW = timedelta(hours=1)        # how long an accepted event may wait in the queue unrecorded


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def location(run_id: str, accepted: datetime | None = None) -> str:
    """The status URL; ``accepted`` (when the event was queued) lets it answer before the worker ran."""
    path = f"/api/pipeline-events/{run_id}"
    return f"{path}?accepted={int(accepted.timestamp())}" if accepted is not None else path


def _accepted(run_id: str, accepted: datetime | None = None) -> Reply:
    return Reply(202, {"state": "accepted", "runId": run_id,
                       "detail": "the run is being verified; GET the Location for the decision"},
                 {"Location": location(run_id, accepted), "Retry-After": "5"})


def accept(deps: Deps, body: bytes, content_type: str, now: datetime) -> Reply:
    """Validate the event and queue it for the worker: one write, a fast 202 + Location.

    A retried Web activity queues it again; the worker records and decides each run once, and every
    Location of that run answers with that one decision.
    """
    parsed = parse_event(body, content_type)
    if isinstance(parsed, Rejection):
        return Reply(parsed.status, parsed.body())
    event = parsed
    if deps.factory_name and event.factory.lower() != deps.factory_name.lower():
        return Reply(400, {"error": "the pipeline event is invalid",
                           "details": [f"factory: this app watches factory {deps.factory_name!r}, "
                                       f"not {event.factory!r}"]})
    assert deps.events_queue is not None, "the webhook needs its work queue"
    deps.events_queue.send(json.dumps({"runId": event.run_id, "at": now.isoformat(), "event": _event_json(event)}))
    return _accepted(event.run_id, now)


def _event_json(event: PipelineEvent) -> str:
    return json.dumps({"factory": event.factory, "pipeline": event.pipeline, "runId": event.run_id,
                       "status": event.status, "batchId": event.batch_id,
                       "error": {"message": event.error_message, "activity": event.error_activity}})


def status_of(deps: Deps, run_id: str, accepted: str | None = None) -> Reply:
    """GET on the Location: the decision (200), 202 while it is being made, 404 when unknown.

    ``accepted`` is the Location's ``accepted`` (epoch seconds): an event queued that recently and
    not yet recorded by the worker is still being decided.
    """
    row = Ledgers.of(deps).events.find(run_id)
    if row is None:
        queued = _epoch(accepted)
        if queued is not None and timedelta(minutes=-5) <= deps.clock.now() - queued <= ACCEPTED_WINDOW:
            return _accepted(run_id, queued)
        return Reply(404, {"error": f"no pipeline event for run {run_id}", "details": []})
    if not row.decided:
        return _accepted(run_id)
    return Reply(200, json.loads(row.reply or "{}"))


def _epoch(text: str | None) -> datetime | None:
    if not text or not text.isdigit() or len(text) > 12:
        return None
    return datetime.fromtimestamp(int(text), UTC)


def _record_claimed(deps: Deps, body: dict[str, Any], now: datetime) -> EventRecord | None:
    """The first sight of an event: record it and claim it for this worker in one insert. None when it
    is recorded already (another copy of the event, or this one again)."""
    if not isinstance(body.get("event"), str):
        return None
    record = EventRecord(str(body["runId"]), ACCEPTED, parse_time(body.get("at")), body["event"], now)
    try:
        return Ledgers.of(deps).events.insert(record)
    except Conflict:
        return None


def _look_again(deps: Deps, message: str, delay: timedelta) -> str:
    """Another worker holds the claim: look again once it would have expired, so an event whose
    worker died is still decided (and one that was decided meanwhile is then dropped)."""
    assert deps.events_queue is not None
    deps.events_queue.send(message, max(delay, timedelta(seconds=1)))
    return "being decided by another worker; looking again later"


def report_poison(deps: Deps, message: str, now: datetime) -> Alert:
    """The host gave up on a pipeline event (it moved it to the poison queue): no decision was made
    for that run and no refresh will come of it, so say so, loudly."""
    try:
        body = json.loads(message)
        run_id = str(body.get("runId", ""))[:200]
        event = json.loads(str(body.get("event") or "{}"))
    except (ValueError, AttributeError, TypeError):
        run_id, event = message[:200], {}
    pipeline = str(event.get("pipeline", "")) if isinstance(event, dict) else ""
    batch = str(event.get("batchId", "")) if isinstance(event, dict) else ""
    ds = _dataset_for(deps, pipeline, batch) if pipeline else None
    alert = Alert(ds.name if ds else "unknown", "pipeline_event_poison", Severity.FAIL,
                  f"The pipeline event for run {run_id or '(unreadable)'} could not be processed after repeated "
                  "attempts; it is in the pipeline-events-poison queue, the run has no decision and its Power BI "
                  "refresh was not requested. Check the function logs, then send the event again.",
                  now, subject=run_id, facts={"run_id": run_id, "pipeline": pipeline, "batch": batch},
                  links=deps.run_links(run_id) if run_id else ())
    deps.alerts.emit(alert)
    return alert


class VerdictPending(Exception):
    """The outputs are not judged yet; look again in a moment."""


def process(deps: Deps, message: str, now: datetime) -> str:
    """The worker: decide one accepted event (verify, breaker, refresh, alerts) exactly once.

    Returns what happened: decided, already decided, or waiting (re-queued for the verdict).
    """
    body = json.loads(message)
    events = Ledgers.of(deps).events
    row = _record_claimed(deps, body, now)
    if row is None:
        row = events.find(str(body["runId"]))
        if row is None or row.decided:
            return "already decided"
        started = row.processing_since
        if started is not None and now - started < PROCESSING_TIMEOUT:
            return _look_again(deps, message, started + PROCESSING_TIMEOUT - now)
        try:
            row = events.replace(row.claimed(now))
        except Conflict:
            return _look_again(deps, message, PROCESSING_TIMEOUT)
    event = _parse_stored(row.event)
    accepted_at = row.at or now
    try:
        reply = _decide(deps, event, now, verdict_deadline=accepted_at + deps.verdict_wait)
    except VerdictPending:
        events.replace(row.claimed(None))
        assert deps.events_queue is not None
        deps.events_queue.send(message, VERDICT_POLL)
        return "waiting for the output verdict"
    except ExternalError:
        # ADF, Power BI or state unreachable: free the claim and let the queue retry the message.
        events.replace(row.claimed(None))
        raise
    events.upsert(replace(row.decision(json.dumps(reply.body), now), run_id=event.run_id))
    return "decided"


def _parse_stored(text: str) -> PipelineEvent:
    body = json.loads(text)
    error = body.get("error") or {}
    return PipelineEvent(body["factory"], body["pipeline"], body["runId"], body["status"], body.get("batchId", ""),
                         error.get("message", ""), error.get("activity", ""))


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


def duration_band(deps: Deps, pipeline: str, now: datetime) -> Judgement | None:
    """The pipeline's normal duration band, learned from its successful runs; cached for a few minutes
    (history moves slowly, and every event would otherwise re-read and re-learn it)."""
    key = f"duration_band|{pipeline}"
    cached = deps.cache.get(key)
    if cached is not None and cached[0] > time.monotonic():
        band: Judgement | None = cached[1]
        return band
    history: list[tuple[datetime, float]] = []
    if deps.durations is not None:
        try:
            history = deps.durations(pipeline, now - DURATION_HISTORY, now)
        except ExternalError as exc:
            # Log Analytics down or empty must not block the run's decision: use the factory's history.
            log.warning("run history from Log Analytics unavailable", extra={"error_type": type(exc).__name__})
    if not history and deps.runner is not None:
        history = [(r.run_start, (r.run_end - r.run_start).total_seconds())
                   for r in deps.runner.query_runs(pipeline, now - DURATION_HISTORY, now)
                   if r.run_start and r.run_end and r.status is RunStatus.SUCCEEDED]
    band = None
    if len(history) >= DURATION_SPEC.min_history:
        center = statistics.median(d for _, d in history)
        band = judge([Point(t, d) for t, d in history], Point(now, center), DURATION_SPEC)
    deps.cache[key] = (time.monotonic() + BAND_TTL.total_seconds(), band)
    return band


def _duration_judgement(deps: Deps, pipeline: str, facts: breaker.RunFacts, now: datetime) -> Alert | None:
    if facts.duration_s is None:
        return None
    band = duration_band(deps, pipeline, now)
    if band is None or band.high is None or facts.duration_s <= band.high:
        return None
    return Alert("", "run_slow", Severity.WARN,
                 f"Run {facts.run_id} of {pipeline} took {facts.duration_s / 60:.1f} min, longer than usual "
                 f"(normal up to {band.high / 60:.1f} min, median {(band.expected or 0) / 60:.1f} min over "
                 f"{band.history} runs).", now, subject=facts.run_id,
                 facts={"run_id": facts.run_id, "duration_min": f"{facts.duration_s / 60:.1f}"})


def _decide(deps: Deps, event: PipelineEvent, now: datetime, verdict_deadline: datetime) -> Reply:
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
        found = guard_output.read_verdict(deps, ds.name, batch_id.split(":", 1)[1])
        if found is None and now < verdict_deadline:
            raise VerdictPending
        verdict = str(found["status"]) if found else None
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
