"""The claim protocol of one upstream batch, as pure decisions: what was read goes in, the step to
apply comes out.

Exactly once: claim the batch (conditional insert) → createRun → record the run id (conditional
replace). A claim without a run id is left alone while its tick may still be working
(``claim_timeout``); after that, or after a start that failed, the factory is asked whether a run
carries the batch id (reconcile) before the batch is claimed again (take over) and started.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from shared.core.batching import late_files
from shared.core.models import Alert, Batch, Severity


class ClaimStatus(StrEnum):
    CLAIMED = "claimed"            # a tick is starting the run
    STARTED = "started"            # the run id is recorded
    START_FAILED = "start_failed"  # createRun failed; the run may exist anyway


@dataclass(frozen=True)
class Claim:
    """What the batches table knows about one batch (``status`` as stored: unknown values are kept)."""

    status: str
    token: str = ""
    claimed_at: datetime | None = None
    first_claimed_at: datetime | None = None
    attempt: int = 0
    batch_id: str = ""
    files: tuple[str, ...] = ()           # the data files the run was started with
    run_id: str = ""
    started_at: datetime | None = None
    error: str = ""
    late_alerted: bool = False

    def started(self, run_id: str, now: datetime) -> Claim:
        return replace(self, status=ClaimStatus.STARTED, run_id=run_id, started_at=now)

    def start_failed(self, error: str) -> Claim:
        return replace(self, status=ClaimStatus.START_FAILED, error=error[:500])


def new_claim(previous: Claim | None, batch: Batch, token: str, now: datetime) -> Claim:
    """A fresh claim, or the next attempt over a stale one (which keeps the first claim's time, the
    start of the window in which any attempt may have created a run)."""
    return Claim(ClaimStatus.CLAIMED, token, now, previous.first_claimed_at if previous else now,
                 previous.attempt + 1 if previous else 1, batch.batch_id, tuple(f.name for f in batch.files))


# The steps a decision returns; the service applies exactly the one it gets.
@dataclass(frozen=True)
class Nothing:
    """Started already, and nothing new to say about it."""


@dataclass(frozen=True)
class Skip:
    reason: str


@dataclass(frozen=True)
class Wait:
    reason: str


@dataclass(frozen=True)
class Reconcile:
    """Ask the factory for runs carrying the batch id since ``since``, then call ``after_reconcile``."""

    since: datetime


@dataclass(frozen=True)
class RecordStarted:
    """A run exists for the batch: record it (conditional on the claim read)."""

    claim: Claim
    reconciled: bool


@dataclass(frozen=True)
class Start:
    """Claim the batch (insert, or replace the stale claim read when ``take_over``), then createRun."""

    claim: Claim
    take_over: bool


@dataclass(frozen=True)
class AlertLateFiles:
    """Mark the claim alerted (conditional: one tick wins), then raise ``alert``."""

    claim: Claim
    alert: Alert


type Step = Nothing | Skip | Wait | Reconcile | RecordStarted | Start | AlertLateFiles


def decide(seen: Claim | None, batch: Batch, now: datetime, claim_timeout: timedelta, slots: int, token: str,
           policy: str) -> Step:
    """The first step for a complete batch, from its claim as read (None: never claimed). ``slots``:
    runs the concurrency policy still allows; ``token``: a fresh id for a new claim."""
    if seen is None:
        return _start_or_wait(None, batch, now, slots, token, policy)
    if seen.status == ClaimStatus.STARTED:
        return _late_files(seen, batch, now)
    if seen.status == ClaimStatus.CLAIMED and now - (seen.claimed_at or now) < claim_timeout:
        return Skip("claimed by another tick")
    # A claim whose tick crashed or whose start failed: did a run start after all? Look back to the
    # first claim: any attempt since then may have created one.
    return Reconcile(seen.first_claimed_at or seen.claimed_at or now)


def after_reconcile(seen: Claim, batch: Batch, run_id: str | None, now: datetime, slots: int, token: str,
                    policy: str) -> Step:
    """The step once the factory was asked: record the run it has, or take the claim over."""
    if run_id is not None:
        return RecordStarted(seen.started(run_id, now), reconciled=True)
    return _start_or_wait(seen, batch, now, slots, token, policy)


def _start_or_wait(seen: Claim | None, batch: Batch, now: datetime, slots: int, token: str, policy: str) -> Step:
    if slots <= 0:
        return Wait(f"{policy}: a run is in progress")
    return Start(new_claim(seen, batch, token, now), take_over=seen is not None)


def _late_files(seen: Claim, batch: Batch, now: datetime) -> Step:
    if seen.late_alerted:
        return Nothing()
    late = late_files(batch, seen.files)
    if not late:
        return Nothing()
    return AlertLateFiles(replace(seen, late_alerted=True), Alert(
        batch.dataset, "upstream_late_files", Severity.WARN,
        f"{len(late)} file(s) arrived in batch {batch.key} after its run started; they were not "
        f"processed (first: {late[0]}).", now, subject=batch.key,
        facts={"batch": batch.batch_id, "run_id": seen.run_id, "late_files": str(len(late))}))


def start_refused_alert(batch: Batch, pipeline: str, error: str, now: datetime) -> Alert:
    """ADF refused the start (4xx): retrying will not help, someone must look."""
    return Alert(batch.dataset, "run_start_failed", Severity.FAIL,
                 f"ADF refused to start pipeline {pipeline} for batch {batch.key}: {error}", now,
                 subject=batch.key, facts={"pipeline": pipeline, "batch": batch.batch_id})
