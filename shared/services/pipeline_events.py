"""The pipeline webhook's events: accept (one queue write, 202), record once per run, decide (run_decision).

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
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.core.events import PipelineEvent, Problem, parse_event
from shared.core.models import Alert, Severity
from shared.core.outcomes import Accepted, Decided, Invalid, Unknown
from shared.errors import Conflict, ExternalError
from shared.services import engines, run_decision
from shared.services.deps import Deps
from shared.services.ledgers import Ledgers
from shared.services.ledgers.events import ACCEPTED, EventRecord
from shared.services.ledgers.table import parse_time

log = logging.getLogger(__name__)

PROCESSING_TIMEOUT = timedelta(minutes=5)   # a claim older than this was abandoned by a dead worker
VERDICT_POLL = timedelta(seconds=3)         # how soon the worker looks again for the output verdict
ACCEPTED_WINDOW = timedelta(hours=1)        # how long an accepted event may wait in the queue unrecorded


def accept(deps: Deps, body: bytes, content_type: str, now: datetime) -> Accepted | Invalid:
    """Validate the event and queue it for the worker: one write, a fast 202 + Location.

    A retried Web activity queues it again; the worker records and decides each run once, and every
    Location of that run answers with that one decision.
    """
    parsed = parse_event(body, content_type)
    if isinstance(parsed, Problem):
        return Invalid(parsed)
    event = parsed
    if not engines.accepts(deps, event.factory):
        watched = " or ".join(repr(name) for name in engines.names(deps).values())
        return Invalid(Problem("invalid", "the pipeline event is invalid",
                               (f"factory: this app watches factory {watched} (a factory or workspace its "
                                f"pipelines run in), not {event.factory!r}",)))
    assert deps.events_queue is not None, "the webhook needs its work queue"
    deps.events_queue.send(json.dumps({"runId": event.run_id, "at": now.isoformat(), "event": _event_json(event)}))
    return Accepted(event.run_id, now)


def _event_json(event: PipelineEvent) -> str:
    return json.dumps({"factory": event.factory, "pipeline": event.pipeline, "runId": event.run_id,
                       "status": event.status, "batchId": event.batch_id,
                       "error": {"message": event.error_message, "activity": event.error_activity},
                       **({"engine": event.engine} if event.engine else {})})


def status_of(deps: Deps, run_id: str, accepted: str | None = None) -> Accepted | Decided | Unknown:
    """GET on the Location: the decision (200), 202 while it is being made, 404 when unknown.

    ``accepted`` is the Location's ``accepted`` (epoch seconds): an event queued that recently and
    not yet recorded by the worker is still being decided.
    """
    row = Ledgers.of(deps).events.find(run_id)
    if row is None:
        queued = _epoch(accepted)
        if queued is not None and timedelta(minutes=-5) <= deps.clock.now() - queued <= ACCEPTED_WINDOW:
            return Accepted(run_id, queued)
        return Unknown(run_id)
    if not row.decided:
        return Accepted(run_id)
    return Decided(json.loads(row.reply or "{}"))


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
    ds = run_decision.dataset_for(deps, pipeline, batch) if pipeline else None
    engine = ds.engine if ds else "adf"
    alert = Alert(ds.name if ds else "unknown", "pipeline_event_poison", Severity.FAIL,
                  f"The pipeline event for run {run_id or '(unreadable)'} could not be processed after repeated "
                  "attempts; it is in the pipeline-events-poison queue, the run has no decision and its Power BI "
                  "refresh was not requested. Check the function logs, then send the event again.",
                  now, subject=run_id, facts={"run_id": run_id, "pipeline": pipeline, "batch": batch},
                  links=engines.links(deps, engine, run_id) if run_id else ())
    deps.alerts.emit(alert)
    return alert


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
        decision = run_decision.decide(deps, event, now, verdict_deadline=accepted_at + deps.verdict_wait)
    except run_decision.VerdictPending:
        events.replace(row.claimed(None))
        assert deps.events_queue is not None
        deps.events_queue.send(message, VERDICT_POLL)
        return "waiting for the output verdict"
    except ExternalError:
        # ADF, Power BI or state unreachable: free the claim and let the queue retry the message.
        events.replace(row.claimed(None))
        raise
    events.upsert(replace(row.decision(json.dumps(decision), now), run_id=event.run_id))
    return "decided"


def _parse_stored(text: str) -> PipelineEvent:
    body = json.loads(text)
    error = body.get("error") or {}
    return PipelineEvent(body["factory"], body["pipeline"], body["runId"], body["status"], body.get("batchId", ""),
                         error.get("message", ""), error.get("activity", ""), str(body.get("engine", "")))
