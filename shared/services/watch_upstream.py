"""The upstream watcher's tick: list new upstream data, start one ADF run per complete batch.

Exactly once: claim the batch (conditional insert) → createRun → record the run id (conditional
replace). A claim without a run id is left alone while its tick may still be working
(``claim_timeout``); after that, or after a start that failed, the batch is reconciled with the
factory (its recent runs, matched on the batch id parameter) before it is started again.
"""

from __future__ import annotations

import itertools
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared.core import batching
from shared.core.models import Alert, Batch, RunStatus, Severity
from shared.core.spec import DatasetSpec, PipelineSpec, UpstreamSpec
from shared.errors import Conflict, ExternalError, NotFound, Rejected, Unavailable
from shared.ports import Entity
from shared.services import arrivals
from shared.services.deps import Deps, row_key

log = logging.getLogger(__name__)

CATCH_UP_LIMIT = timedelta(days=31)   # a past-due tick lists at most this far back
RECONCILE_MARGIN = timedelta(hours=1)
START_ATTEMPTS = 2                    # createRun tries per tick when the factory answers 5xx


@dataclass
class TickOutcome:
    started: list[dict[str, str]] = field(default_factory=list)    # dataset, batch, run_id
    reconciled: list[dict[str, str]] = field(default_factory=list)
    waiting: list[dict[str, str]] = field(default_factory=list)    # complete, held by the policy
    incomplete: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)    # claimed by another tick
    alerts: list[str] = field(default_factory=list)                # alert codes emitted
    errors: list[dict[str, str]] = field(default_factory=list)
    listed_prefixes: int = 0
    listed_blobs: int = 0

    def summary(self) -> dict[str, Any]:
        return {"started": len(self.started), "reconciled": len(self.reconciled),
                "waiting": len(self.waiting), "incomplete": len(self.incomplete),
                "skipped": len(self.skipped), "alerts": len(self.alerts), "errors": len(self.errors),
                "listed_prefixes": self.listed_prefixes, "listed_blobs": self.listed_blobs}


def run_tick(deps: Deps, now: datetime, past_due: bool = False) -> TickOutcome:
    outcome = TickOutcome()
    tick = deps.state.get(deps.tables.watch, "_watcher", "tick")
    last_tick = arrivals.parse_time(tick.data.get("at")) if tick else None
    catch_up_from = max(last_tick, now - CATCH_UP_LIMIT) if last_tick else None
    if past_due:
        log.warning("upstream tick is past due; catching up", extra={"last_tick": str(last_tick)})
    for ds in deps.config.datasets:
        try:
            if ds.output is not None:
                # Outputs land through the output guard; the timer is what notices when they stop.
                for alert in arrivals.update(deps, ds.name, "output", ds.output.staleness, now):
                    _emit(deps, outcome, alert)
            if ds.upstream is not None:
                _tick_dataset(deps, ds, ds.upstream, now, catch_up_from, outcome)
        except ExternalError as exc:
            log.error("upstream tick failed for dataset", extra={"dataset": ds.name, "error": str(exc)})
            outcome.errors.append({"dataset": ds.name, "error": str(exc)})
            _emit(deps, outcome, Alert(
                ds.name, "watch_failed", Severity.WARN,
                f"The upstream watcher could not check {ds.name}: {exc}", now, subject="watch",
                facts={"error_type": type(exc).__name__}))
    deps.state.upsert(Entity(deps.tables.watch, "_watcher", "tick", {"at": now.isoformat()}))
    return outcome


def _tick_dataset(deps: Deps, ds: DatasetSpec, up: UpstreamSpec, now: datetime,
                  catch_up_from: datetime | None, outcome: TickOutcome) -> None:
    prefixes = batching.listing_prefixes(up, now, catch_up_from)
    outcome.listed_prefixes += len(prefixes)
    listing = list(itertools.chain.from_iterable(deps.data.list_blobs(up.container, p) for p in prefixes))
    outcome.listed_blobs += len(listing)
    states = [batching.assess(b, up, now) for b in batching.group_batches(ds.name, up, listing)]
    complete = [s.batch for s in states if s.complete]
    for s in states:
        if not s.complete:
            outcome.incomplete.append({"dataset": ds.name, "batch": s.batch.batch_id, "waiting_for": s.waiting_for})
    _watch_staleness(deps, ds, up, complete, now, outcome)
    if ds.pipeline is None or deps.runner is None:
        return
    slots = batching.running_slots(ds.pipeline, _in_progress(deps, ds.pipeline))
    for batch in complete:
        slots -= _handle_batch(deps, ds, up, ds.pipeline, batch, now, slots, outcome)


def _in_progress(deps: Deps, pipeline: PipelineSpec) -> int:
    """Runs of the pipeline still in flight, per the ledger; finished ones leave it."""
    assert deps.runner is not None
    count = 0
    for entity in list(deps.state.query(deps.tables.active, pipeline.name)):
        try:
            run = deps.runner.get_run(entity.row)
        except NotFound:
            deps.state.delete(entity)
            continue
        if run.status.finished:
            _update_run_status(deps, entity.row, run.status)
            deps.state.delete(entity)
        else:
            count += 1
    return count


def _update_run_status(deps: Deps, run_id: str, status: RunStatus) -> None:
    ledger = deps.state.get(deps.tables.runs, run_id, "")
    if ledger is not None:
        deps.state.upsert(Entity(deps.tables.runs, run_id, "", {**ledger.data, "status": status.value}))


def _handle_batch(deps: Deps, ds: DatasetSpec, up: UpstreamSpec, pipeline: PipelineSpec, batch: Batch,
                  now: datetime, slots: int, outcome: TickOutcome) -> int:
    """Decide one complete batch. Returns how many run slots it used (0 or 1)."""
    info = {"dataset": ds.name, "batch": batch.batch_id}
    record = deps.state.get(deps.tables.batches, ds.name, row_key(batch.key))
    if record is not None and record.data.get("status") == "started":
        _check_late_files(deps, ds, batch, record, now, outcome)
        return 0
    if record is not None and record.data.get("status") == "claimed":
        claimed_at = arrivals.parse_time(record.data.get("claimed_at")) or now
        if now - claimed_at < deps.claim_timeout:
            outcome.skipped.append({**info, "reason": "claimed by another tick"})
            return 0
    if record is not None:
        # A claim whose tick crashed or whose start failed: did a run start after all? Look back to the
        # first claim: any attempt since then may have created one.
        first = (arrivals.parse_time(record.data.get("first_claimed_at"))
                 or arrivals.parse_time(record.data.get("claimed_at")) or now)
        run = _find_run(deps, pipeline, batch, first, now)
        if run is not None:
            try:
                _record_started(deps, ds, pipeline, batch, record, run, now)
            except Conflict:
                outcome.skipped.append({**info, "reason": "reconciled by another tick"})
                return 0
            outcome.reconciled.append({**info, "run_id": run})
            log.info("pipeline run reconciled", extra={"dataset": ds.name, "batch": batch.batch_id, "run": run,
                                                       "pipeline": pipeline.name})
            return 0
    if slots <= 0:
        outcome.waiting.append({**info, "reason": f"{pipeline.concurrency.policy}: a run is in progress"})
        return 0
    claim = {"status": "claimed", "token": uuid.uuid4().hex, "claimed_at": now.isoformat(),
             "first_claimed_at": str(record.data.get("first_claimed_at", "")) if record else now.isoformat(),
             "attempt": int(record.data.get("attempt", 0)) + 1 if record else 1, "batch_id": batch.batch_id,
             "files": json.dumps([f.name for f in batch.files])}
    try:
        if record is None:
            record = deps.state.insert(Entity(deps.tables.batches, ds.name, row_key(batch.key), claim))
        else:
            record = deps.state.replace(Entity(deps.tables.batches, ds.name, row_key(batch.key), claim,
                                               record.etag))
    except Conflict:
        outcome.skipped.append({**info, "reason": "claimed by another tick"})
        return 0
    return _start(deps, ds, up, pipeline, batch, record, now, outcome)


def _start(deps: Deps, ds: DatasetSpec, up: UpstreamSpec, pipeline: PipelineSpec, batch: Batch,
           record: Entity, now: datetime, outcome: TickOutcome) -> int:
    assert deps.runner is not None
    info = {"dataset": ds.name, "batch": batch.batch_id}
    parameters = batching.run_parameters(pipeline, batch, up.container)
    try:
        run_id = _start_once(deps, pipeline, batch, parameters, now)
    except ExternalError as exc:
        # The run may or may not exist (a 5xx after the factory accepted it): mark the claim so the
        # next tick reconciles at once instead of waiting out the claim timeout.
        try:
            deps.state.replace(Entity(deps.tables.batches, ds.name, record.row,
                                      {**record.data, "status": "start_failed", "error": str(exc)[:500]},
                                      record.etag))
        except ExternalError:
            pass
        outcome.errors.append({**info, "error": str(exc)})
        if isinstance(exc, (Rejected, NotFound)):
            _emit(deps, outcome, Alert(
                ds.name, "run_start_failed", Severity.FAIL,
                f"ADF refused to start pipeline {pipeline.name} for batch {batch.key}: {exc}", now,
                subject=batch.key, facts={"pipeline": pipeline.name, "batch": batch.batch_id}))
        return 0
    try:
        _record_started(deps, ds, pipeline, batch, record, run_id, now)
    except Conflict:
        # Only possible if this tick outlived the claim timeout; the run exists and the other tick
        # will find it by its batch id, so nothing is lost.
        log.error("claim was taken over while starting a run",
                  extra={"dataset": ds.name, "batch": batch.batch_id, "run_id": run_id})
    outcome.started.append({**info, "run_id": run_id})
    log.info("pipeline run started", extra={"dataset": ds.name, "batch": batch.batch_id, "run": run_id,
                                            "pipeline": pipeline.name, "files": len(batch.files)})
    return 1


def _start_once(deps: Deps, pipeline: PipelineSpec, batch: Batch, parameters: dict[str, Any],
                now: datetime) -> str:
    """createRun; after a 5xx the run may exist, so look for it before trying once more."""
    assert deps.runner is not None
    for attempt in range(START_ATTEMPTS):
        try:
            return deps.runner.start_run(pipeline.name, parameters)
        except Unavailable:
            found = _find_run(deps, pipeline, batch, now, now)
            if found is not None:
                return found
            if attempt == START_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _record_started(deps: Deps, ds: DatasetSpec, pipeline: PipelineSpec, batch: Batch, record: Entity,
                    run_id: str, now: datetime) -> None:
    """Ledger and in-flight rows first (idempotent upserts), then the batch (conditional)."""
    ledger = {"dataset": ds.name, "pipeline": pipeline.name, "batch_id": batch.batch_id,
              "batch_key": batch.key, "started_at": now.isoformat(), "status": RunStatus.QUEUED.value}
    deps.state.upsert(Entity(deps.tables.runs, run_id, "", ledger))
    deps.state.upsert(Entity(deps.tables.active, pipeline.name, run_id, {"batch_id": batch.batch_id}))
    deps.state.replace(Entity(deps.tables.batches, ds.name, record.row,
                              {**record.data, "status": "started", "run_id": run_id,
                               "started_at": now.isoformat()}, record.etag))


def _find_run(deps: Deps, pipeline: PipelineSpec, batch: Batch, claimed_at: datetime, now: datetime) -> str | None:
    assert deps.runner is not None
    names = [n for n, t in pipeline.parameters.items() if t == "{batch_id}"]
    runs = deps.runner.query_runs(pipeline.name, claimed_at - RECONCILE_MARGIN, now + RECONCILE_MARGIN)
    matching = sorted((r for r in runs if any(r.parameters.get(n) == batch.batch_id for n in names)),
                      key=lambda r: r.run_start or now)
    return matching[0].run_id if matching else None


def _check_late_files(deps: Deps, ds: DatasetSpec, batch: Batch, record: Entity, now: datetime,
                      outcome: TickOutcome) -> None:
    if record.data.get("late_alerted"):
        return
    late = batching.late_files(batch, json.loads(record.data.get("files") or "[]"))
    if not late:
        return
    try:
        deps.state.replace(Entity(deps.tables.batches, ds.name, record.row,
                                  {**record.data, "late_alerted": True}, record.etag))
    except Conflict:
        return
    _emit(deps, outcome, Alert(
        ds.name, "upstream_late_files", Severity.WARN,
        f"{len(late)} file(s) arrived in batch {batch.key} after its run started; they were not "
        f"processed (first: {late[0]}).", now, subject=batch.key,
        facts={"batch": batch.batch_id, "run_id": str(record.data.get("run_id", "")),
               "late_files": str(len(late))}))


def _watch_staleness(deps: Deps, ds: DatasetSpec, up: UpstreamSpec, complete: list[Batch], now: datetime,
                     outcome: TickOutcome) -> None:
    fresh = {batch.key: batch.last_change for batch in complete}
    for alert in arrivals.update(deps, ds.name, "upstream", up.staleness, now, fresh):
        _emit(deps, outcome, alert)


def _emit(deps: Deps, outcome: TickOutcome, alert: Alert) -> None:
    deps.alerts.emit(alert)
    outcome.alerts.append(alert.code)
