"""The status page's history charts: per output observation, the value, the learned band it was judged
against and whether it stood out (rows, bytes, null share, drift distance). Pure: the page draws them.

Each metric is replayed through the same ``Baseline`` the output guard judges with, one point at a time,
so the band drawn at a point is the band that point met. Drift distance is the PSI of a point's
histogram against the pooled accepted histograms before it (as the guard pools them), with the
contract's warn and fail bands as thresholds.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.core import drift
from shared.core.baseline import Baseline, Point, Verdict
from shared.core.history import POOLED, Observation
from shared.core.spec import Contract


@dataclass(frozen=True)
class ChartPoint:
    ts: datetime
    value: float
    low: float | None = None       # the learned band the point was judged against (None: not judged yet)
    high: float | None = None
    flagged: bool = False          # outside the band (warn / fail / level shift)


@dataclass(frozen=True)
class Chart:
    title: str
    unit: str                      # rows | bytes | share | psi
    points: tuple[ChartPoint, ...]
    alerts: tuple[datetime, ...] = ()
    thresholds: tuple[tuple[str, float], ...] = ()


def _band_series(observations: Sequence[Observation], contract: Contract,
                 value: Callable[[Observation], float | None]) -> tuple[ChartPoint, ...]:
    baseline = Baseline(contract.history)
    out = []
    for obs in observations:
        v = value(obs)
        if v is None:
            continue
        j = baseline.step(Point(obs.ts, v))
        judged = j.verdict is not Verdict.INSUFFICIENT
        out.append(ChartPoint(obs.ts, v, j.low if judged else None, j.high if judged else None,
                              j.anomalous or j.verdict is Verdict.LEVEL_SHIFT))
    return tuple(out)


def _null_share(column: str) -> Callable[[Observation], float | None]:
    def share(obs: Observation) -> float | None:
        stats = obs.columns.get(column)
        if stats is None or stats.nulls is None or not obs.rows:
            return None
        return stats.nulls / obs.rows
    return share


def _null_column(observations: Sequence[Observation], contract: Contract) -> str | None:
    """The column whose null share is most worth drawing: the highest share seen, else the first declared."""
    best: tuple[float, str] | None = None
    for obs in observations:
        for name in obs.columns:
            share = _null_share(name)(obs)
            if share is not None and (best is None or share > best[0]):
                best = (share, name)
    if best is not None and best[0] > 0:
        return best[1]
    declared = [c for c in contract.columns if any(c in o.columns for o in observations)]
    return declared[0] if declared else (best[1] if best else None)


def _drift_series(observations: Sequence[Observation], column: str, contract: Contract) -> tuple[ChartPoint, ...]:
    accepted: deque[tuple[float, ...]] = deque(maxlen=POOLED)
    out = []
    for obs in observations:
        stats = obs.columns.get(column)
        hist = stats.histogram if stats is not None else None
        if not hist or not sum(hist):
            continue
        if accepted and len(accepted[0]) != len(hist):
            accepted.clear()      # another bin shape: not comparable with what came before
        pool = drift.pooled(list(accepted)) if len(accepted) >= min(contract.history.min_history, 7) else None
        value = drift.psi(pool, hist) if pool is not None else None
        if value is None:
            accepted.append(hist)
            continue
        flagged = value >= contract.drift.warn
        if not flagged:
            accepted.append(hist)
        out.append(ChartPoint(obs.ts, value, None, None, flagged))
    return tuple(out)


def charts(observations: Sequence[Observation], contract: Contract | None,
           alert_times: Sequence[datetime] = ()) -> list[Chart]:
    """One dataset's charts from its output observations in time order."""
    contract = contract or Contract()
    alerts = tuple(sorted(alert_times))
    out = [Chart("Rows per file", "rows", _band_series(observations, contract,
                                                       lambda o: float(o.rows) if o.rows is not None else None),
                 alerts),
           Chart("Bytes per file", "bytes", _band_series(observations, contract, lambda o: float(o.bytes)), alerts)]
    column = _null_column(observations, contract)
    if column is not None:
        out.append(Chart(f"Null share of {column}", "share",
                         _band_series(observations, contract, _null_share(column)), alerts))
    for col in contract.drift.columns[:2]:
        out.append(Chart(f"Drift distance of {col} (PSI)", "psi", _drift_series(observations, col, contract), alerts,
                         (("warn", contract.drift.warn), ("fail", contract.drift.fail))))
    return out
