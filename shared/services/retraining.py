"""Retraining on drift: when a dataset's output drifts (or shifts level), start its retraining pipeline,
once per incident: at most once per ``retrain.cooldown``, claimed like a batch (a conditional write, so
two guards judging two drifting files at once start one run), the claim re-checked before every retry,
and a failed start reconciled by its ``incident`` parameter before it is tried again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from shared.core.claims import Claim, ClaimStatus
from shared.core.models import Alert
from shared.core.spec import DatasetSpec
from shared.errors import Conflict, ExternalError, Superseded
from shared.ports import PipelineRunner
from shared.services import engines
from shared.services.deps import Deps
from shared.services.ledgers import Ledgers
from shared.services.ledgers.batches import BatchRecord

log = logging.getLogger(__name__)
LAST = "last"
MARGIN = timedelta(hours=1)   # clock skew between us and the factory


@dataclass(frozen=True)
class Retrain:
    pipeline: str
    run_id: str = ""
    error: str = ""


def announced(started: Retrain | None, alerts: Sequence[Alert]) -> Sequence[Alert]:
    """The alerts say that retraining was started (or could not be), with the run."""
    if started is None:
        return alerts
    said = (f" Retraining pipeline {started.pipeline} started (run {started.run_id})." if started.run_id
            else f" Retraining pipeline {started.pipeline} could not be started: {started.error}")
    facts = {"retrain_pipeline": started.pipeline, "retrain_run": started.run_id or "not started"}
    return [replace(a, message=a.message + said, facts={**a.facts, **facts}) for a in alerts]


def maybe_start(deps: Deps, ds: DatasetSpec, batch: str, codes: tuple[str, ...], now: datetime) -> Retrain | None:
    """Start the retraining pipeline if ``codes`` hold a trigger and no incident is open; None if not."""
    spec = ds.retrain
    runner = engines.runner_for(deps, ds)
    if spec is None or runner is None or not set(codes) & set(spec.on):
        return None
    batches, partition = Ledgers.of(deps).batches, f"{ds.name}|retrain"
    last = batches.find(partition, LAST)
    if last is not None and last.claim.claimed_at is not None and now - last.claim.claimed_at < spec.cooldown \
            and last.claim.status != ClaimStatus.START_FAILED:
        return None                       # this incident has its run (or one is being started)
    retry = last is not None and last.claim.status == ClaimStatus.START_FAILED and bool(last.claim.batch_id)
    if retry:   # a failed start: the same incident, found again or started
        assert last is not None
        incident, first, attempt = last.claim.batch_id, last.claim.first_claimed_at or now, last.claim.attempt + 1
    else:
        incident, first, attempt = f"{ds.name}:{now:%Y%m%dT%H%M%S}:{uuid.uuid4().hex[:6]}", now, 1
    claim = Claim(ClaimStatus.CLAIMED, uuid.uuid4().hex, now, first, attempt, incident)
    try:
        record = (batches.replace(replace(last, claim=claim)) if last is not None
                  else batches.insert(BatchRecord.of(partition, LAST, claim)))
    except Conflict:
        return None                       # another guard claimed it: that one starts the run
    values = {"dataset": ds.name, "batch": batch, "codes": ",".join(codes), "incident": incident}
    parameters = {name: template.format(**values) for name, template in spec.parameters.items()}

    def still_ours() -> None:
        current = batches.find(partition, LAST)
        if current is None or current.etag != record.etag:
            raise Superseded(f"the retraining claim of {ds.name} was taken over")

    try:
        run_id = _found(runner, spec.pipeline, incident, claim) or runner.start_run(
            spec.pipeline, parameters, before_retry=still_ours)
    except ExternalError as exc:
        try:
            batches.replace(replace(record, claim=record.claim.start_failed(str(exc))))
        except ExternalError:
            pass
        log.warning("retraining could not be started", extra={"dataset": ds.name, "pipeline": spec.pipeline,
                                                                "error_type": type(exc).__name__})
        return Retrain(spec.pipeline, error=str(exc)[:300])
    try:
        batches.replace(replace(record, claim=record.claim.started(run_id, now)))
    except Conflict:
        pass
    log.info("retraining started", extra={"dataset": ds.name, "pipeline": spec.pipeline, "run": run_id,
                                          "codes": ",".join(codes)})
    return Retrain(spec.pipeline, run_id)


def _found(runner: PipelineRunner, pipeline: str, incident: str, claim: Claim) -> str | None:
    """A run an earlier, failed start of this incident created after all (it carries the incident; on
    Fabric, whose runs report no parameters, it is not found: see the README's limits)."""
    if claim.attempt <= 1 or claim.first_claimed_at is None or claim.claimed_at is None:
        return None
    runs = runner.query_runs(pipeline, claim.first_claimed_at - MARGIN, claim.claimed_at + MARGIN)
    return next((run.run_id for run in runs if incident in run.parameters.values()), None)
