"""Power BI refreshes: request one politely (budget, in-progress check, 429), then follow it to the end.

Rows in the refreshes table, partition ``<workspace>|<dataset>``:
``<yyyy-mm-dd>|<request id>`` one requested refresh (status requested → Completed / Failed / ...);
``pending`` a refresh owed but not yet requested (one already running, throttled, service down).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.core.models import Alert, Severity
from shared.core.spec import PowerBIDataset
from shared.errors import Conflict, ExternalError, Rejected, Throttled
from shared.ports import Entity
from shared.services.arrivals import parse_time
from shared.services.deps import Deps

log = logging.getLogger(__name__)

RETRY_PENDING = timedelta(minutes=2)
FINAL = ("Completed", "Failed", "Cancelled", "Disabled")


@dataclass(frozen=True)
class RefreshOutcome:
    workspace: str
    dataset: str
    state: str                  # started | queued | held | failed
    request_id: str = ""
    reason: str = ""

    def to_dict(self) -> dict[str, str]:
        out = {"workspace": self.workspace, "dataset": self.dataset, "state": self.state}
        if self.request_id:
            out["requestId"] = self.request_id
        if self.reason:
            out["reason"] = self.reason
        return out


def _partition(target: PowerBIDataset) -> str:
    return f"{target.workspace}|{target.dataset}"


def used_today(deps: Deps, target: PowerBIDataset, now: datetime) -> int:
    day = now.date().isoformat()
    rows = deps.state.query(deps.tables.refreshes, _partition(target), day, day + "~")
    return sum(1 for _ in rows)


def request(deps: Deps, dataset_name: str, target: PowerBIDataset, run_id: str, now: datetime) -> RefreshOutcome:
    """Ask for one refresh of ``target`` now, or queue it when Power BI cannot take it yet."""
    assert deps.refresher is not None
    ws, ds = target.workspace, target.dataset
    if used_today(deps, target, now) >= deps.powerbi_daily_limit:
        alert = Alert(dataset_name, "refresh_budget_exhausted", Severity.WARN,
                      f"Power BI dataset {ds} has used its {deps.powerbi_daily_limit} refreshes for today (UTC); "
                      f"the refresh for run {run_id} was not requested. Dashboards show the last refresh.",
                      now, subject=f"{ws}/{ds}", facts={"workspace": ws, "dataset": ds, "run_id": run_id})
        deps.alerts.emit(alert)
        return RefreshOutcome(ws, ds, "held", reason="daily refresh budget used up")
    try:
        latest = deps.refresher.latest_refresh(ws, ds)
        if latest is not None and latest.in_progress:
            return _queue(deps, target, dataset_name, run_id, now + RETRY_PENDING, "a refresh is already running")
        request_id = deps.refresher.start_refresh(ws, ds, target.enhanced)
    except Conflict:
        return _queue(deps, target, dataset_name, run_id, now + RETRY_PENDING, "a refresh is already running")
    except Throttled as exc:
        wait = timedelta(seconds=exc.retry_after or RETRY_PENDING.total_seconds())
        return _queue(deps, target, dataset_name, run_id, now + wait, "Power BI is throttling (429)")
    except Rejected as exc:
        deps.alerts.emit(Alert(dataset_name, "refresh_failed", Severity.FAIL,
                               f"Power BI refused the refresh of dataset {ds}: {exc}", now, subject=f"{ws}/{ds}",
                               facts={"workspace": ws, "dataset": ds, "run_id": run_id}))
        return RefreshOutcome(ws, ds, "failed", reason=str(exc))
    except ExternalError as exc:
        return _queue(deps, target, dataset_name, run_id, now + RETRY_PENDING, f"Power BI unavailable: {exc}")
    deps.state.upsert(Entity(deps.tables.refreshes, _partition(target), f"{now.date().isoformat()}|{request_id}",
                             {"status": "requested", "run_id": run_id, "dataset_name": dataset_name,
                              "requested_at": now.isoformat()}))
    pending = deps.state.get(deps.tables.refreshes, _partition(target), "pending")
    if pending is not None:
        deps.state.delete(pending)
    log.info("power bi refresh requested", extra={"workspace": ws, "dataset": ds, "request_id": request_id})
    return RefreshOutcome(ws, ds, "started", request_id)


def _queue(deps: Deps, target: PowerBIDataset, dataset_name: str, run_id: str, not_before: datetime,
           reason: str) -> RefreshOutcome:
    deps.state.upsert(Entity(deps.tables.refreshes, _partition(target), "pending", {
        "run_id": run_id, "dataset_name": dataset_name, "not_before": not_before.isoformat(), "reason": reason}))
    return RefreshOutcome(target.workspace, target.dataset, "queued", reason=reason)


def follow_up(deps: Deps, now: datetime) -> dict[str, int]:
    """Request owed refreshes whose time has come; check requested ones and alert on failures."""
    counts = {"requested": 0, "completed": 0, "failed": 0, "running": 0}
    if deps.refresher is None:
        return counts
    for ds in deps.config.datasets:
        for target in ds.powerbi:
            pending = deps.state.get(deps.tables.refreshes, _partition(target), "pending")
            if pending is not None and (parse_time(pending.data.get("not_before")) or now) <= now:
                outcome = request(deps, ds.name, target, str(pending.data.get("run_id", "")), now)
                counts["requested"] += outcome.state == "started"
            since = (now - timedelta(days=2)).date().isoformat()
            for row in deps.state.query(deps.tables.refreshes, _partition(target), since, "9999"):
                if row.data.get("status") in FINAL or "|" not in row.row:
                    continue
                _check(deps, ds.name, target, row, now, counts)
    return counts


def _check(deps: Deps, dataset_name: str, target: PowerBIDataset, row: Entity, now: datetime,
           counts: dict[str, int]) -> None:
    assert deps.refresher is not None
    request_id = row.row.split("|", 1)[1]
    try:
        state = deps.refresher.get_refresh(target.workspace, target.dataset, request_id)
    except ExternalError as exc:
        log.warning("refresh status unavailable", extra={"request_id": request_id, "error": str(exc)})
        return
    if state.in_progress:
        counts["running"] += 1
        return
    deps.state.upsert(Entity(row.table, row.partition, row.row, {**row.data, "status": state.status,
                                                                   "error": state.error[:500]}))
    if state.status == "Completed":
        counts["completed"] += 1
        return
    counts["failed"] += 1
    deps.alerts.emit(Alert(dataset_name, "refresh_failed", Severity.FAIL,
                           f"The Power BI refresh of dataset {target.dataset} ended {state.status}"
                           + (f": {state.error}" if state.error else "."), now,
                           subject=f"{target.workspace}/{target.dataset}/{request_id}",
                           facts={"workspace": target.workspace, "dataset": target.dataset,
                                  "request_id": request_id, "run_id": str(row.data.get("run_id", ""))}))
