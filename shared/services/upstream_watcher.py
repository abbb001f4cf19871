"""The upstream watcher's tick: list new upstream data, start one ADF run per complete batch.

Exactly once: claim the batch (conditional insert) → createRun → record the run id (conditional
replace). The decisions are ``shared.core.claims``; this module gathers what they need (the claim
as stored, the factory's runs of the batch) and applies the step they return.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from shared.core import batching, claims
from shared.core.models import Alert, Batch, RunStatus, Severity
from shared.core.spec import DatasetSpec, UpstreamSpec
from shared.errors import Conflict, ExternalError, NotFound, Rejected, Superseded, Unavailable
from shared.ports import PipelineRunner, StartedRunFinder
from shared.services import arrivals, engines
from shared.services.deps import Deps
from shared.services.ledgers import Ledgers
from shared.services.ledgers.active import ActiveRun
from shared.services.ledgers.batches import BatchRecord
from shared.services.ledgers.runs import RunRecord
from shared.services.ledgers.watch import WATCHER, WatcherTick
from shared.services.start_slot import StartSlots

log = logging.getLogger(__name__)

CATCH_UP_LIMIT = timedelta(days=31)   # a past-due tick lists at most this far back
RECONCILE_MARGIN = timedelta(hours=1)
START_ATTEMPTS = 2                    # createRun tries per tick when the factory answers 5xx


def claim_timeout_problem(claim_timeout: timedelta, worst_case_start_seconds: float) -> str | None:
    """CLAIM_TIMEOUT must outlive everything a tick may do after claiming a batch (every createRun
    attempt with the adapter's retries, and the look for a run in between); else a claim can expire
    while its tick can still create a run, and another tick starts a second one."""
    needed = timedelta(seconds=worst_case_start_seconds * (START_ATTEMPTS + 1))
    if claim_timeout > needed:
        return None
    minutes = int(needed.total_seconds() // 60) + 1
    return (f"CLAIM_TIMEOUT: {claim_timeout} is not longer than the {needed} a tick may spend starting one run "
            f"(createRun with the adapter's retries, {START_ATTEMPTS} times, and a look for the run); set at "
            f"least {minutes}m")


type ResultKind = Literal["", "started", "reconciled", "waiting", "skipped", "errors"]


@dataclass(frozen=True)
class BatchResult:
    """What happened to one complete batch: ``kind`` names the outcome list it goes to ("" for none)."""

    kind: ResultKind
    detail: dict[str, str] = field(default_factory=dict)
    alerts: tuple[Alert, ...] = ()

    @property
    def slots_used(self) -> int:
        return 1 if self.kind == "started" else 0


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

    def add(self, batch: Batch, result: BatchResult) -> None:
        if result.kind:
            entries: list[dict[str, str]] = getattr(self, result.kind)
            entries.append({"dataset": batch.dataset, "batch": batch.batch_id, **result.detail})


def run_tick(deps: Deps, now: datetime, past_due: bool = False) -> TickOutcome:
    outcome = TickOutcome()
    ticks = Ledgers.of(deps).ticks
    tick = ticks.get(WATCHER, "tick")
    last_tick = tick.at if tick else None
    catch_up_from = max(last_tick, now - CATCH_UP_LIMIT) if last_tick else None
    if past_due:
        log.warning("upstream tick is past due; catching up", extra={"last_tick": str(last_tick)})
    for ds in deps.config.datasets:
        try:
            if ds.output is not None:
                # Outputs land through the output guard; the timer is what notices when they stop.
                _emit(deps, outcome, arrivals.update(deps, ds.name, "output", ds.output.staleness, now))
            if ds.upstream is not None:
                _tick_dataset(deps, ds, ds.upstream, now, catch_up_from, outcome)
        except ExternalError as exc:
            log.error("upstream tick failed for dataset", extra={"dataset": ds.name, "error": str(exc)})
            outcome.errors.append({"dataset": ds.name, "error": str(exc)})
            _emit(deps, outcome, [Alert(
                ds.name, "watch_failed", Severity.WARN,
                f"The upstream watcher could not check {ds.name}: {exc}", now, subject="watch",
                facts={"error_type": type(exc).__name__})])
    ticks.upsert(WatcherTick(now))
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
    fresh = {batch.key: batch.last_change for batch in complete}
    _emit(deps, outcome, arrivals.update(deps, ds.name, "upstream", up.staleness, now, fresh))
    runner = engines.runner_for(deps, ds)
    if ds.pipeline is None or runner is None:
        return
    starter = _Starter(deps, runner, ds, up.container, now)
    slots = batching.running_slots(ds.pipeline, starter.in_flight())
    for batch in complete:
        result = starter.handle(batch, slots)
        outcome.add(batch, result)
        _emit(deps, outcome, result.alerts)
        slots -= result.slots_used


class _Starter:
    """Gathers what the claim decisions need and applies their steps, for one pipeline in one tick."""

    def __init__(self, deps: Deps, runner: PipelineRunner, ds: DatasetSpec, container: str, now: datetime) -> None:
        assert ds.pipeline is not None
        self.runner, self.pipeline, self.container, self.now = runner, ds.pipeline, container, now
        self.clock = deps.clock
        self.claim_timeout = deps.claim_timeout
        self.ledgers = Ledgers.of(deps)
        # Fabric: runs are found by time, so one start of the pipeline at a time (the start slot).
        self.finder = runner if isinstance(runner, StartedRunFinder) else None
        self.slots = StartSlots(self.ledgers, ds.engine, ds.pipeline.name, [
            d.name for d in deps.config.datasets
            if d.pipeline is not None and d.engine == ds.engine and d.pipeline.name == ds.pipeline.name])

    def in_flight(self) -> int:
        """Runs of the pipeline still in flight, per the ledger; finished ones leave it."""
        count = 0
        for active in self.ledgers.active.query(self.pipeline.name):
            try:
                run = self.runner.get_run(active.run_id)
            except NotFound:
                self.ledgers.active.delete(active)
                continue
            if run.status.finished:
                self._note_finished(active.run_id, run.status)
                self.ledgers.active.delete(active)
            else:
                count += 1
        return count

    def _note_finished(self, run_id: str, status: RunStatus) -> None:
        ledger = self.ledgers.runs.find(run_id)
        if ledger is not None:
            try:   # conditional: a failure report written meanwhile must not be undone
                self.ledgers.runs.replace(ledger.with_status(status.value))
            except Conflict:
                pass

    def handle(self, batch: Batch, slots: int) -> BatchResult:
        """Decide one complete batch and apply the decision."""
        seen = self.ledgers.batches.find(batch.dataset, batch.key)
        token, policy = uuid.uuid4().hex, self.pipeline.concurrency.policy
        step = claims.decide(seen.claim if seen else None, batch, self.now, self.claim_timeout, slots, token,
                             policy)
        if isinstance(step, claims.Reconcile):
            assert seen is not None
            run_id = self._find_run(batch, seen.claim)
            step = claims.after_reconcile(seen.claim, batch, run_id, self.now, slots, token, policy)
        return self._apply(step, batch, seen)

    def _apply(self, step: claims.Step, batch: Batch, seen: BatchRecord | None) -> BatchResult:
        match step:
            case claims.Nothing():
                return BatchResult("")
            case claims.Skip(reason):
                return BatchResult("skipped", {"reason": reason})
            case claims.Wait(reason):
                return BatchResult("waiting", {"reason": reason})
            case claims.AlertLateFiles(claim, alert):
                assert seen is not None
                try:
                    self.ledgers.batches.replace(replace(seen, claim=claim))
                except Conflict:
                    return BatchResult("")       # another tick marked it: that tick raises the alert
                return BatchResult("", alerts=(alert,))
            case claims.RecordStarted(claim):
                assert seen is not None
                try:
                    self._record_started(batch, replace(seen, claim=claim))
                except Conflict:
                    return BatchResult("skipped", {"reason": "reconciled by another tick"})
                log.info("pipeline run reconciled", extra={"dataset": batch.dataset, "batch": batch.batch_id,
                                                           "run": claim.run_id, "pipeline": self.pipeline.name})
                return BatchResult("reconciled", {"run_id": claim.run_id})
            case claims.Start(claim, take_over):
                # The claim's own time, not the tick's: a tick may reach this batch minutes after it began.
                at = self.clock.now()
                claim = replace(claim, claimed_at=at, first_claimed_at=claim.first_claimed_at if take_over else at)
                try:
                    if take_over:
                        assert seen is not None
                        record = self.ledgers.batches.replace(replace(seen, claim=claim))
                    else:
                        record = self.ledgers.batches.insert(BatchRecord.of(batch.dataset, batch.key, claim))
                except Conflict:
                    return BatchResult("skipped", {"reason": "claimed by another tick"})
                if self.finder is not None and not self.slots.take(batch):
                    return self._back_off(record, take_over)
                return self._start(batch, record)
            case claims.Reconcile():
                raise AssertionError("a reconcile step is resolved by handle() before anything is applied")

    def _back_off(self, record: BatchRecord, take_over: bool) -> BatchResult:
        """Another start of the pipeline awaits its run id: give this claim back and wait. A new claim is
        deleted; a taken-over one is marked failed, so the next tick looks again at once."""
        reason = f"another start of pipeline {self.pipeline.name} awaits its run id"
        try:
            if take_over:
                self.ledgers.batches.replace(replace(record, claim=record.claim.start_failed(reason)))
            else:
                self.ledgers.batches.delete(record)
        except ExternalError:
            pass                 # left claimed: a later tick reconciles it (it never started a run)
        return BatchResult("waiting", {"reason": reason})

    def _start(self, batch: Batch, record: BatchRecord) -> BatchResult:
        parameters = batching.run_parameters(self.pipeline, batch, self.container)
        try:
            run_id = self._start_once(batch, parameters, record)
        except Superseded as exc:
            # Another tick took the claim over while this one waited to retry: it starts (or found) the
            # run; trying again here would start a second one.
            log.warning("claim lost while retrying createRun; stopped", extra={"dataset": batch.dataset,
                                                                               "batch": batch.batch_id})
            return BatchResult("skipped", {"reason": str(exc)})
        except ExternalError as exc:
            # The run may or may not exist (a 5xx after the factory accepted it): mark the claim so the
            # next tick reconciles at once instead of waiting out the claim timeout.
            try:
                self.ledgers.batches.replace(replace(record, claim=record.claim.start_failed(str(exc))))
            except ExternalError:
                pass
            refused = isinstance(exc, (Rejected, NotFound))
            if refused:          # refused: no run exists, so the next start of the pipeline may go
                self.slots.release(batch)
            alerts = (claims.start_refused_alert(batch, self.pipeline.name, str(exc), self.now),) if refused else ()
            return BatchResult("errors", {"error": str(exc)}, alerts)
        try:
            self._record_started(batch, replace(record, claim=record.claim.started(run_id, self.now)))
        except Conflict:
            # Only possible if this tick outlived the claim timeout; the run exists and the other tick
            # will find it by its batch id, so nothing is lost.
            log.error("claim was taken over while starting a run",
                      extra={"dataset": batch.dataset, "batch": batch.batch_id, "run_id": run_id})
        log.info("pipeline run started", extra={"dataset": batch.dataset, "batch": batch.batch_id, "run": run_id,
                                                "pipeline": self.pipeline.name, "files": len(batch.files)})
        return BatchResult("started", {"run_id": run_id})

    def _start_once(self, batch: Batch, parameters: dict[str, Any], record: BatchRecord) -> str:
        """createRun; after a 5xx the run may exist, so look for it before trying once more. Before
        every repeat (the adapter's after a 429, and ours) the claim must still be ours."""
        def still_ours() -> None:
            current = self.ledgers.batches.find(batch.dataset, batch.key)
            if current is None or current.etag != record.etag:
                raise Superseded(f"the claim on batch {batch.batch_id} was taken over by another tick")

        for attempt in range(START_ATTEMPTS):
            try:
                return self.runner.start_run(self.pipeline.name, parameters, before_retry=still_ours)
            except Unavailable:
                found = self._find_run(batch, record.claim)
                if found is not None:
                    return found
                if attempt == START_ATTEMPTS - 1:
                    raise
                still_ours()
        raise AssertionError("unreachable")

    def _record_started(self, batch: Batch, record: BatchRecord) -> None:
        """Ledger and in-flight rows first (idempotent upserts), then the batch (conditional)."""
        run_id = record.claim.run_id
        self.ledgers.runs.upsert(RunRecord(run_id, batch.dataset, self.pipeline.name, batch.batch_id, batch.key,
                                           self.now, RunStatus.QUEUED.value))
        self.ledgers.active.upsert(ActiveRun(self.pipeline.name, run_id, batch.batch_id))
        self.ledgers.batches.replace(record)
        if self.finder is not None:
            self.slots.release(batch)

    def _find_run(self, batch: Batch, claim: claims.Claim) -> str | None:
        """The run an earlier attempt of this claim may have created: by its batch id parameter, or on an
        engine whose runs carry no parameters, by the time of the attempt (only the start slot's holder
        can have created one)."""
        if self.finder is not None:
            return self.slots.find_run(self.finder, batch, claim, self.now)
        claimed_at = claim.first_claimed_at or self.now
        names = [n for n, t in self.pipeline.parameters.items() if t == "{batch_id}"]
        runs = self.runner.query_runs(self.pipeline.name, claimed_at - RECONCILE_MARGIN, self.now + RECONCILE_MARGIN)
        matching = sorted((r for r in runs if any(r.parameters.get(n) == batch.batch_id for n in names)),
                          key=lambda r: r.run_start or self.now)
        return matching[0].run_id if matching else None


def _emit(deps: Deps, outcome: TickOutcome, alerts: list[Alert] | tuple[Alert, ...]) -> None:
    for alert in alerts:
        deps.alerts.emit(alert)
        outcome.alerts.append(alert.code)
