"""The follow-up timer: refresh outcomes and owed refreshes, alert digests, stuck runs, failed runs
nobody reported."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from shared.core.models import Alert, Severity
from shared.errors import ExternalError, NotFound
from shared.services import digests, engines, refresh, run_failures
from shared.services.deps import Deps
from shared.services.ledgers import Ledgers
from shared.services.run_durations import duration_band

log = logging.getLogger(__name__)
STUCK_FACTOR = 2.0          # in progress longer than twice the top of the normal band


def run(deps: Deps, now: datetime) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    steps: tuple[tuple[str, Callable[[], dict[str, int]]], ...] = (
        ("refreshes", lambda: refresh.follow_up(deps, now)),
        ("digests", lambda: digests.send(deps, now)),
        ("stuck", lambda: {"stuck": check_stuck_runs(deps, now)}),
        ("failed_runs", lambda: {"reported": run_failures.report_unreported(deps, now)}))
    for name, step in steps:
        try:
            result = step()
            summary.update({f"{name}_{k}": v for k, v in result.items()})
        except ExternalError as exc:
            log.warning("follow-up step failed", extra={"step": name, "error_type": type(exc).__name__})
            summary[f"{name}_error"] = type(exc).__name__
    return summary


def _limit(deps: Deps, pipeline: str, max_duration: timedelta | None, now: datetime,
           engine: str = "adf") -> float | None:
    if max_duration is not None:
        return max_duration.total_seconds()
    band = duration_band(deps, pipeline, now, engine)
    return band.high * STUCK_FACTOR if band is not None and band.high else None


def check_stuck_runs(deps: Deps, now: datetime) -> int:
    """Alert once per run that has been in progress far beyond its baseline (or max_duration)."""
    raised = 0
    for ds in deps.config.datasets:
        runner = engines.runner_for(deps, ds)
        if ds.pipeline is None or runner is None:
            continue
        limit: float | None = None
        limit_known = False
        active = Ledgers.of(deps).active
        for entry in active.query(ds.pipeline.name):
            if entry.stuck_alerted:
                continue
            try:
                run = runner.get_run(entry.run_id)
            except NotFound:
                continue
            if run.status.finished or run.run_start is None:
                continue
            if not limit_known:
                limit, limit_known = _limit(deps, ds.pipeline.name, ds.pipeline.max_duration, now, ds.engine), True
            elapsed = (now - run.run_start).total_seconds()
            if limit is None or elapsed <= limit:
                continue
            deps.alerts.emit(Alert(ds.name, "run_stuck", Severity.WARN,
                                   f"Run {run.run_id} of {ds.pipeline.name} has been {run.status.value} for "
                                   f"{elapsed / 60:.0f} min, beyond the {limit / 60:.0f} min it normally "
                                   "needs at most.", now, subject=run.run_id,
                                   facts={"run_id": run.run_id, "batch": entry.batch_id},
                                   links=engines.links(deps, ds.engine, run.run_id)))
            active.upsert(replace(entry, stuck_alerted=True))
            raised += 1
    return raised
