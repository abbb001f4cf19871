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
from shared.errors import Conflict, ExternalError, Rejected, Throttled, Unauthenticated
from shared.services.deps import Deps
from shared.services.ledgers import Ledgers
from shared.services.ledgers.refreshes import PENDING, PendingRefresh, RequestedRefresh, partition

log = logging.getLogger(__name__)

RETRY_PENDING = timedelta(minutes=2)
TOKEN_ATTEMPTS = 3      # requests without a token before the refresh is given up (2, 4 then 8 minutes apart)
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


def used_today(deps: Deps, target: PowerBIDataset, now: datetime) -> int:
    day = now.date().isoformat()
    return len(Ledgers.of(deps).refreshes.on_days(target, day, day + "~"))


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
    except Unauthenticated as exc:
        return _no_token(deps, target, dataset_name, run_id, now, exc)
    except Rejected as exc:
        deps.alerts.emit(Alert(dataset_name, "refresh_failed", Severity.FAIL,
                               f"Power BI refused the refresh of dataset {ds}: {exc}", now, subject=f"{ws}/{ds}",
                               facts={"workspace": ws, "dataset": ds, "run_id": run_id}))
        return RefreshOutcome(ws, ds, "failed", reason=str(exc))
    except ExternalError as exc:
        return _queue(deps, target, dataset_name, run_id, now + RETRY_PENDING, f"Power BI unavailable: {exc}")
    ledgers = Ledgers.of(deps)
    ledgers.refreshes.upsert(RequestedRefresh(partition(target), now.date().isoformat(), request_id, "requested",
                                              run_id, dataset_name, now))
    pending = ledgers.pending_refreshes.get(partition(target), PENDING)
    if pending is not None:
        ledgers.pending_refreshes.delete(pending)
    log.info("power bi refresh requested", extra={"dataset": dataset_name, "run": run_id, "workspace": ws,
                                                  "powerbi_dataset": ds, "request_id": request_id})
    return RefreshOutcome(ws, ds, "started", request_id)


def _queue(deps: Deps, target: PowerBIDataset, dataset_name: str, run_id: str, not_before: datetime,
           reason: str, attempts: int = 0) -> RefreshOutcome:
    Ledgers.of(deps).pending_refreshes.upsert(PendingRefresh(partition(target), run_id, dataset_name, not_before,
                                                             reason, attempts))
    return RefreshOutcome(target.workspace, target.dataset, "queued", reason=reason)


def _no_token(deps: Deps, target: PowerBIDataset, dataset_name: str, run_id: str, now: datetime,
              exc: Unauthenticated) -> RefreshOutcome:
    """No token for Power BI: try a few more times, further apart, then give up and say why, once."""
    ws, ds = target.workspace, target.dataset
    pending = Ledgers.of(deps).pending_refreshes.get(partition(target), PENDING)
    attempts = (pending.attempts if pending is not None else 0) + 1
    if attempts < TOKEN_ATTEMPTS:
        return _queue(deps, target, dataset_name, run_id, now + RETRY_PENDING * 2 ** attempts,
                      f"no token for Power BI ({exc})", attempts)
    if pending is not None:
        Ledgers.of(deps).pending_refreshes.delete(pending)
    deps.alerts.emit(Alert(dataset_name, "refresh_failed", Severity.FAIL,
                           f"The app's identity could not get a token for Power BI {attempts} times in a row, so the "
                           f"refresh of dataset {ds} for run {run_id} was given up. Dashboards keep the last refresh. "
                           "Check that 'Service principals can use Fabric APIs' is enabled for the identity and that "
                           "it is a member of the workspace (README: After the deploy, Power BI).", now,
                           topic="refresh_token", subject=f"{ws}/{ds}",
                           facts={"workspace": ws, "dataset": ds, "run_id": run_id, "error": str(exc)[:300]}))
    return RefreshOutcome(ws, ds, "failed", reason=f"no token for Power BI after {attempts} attempts")


def follow_up(deps: Deps, now: datetime) -> dict[str, int]:
    """Request owed refreshes whose time has come; check requested ones and alert on failures."""
    counts = {"requested": 0, "completed": 0, "failed": 0, "running": 0}
    if deps.refresher is None:
        return counts
    ledgers = Ledgers.of(deps)
    for ds in deps.config.datasets:
        for target in ds.powerbi:
            pending = ledgers.pending_refreshes.get(partition(target), PENDING)
            if pending is not None and (pending.not_before or now) <= now:
                outcome = request(deps, ds.name, target, pending.run_id, now)
                counts["requested"] += outcome.state == "started"
            since = (now - timedelta(days=2)).date().isoformat()
            for row in ledgers.refreshes.on_days(target, since, "9999"):
                if row.status in FINAL:
                    continue
                _check(deps, ds.name, target, row, now, counts)
    return counts


def _check(deps: Deps, dataset_name: str, target: PowerBIDataset, row: RequestedRefresh, now: datetime,
           counts: dict[str, int]) -> None:
    assert deps.refresher is not None
    request_id = row.request_id
    try:
        state = deps.refresher.get_refresh(target.workspace, target.dataset, request_id)
    except ExternalError as exc:
        log.warning("refresh status unavailable", extra={"request_id": request_id, "error": str(exc)})
        return
    if state.in_progress:
        counts["running"] += 1
        return
    Ledgers.of(deps).refreshes.upsert(row.ended(state.status, state.error))
    if state.status == "Completed":
        counts["completed"] += 1
        return
    counts["failed"] += 1
    deps.alerts.emit(Alert(dataset_name, "refresh_failed", Severity.FAIL,
                           f"The Power BI refresh of dataset {target.dataset} ended {state.status}"
                           + (f": {state.error}" if state.error else "."), now,
                           subject=f"{target.workspace}/{target.dataset}/{request_id}",
                           facts={"workspace": target.workspace, "dataset": target.dataset,
                                  "request_id": request_id, "run_id": row.run_id}))
