"""The operator's view: what Autopilot saw and decided per dataset (batch → run → outputs → refresh →
alerts, and what is late now), built from the rows the status service read. Pure: ``now`` is a parameter.

``autopilot status`` prints it (text or one JSON document) and ``GET /api/status`` draws it.
"""

from __future__ import annotations

import posixpath
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.core import staleness
from shared.core.baseline import Point, judge
from shared.core.claims import Claim
from shared.core.spec import DatasetSpec, HistorySpec, StalenessSpec
from shared.core.verdict import worst

# ---- what the service read (one list per table) ----

@dataclass(frozen=True)
class BatchRow:
    dataset: str
    key: str                       # the partition, e.g. 2026/11/29
    claim: Claim


@dataclass(frozen=True)
class RunRow:
    run_id: str
    dataset: str
    pipeline: str
    status: str                    # as the run ledger last saw it
    started_at: datetime | None


@dataclass(frozen=True)
class DecisionRow:
    run_id: str
    decided: bool
    at: datetime | None
    reply: Mapping[str, Any]       # the webhook's decision (the Location's 200 body)


@dataclass(frozen=True)
class VerdictRow:
    dataset: str
    batch: str
    files: Mapping[str, str]       # file → pass | warn | fail
    status: str


@dataclass(frozen=True)
class RefreshRow:
    run_id: str
    target: str                    # <workspace>|<dataset>
    status: str                    # requested / Completed / Failed / … or "pending" (owed, not requested yet)
    at: datetime | None            # requested at, or not before (pending)
    detail: str = ""               # the error, or why it is pending


@dataclass(frozen=True)
class AlertRow:
    dataset: str
    code: str
    channel: str
    status: str                    # sent | failed | digested | suppressed
    at: datetime | None
    detail: str = ""
    fingerprint: str = ""          # what ``autopilot label`` takes
    label: str = ""                # false_alarm | expected, when someone labelled the alert


@dataclass(frozen=True)
class ArrivalRow:
    dataset: str
    stage: str                     # upstream | output
    times: tuple[datetime, ...]
    last_arrival: datetime | None
    late_since: datetime | None


@dataclass(frozen=True)
class StatusRows:
    batches: Sequence[BatchRow] = ()
    runs: Sequence[RunRow] = ()
    decisions: Sequence[DecisionRow] = ()
    verdicts: Sequence[VerdictRow] = ()
    refreshes: Sequence[RefreshRow] = ()
    alerts: Sequence[AlertRow] = ()
    arrivals: Sequence[ArrivalRow] = ()


# ---- the view ----

@dataclass(frozen=True)
class Band:
    low: float | None
    high: float | None
    median: float | None
    runs: int


@dataclass(frozen=True)
class RunView:
    run_id: str
    status: str
    started_at: datetime | None
    duration_s: float | None
    band: Band | None
    slow: bool


@dataclass(frozen=True)
class OutputsView:
    judged: int
    total: int | None              # known once the breaker decided on the whole batch
    status: str | None             # worst of the judged files
    failing: tuple[str, ...]


@dataclass(frozen=True)
class RefreshView:
    target: str
    state: str                     # started | queued | held | skipped | requested | Completed | Failed | pending
    reason: str = ""


@dataclass(frozen=True)
class BatchView:
    key: str
    batch_id: str
    claimed_at: datetime | None
    claim: str                     # claimed | started | start_failed
    error: str
    run: RunView | None
    outputs: OutputsView | None
    decision: str                  # refresh_started / refresh_held / … or "" before the webhook decided
    refreshes: tuple[RefreshView, ...]
    alerts: tuple[str, ...]        # codes the decision raised


@dataclass(frozen=True)
class LateView:
    stage: str
    state: str                     # late | on_time | unknown (no cadence yet) | no_data
    last_arrival: datetime | None
    due: datetime | None
    late_since: datetime | None


@dataclass(frozen=True)
class AlertView:
    code: str
    channel: str
    status: str
    at: datetime | None
    fingerprint: str = ""
    label: str = ""


@dataclass(frozen=True)
class DatasetView:
    name: str
    health: str                    # ok | warn | fail | late | idle
    batches: tuple[BatchView, ...]
    alerts: tuple[AlertView, ...]
    late: tuple[LateView, ...]


@dataclass(frozen=True)
class StatusView:
    now: datetime
    since: datetime
    datasets: tuple[DatasetView, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"now": _iso(self.now), "since": _iso(self.since),
                "datasets": [_dataset_dict(d) for d in self.datasets]}


def build_view(datasets: Sequence[DatasetSpec], rows: StatusRows, now: datetime, since: datetime,
               duration_spec: HistorySpec) -> StatusView:
    """Join the rows per dataset and batch (newest first), and judge what is late at ``now``."""
    runs = {r.run_id: r for r in rows.runs}
    decisions = {d.run_id: d for d in rows.decisions}
    verdicts = {(v.dataset, v.batch): v for v in rows.verdicts}
    refreshes: dict[str, list[RefreshRow]] = {}
    for r in rows.refreshes:
        refreshes.setdefault(r.run_id, []).append(r)
    bands = _duration_bands(rows, duration_spec)
    arrivals = {(a.dataset, a.stage): a for a in rows.arrivals}
    views = []
    for ds in datasets:
        batches = sorted((b for b in rows.batches if b.dataset == ds.name and _in_window(b.claim, since)),
                         key=lambda b: (b.claim.first_claimed_at or b.claim.claimed_at or since, b.key), reverse=True)
        pipeline = ds.pipeline.name if ds.pipeline else ""
        batch_views = tuple(_batch(b, runs, decisions, verdicts.get((ds.name, b.key)), refreshes,
                                   bands.get(pipeline), now) for b in batches)
        alerts = tuple(AlertView(a.code, a.channel, a.status, a.at, a.fingerprint, a.label)
                       for a in sorted((a for a in rows.alerts if a.dataset == ds.name
                                        and (a.at is None or a.at >= since)),
                                       key=lambda a: (a.at or since, a.code, a.channel), reverse=True))
        late = tuple(_late(stage, arrivals.get((ds.name, stage)), spec, now)
                     for stage, spec in _stages(ds))
        views.append(DatasetView(ds.name, _health(batch_views, late), batch_views, alerts, late))
    return StatusView(now, since, tuple(views))


def _in_window(claim: Claim, since: datetime) -> bool:
    at = claim.first_claimed_at or claim.claimed_at
    return at is None or at >= since


def _stages(ds: DatasetSpec) -> list[tuple[str, StalenessSpec]]:
    out = []
    if ds.upstream is not None:
        out.append(("upstream", ds.upstream.staleness))
    if ds.output is not None:
        out.append(("output", ds.output.staleness))
    return out


def _duration_bands(rows: StatusRows, spec: HistorySpec) -> dict[str, Band]:
    """Per pipeline, the normal duration band of the decided, successful runs read (as run_slow judges)."""
    by_pipeline: dict[str, list[Point]] = {}
    for d in rows.decisions:
        run = d.reply.get("run") or {}
        duration = run.get("durationSeconds") if isinstance(run, Mapping) else None
        pipeline = str(d.reply.get("pipeline", ""))
        if d.decided and isinstance(duration, (int, float)) and run.get("succeeded") and d.at is not None:
            by_pipeline.setdefault(pipeline, []).append(Point(d.at, float(duration)))
    bands = {}
    for pipeline, points in by_pipeline.items():
        if len(points) >= spec.min_history:
            center = statistics.median(p.value for p in points)
            j = judge(points, Point(max(p.ts for p in points), center), spec)
            bands[pipeline] = Band(j.low, j.high, j.expected, j.history)
        else:
            bands[pipeline] = Band(None, None, None, len(points))
    return bands


def _batch(b: BatchRow, runs: Mapping[str, RunRow], decisions: Mapping[str, DecisionRow],
           verdict: VerdictRow | None, refreshes: Mapping[str, list[RefreshRow]], band: Band | None,
           now: datetime) -> BatchView:
    c = b.claim
    decision = decisions.get(c.run_id) if c.run_id else None
    reply = decision.reply if decision is not None and decision.decided else {}
    run_view = None
    if c.run_id:
        ledger = runs.get(c.run_id)
        raw_run = reply.get("run")
        replied: Mapping[str, Any] = raw_run if isinstance(raw_run, Mapping) else {}
        status = str(replied.get("status") or (ledger.status if ledger else "") or "InProgress")
        started = (ledger.started_at if ledger else None) or c.started_at
        duration = replied.get("durationSeconds")
        if not isinstance(duration, (int, float)):
            duration = (now - started).total_seconds() if started and status in ("InProgress", "Queued") else None
        slow = bool(band and band.high is not None and duration is not None and duration > band.high)
        run_view = RunView(c.run_id, status, started, float(duration) if duration is not None else None,
                           band if band and band.high is not None else None, slow)
    outputs = None
    if verdict is not None or reply.get("outputs") not in (None, "none"):
        files = dict(verdict.files) if verdict else {}
        ready = reply.get("outputs") not in (None, "none")
        judged_status = worst(files.values()) if files else None
        outputs = OutputsView(len(files), len(files) if ready else None,
                              str(reply["outputs"]) if ready else judged_status,
                              tuple(sorted(posixpath.basename(n) for n, s in files.items() if s == "fail")))
    refresh_views = [RefreshView(str(r.get("dataset", "")), str(r.get("state", "")), str(r.get("reason", "")))
                     for r in reply.get("refreshes") or () if isinstance(r, Mapping)]
    for r in refreshes.get(c.run_id, []) if c.run_id else []:
        target = r.target.rpartition("|")[2]
        if r.status == "pending":
            when = f" (not before {r.at:%Y-%m-%d %H:%M} UTC)" if r.at else ""
            refresh_views.append(RefreshView(target, "pending", f"{r.detail}{when}"))
        else:
            refresh_views = [v for v in refresh_views if not (v.target == target and v.state in ("started", "queued"))]
            refresh_views.append(RefreshView(target, r.status, r.detail))
    return BatchView(b.key, c.batch_id, c.first_claimed_at or c.claimed_at, c.status, c.error, run_view, outputs,
                     str(reply.get("decision", "")), tuple(refresh_views),
                     tuple(str(a) for a in reply.get("alerts") or ()))


def _late(stage: str, row: ArrivalRow | None, spec: StalenessSpec, now: datetime) -> LateView:
    if row is None or row.last_arrival is None:
        return LateView(stage, "no_data", None, None, None)
    if row.late_since is not None:
        return LateView(stage, "late", row.last_arrival, row.late_since, row.late_since)
    due = staleness.deadline(row.last_arrival, staleness.cadence(row.times, spec), spec) if spec.enabled else None
    if due is None:
        return LateView(stage, "unknown", row.last_arrival, None, None)
    # The watcher raises it at its next tick; the view says so already.
    return LateView(stage, "late" if now > due else "on_time", row.last_arrival, due, due if now > due else None)


def _health(batches: Sequence[BatchView], late: Sequence[LateView]) -> str:
    latest = batches[0] if batches else None
    if latest is not None:
        if latest.claim == "start_failed" or (latest.run and latest.run.status in ("Failed", "Cancelled")):
            return "fail"
        if latest.outputs and latest.outputs.status == "fail":
            return "fail"
    if any(v.state == "late" for v in late):
        return "late"
    if latest is None:
        return "idle"
    if (latest.outputs and latest.outputs.status == "warn") or latest.decision == "refresh_held" or \
            (latest.run and latest.run.slow):
        return "warn"
    return "ok"


# ---- output ----

def _iso(t: datetime | None) -> str | None:
    return t.isoformat().replace("+00:00", "Z") if t is not None else None


def _dataset_dict(d: DatasetView) -> dict[str, Any]:
    return {"name": d.name, "health": d.health,
            "late": [{"stage": v.stage, "state": v.state, "lastArrival": _iso(v.last_arrival), "due": _iso(v.due),
                      "lateSince": _iso(v.late_since)} for v in d.late],
            "batches": [_batch_dict(b) for b in d.batches],
            "alerts": [{"code": a.code, "channel": a.channel, "status": a.status, "at": _iso(a.at),
                        "fingerprint": a.fingerprint, "label": a.label or None} for a in d.alerts]}


def _batch_dict(b: BatchView) -> dict[str, Any]:
    run = None
    if b.run is not None:
        r = b.run
        band = None if r.band is None else {"lowSeconds": r.band.low, "highSeconds": r.band.high,
                                            "medianSeconds": r.band.median, "runs": r.band.runs}
        run = {"id": r.run_id, "status": r.status, "startedAt": _iso(r.started_at), "durationSeconds": r.duration_s,
               "band": band, "slow": r.slow}
    outputs = None if b.outputs is None else {
        "judged": b.outputs.judged, "total": b.outputs.total, "status": b.outputs.status,
        "failing": list(b.outputs.failing)}
    return {"key": b.key, "batchId": b.batch_id, "claimedAt": _iso(b.claimed_at), "claim": b.claim,
            "error": b.error or None, "run": run, "outputs": outputs, "decision": b.decision or None,
            "refreshes": [{"dataset": r.target, "state": r.state, "reason": r.reason} for r in b.refreshes],
            "alerts": list(b.alerts)}
