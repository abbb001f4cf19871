"""Every failed run reported once: ``run_failed`` is raised by whoever sees the failure first, the
webhook's decision (the pipeline's failure Web activity) or the follow-up timer (a run that failed
before its last activity, whose callback was lost, or that a factory trigger started), never twice.

The run ledger row carries ``failure_reported``; claiming it is a conditional write, so two workers
that see the same failure at once cannot both raise it.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta

from shared.core.models import Alert, PipelineRun, RunStatus, Severity
from shared.core.spec import DatasetSpec
from shared.errors import Conflict, ExternalError
from shared.services import engines
from shared.services.deps import Deps
from shared.services.ledgers import Ledgers
from shared.services.ledgers.runs import RunRecord
from shared.services.ledgers.watch import FailedRunsLook

log = logging.getLogger(__name__)
FIRST_LOOK = timedelta(days=2)       # how far back the first look of a pipeline goes


def claim_report(deps: Deps, run: PipelineRun, dataset: str, batch_id: str) -> bool:
    """True for exactly one caller per failed run: the one that should raise ``run_failed``."""
    runs = Ledgers.of(deps).runs
    record = runs.find(run.run_id)
    try:
        if record is None:
            runs.insert(RunRecord(run.run_id, dataset, run.pipeline, batch_id, batch_id.partition(":")[2],
                                  run.run_start, run.status.value, failure_reported=True, started_by_us=False))
            return True
        if record.failure_reported:
            return False
        runs.replace(replace(record, status=run.status.value, failure_reported=True))
        return True
    except Conflict:     # another worker wrote the row in between: it reports (or has reported) the failure
        return False


def failure_alert(dataset: str, run: PipelineRun, batch_id: str, activity: str, error: str, status: str,
                  deps: Deps, now: datetime, engine: str = "adf") -> Alert:
    return Alert(dataset, "run_failed", Severity.FAIL,
                 f"Pipeline {run.pipeline} run {run.run_id} {status.lower()}"
                 + (f" in activity {activity}" if activity else "") + (f": {error}" if error else "."),
                 now, subject=run.run_id, facts={"run_id": run.run_id, "batch": batch_id, "status": status},
                 links=engines.links(deps, engine, run.run_id))


def report_unreported(deps: Deps, now: datetime) -> int:
    """The follow-up timer's look: runs of each watched pipeline that ended Failed or Cancelled since
    the last look and were never reported raise ``run_failed`` once. Returns how many were raised."""
    ledgers, raised = Ledgers.of(deps), 0
    for ds in deps.config.datasets:
        runner = engines.runner_for(deps, ds)
        if ds.pipeline is None or runner is None:
            continue
        look = ledgers.failed_runs_looks.get("_failed_runs", ds.pipeline.name)
        since = look.until if look is not None and look.until is not None else now - FIRST_LOOK
        for run in runner.query_runs(ds.pipeline.name, since - timedelta(minutes=1), now):
            if run.status in (RunStatus.FAILED, RunStatus.CANCELLED):
                raised += _report(deps, ds, run, now)
        ledgers.failed_runs_looks.upsert(FailedRunsLook(ds.pipeline.name, now))
    return raised


def _report(deps: Deps, ds: DatasetSpec, run: PipelineRun, now: datetime) -> int:
    assert ds.pipeline is not None
    record = Ledgers.of(deps).runs.find(run.run_id)
    if record is None and ds.pipeline.watch == "started":
        return 0                      # not one of ours, and the dataset asks only about ours
    if record is not None and record.failure_reported:
        return 0
    batch_id = record.batch_id if record is not None else _batch_id(ds, run)
    activity = error = ""
    runner = engines.runner_for(deps, ds)
    try:
        failed = [a for a in runner.query_activity_runs(run.run_id) if a.get("status") == "Failed"] \
            if runner is not None else []
        if failed:
            activity, error = failed[0].get("activity", ""), failed[0].get("error", "")
    except ExternalError as exc:      # the alert matters more than its detail
        log.warning("activity runs unavailable for a failed run", extra={"run": run.run_id,
                                                                          "error_type": type(exc).__name__})
    if not claim_report(deps, run, ds.name, batch_id):
        return 0
    deps.alerts.emit(failure_alert(ds.name, run, batch_id, activity, error or run.message, run.status.value, deps,
                                   now, ds.engine))
    return 1


def _batch_id(ds: DatasetSpec, run: PipelineRun) -> str:
    assert ds.pipeline is not None
    names = [n for n, t in ds.pipeline.parameters.items() if t == "{batch_id}"]
    return next((str(run.parameters[n]) for n in names if run.parameters.get(n)), "")
