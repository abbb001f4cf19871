"""History checks: a file's size, rows, null rates and score distribution against its own past.

Observations are the DESIGN 3.4 records (one JSON object per line in backtests, one Table Storage
row per file in Azure). The same functions serve the output guard and ``autopilot backtest``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from shared.core import drift
from shared.core.baseline import Judgement, Point, Verdict, judge
from shared.core.findings import Finding
from shared.core.models import Severity
from shared.core.profile import Profile
from shared.core.spec import Contract

SHIFT_CONFIRM = 3


@dataclass(frozen=True)
class ColumnStats:
    mean: float | None = None
    std: float | None = None
    nulls: int | None = None
    histogram: tuple[float, ...] | None = None   # counts; outer bins hold values below / above the range


@dataclass(frozen=True)
class Observation:
    ts: datetime
    dataset: str
    stage: str                    # upstream | output
    name: str
    bytes: int
    rows: int | None = None
    columns: Mapping[str, ColumnStats] = field(default_factory=lambda: MappingProxyType({}))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ts": self.ts.isoformat().replace("+00:00", "Z"), "dataset": self.dataset,
                               "stage": self.stage, "name": self.name, "bytes": self.bytes}
        if self.rows is not None:
            out["rows"] = self.rows
        if self.columns:
            out["columns"] = {
                name: {k: (list(v) if isinstance(v, tuple) else v)
                       for k, v in (("mean", c.mean), ("std", c.std), ("nulls", c.nulls),
                                    ("histogram", c.histogram)) if v is not None}
                for name, c in self.columns.items()}
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, allow_nan=False)


def _number(value: object, what: str, *, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    if integer and (not float(value).is_integer() or value < 0):
        raise ValueError(f"{what} must be a whole number of 0 or more, got {value!r}")
    return float(value)


def parse_observation(line: str) -> Observation:
    """One DESIGN 3.4 line. Raises ValueError saying which field is wrong."""
    try:
        body = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc.msg} (column {exc.colno})") from exc
    if not isinstance(body, dict):
        raise ValueError("each line must be a JSON object")
    for key in ("ts", "dataset", "stage", "bytes"):
        if key not in body:
            raise ValueError(f"missing field {key!r}")
    try:
        ts = datetime.fromisoformat(str(body["ts"]).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"ts {body['ts']!r} is not an ISO 8601 time") from exc
    if ts.tzinfo is None:
        raise ValueError(f"ts {body['ts']!r} needs a time zone (e.g. Z)")
    if body["stage"] not in ("upstream", "output"):
        raise ValueError(f"stage must be 'upstream' or 'output', got {body['stage']!r}")
    columns: dict[str, ColumnStats] = {}
    raw_columns = body.get("columns") or {}
    if not isinstance(raw_columns, dict):
        raise ValueError("columns must be an object")
    for name, stats in raw_columns.items():
        if not isinstance(stats, dict):
            raise ValueError(f"columns.{name} must be an object")
        hist = stats.get("histogram")
        if hist is not None and (not isinstance(hist, list)
                                 or not all(_number(h, f"columns.{name}.histogram") >= 0 for h in hist)):
            raise ValueError(f"columns.{name}.histogram must be a list of counts")
        columns[str(name)] = ColumnStats(
            mean=_number(stats["mean"], f"columns.{name}.mean") if stats.get("mean") is not None else None,
            std=_number(stats["std"], f"columns.{name}.std") if stats.get("std") is not None else None,
            nulls=int(_number(stats["nulls"], f"columns.{name}.nulls", integer=True))
            if stats.get("nulls") is not None else None,
            histogram=tuple(float(h) for h in hist) if hist is not None else None)
    rows = body.get("rows")
    return Observation(ts, str(body["dataset"]), str(body["stage"]), str(body.get("name", "")),
                       int(_number(body["bytes"], "bytes", integer=True)),
                       int(_number(rows, "rows", integer=True)) if rows is not None else None,
                       MappingProxyType(columns))


def from_profile(profile: Profile, *, ts: datetime, dataset: str, stage: str, name: str,
                 drift_columns: Sequence[str] = ()) -> Observation:
    """What history keeps of one profiled file."""
    columns: dict[str, ColumnStats] = {}
    for col_name, col in profile.columns.items():
        hist = None
        if col.histogram is not None and col_name in drift_columns:
            hist = (float(col.histogram.below), *map(float, col.histogram.counts), float(col.histogram.above))
        columns[col_name] = ColumnStats(col.mean, col.std, col.nulls, hist)
    return Observation(ts, dataset, stage, name, profile.bytes, profile.rows, MappingProxyType(columns))


def _severity(j: Judgement) -> Severity:
    return Severity.FAIL if j.verdict is Verdict.FAIL else Severity.WARN


def _metric_finding(code: str, label: str, j: Judgement, column: str | None, fmt: str) -> Finding | None:
    if j.verdict is Verdict.LEVEL_SHIFT:
        return Finding("level_shift", Severity.WARN,
                       f"{label} has moved to a new level ({j.value:{fmt}} vs {j.expected:{fmt}} before) "
                       "for three files in a row; this is now learned as normal.", column)
    if not j.anomalous:
        return None
    season = f" for a {'weekday' if j.seasonal == 'weekday' else 'same hour of week'} file" \
        if j.seasonal != "none" else ""
    return Finding(code, _severity(j),
                   f"{label} is {j.value:{fmt}}, outside the normal range {j.low:{fmt}}–{j.high:{fmt}}"
                   f"{season} (baseline median {j.expected:{fmt}} over {j.history} files).", column)


def _null_fraction(obs: Observation, column: str) -> float | None:
    stats = obs.columns.get(column)
    if stats is None or stats.nulls is None or not obs.rows:
        return None
    return stats.nulls / obs.rows


def history_findings(obs: Observation, history: Sequence[Observation], contract: Contract) -> list[Finding]:
    """Size, rows and null-rate anomalies against learned baselines, and score drift (PSI bands)."""
    spec = contract.history
    past = sorted((h for h in history if h.ts < obs.ts), key=lambda h: h.ts)
    findings: list[Finding] = []
    insufficient: list[Judgement] = []

    def check(code: str, label: str, value: float | None, points: list[Point], column: str | None,
              fmt: str) -> None:
        if value is None:
            return
        j = judge(points, Point(obs.ts, value), spec)
        if j.verdict is Verdict.INSUFFICIENT:
            insufficient.append(j)
        elif (f := _metric_finding(code, label, j, column, fmt)) is not None:
            findings.append(f)

    check("size_anomaly", "File size", float(obs.bytes), [Point(h.ts, float(h.bytes)) for h in past], None, ",.0f")
    if obs.rows is not None:
        check("rows_anomaly", "Row count", float(obs.rows),
              [Point(h.ts, float(h.rows)) for h in past if h.rows is not None], None, ",.0f")
    for column in obs.columns:
        points = [Point(h.ts, v) for h in past if (v := _null_fraction(h, column)) is not None]
        if any(p.value > 0 for p in points) or (_null_fraction(obs, column) or 0) > 0:
            check("null_anomaly", f"Null fraction of {column}", _null_fraction(obs, column), points, column, ".3f")
    for column in contract.drift.columns:
        findings += _drift_findings(obs, past, column, contract)
    if insufficient:
        n = min(j.history for j in insufficient)
        findings.append(Finding("insufficient_history", Severity.INFO,
                                f"History baselines not judged yet: insufficient history ({n}/{spec.min_history} "
                                "files)."))
    return findings


def _drift_findings(obs: Observation, past: Sequence[Observation], column: str, contract: Contract) -> list[Finding]:
    current = obs.columns.get(column)
    if current is None or current.histogram is None or not sum(current.histogram):
        return []
    shape = len(current.histogram)
    accepted: list[tuple[float, ...]] = []
    streak: list[tuple[float, ...]] = []
    for h in past:
        stats = h.columns.get(column)
        if stats is None or stats.histogram is None or len(stats.histogram) != shape or not sum(stats.histogram):
            continue
        value = _psi_against(accepted, stats.histogram, contract)
        if value is not None and value >= contract.drift.warn:
            streak.append(stats.histogram)
            if len(streak) >= SHIFT_CONFIRM and _agree(streak[-SHIFT_CONFIRM:], contract):
                accepted, streak = list(streak[-SHIFT_CONFIRM:]), []
        else:
            accepted.append(stats.histogram)
            streak = []
    value = _psi_against(accepted, current.histogram, contract)
    if value is None:
        return []
    if value >= contract.drift.warn and len(streak) >= SHIFT_CONFIRM - 1 and \
            _agree([*streak[-(SHIFT_CONFIRM - 1):], current.histogram], contract):
        return [Finding("level_shift", Severity.WARN,
                        f"The distribution of {column} has shifted (PSI {value:.2f}) for three files in a "
                        "row; this is now learned as normal.", column)]
    if value >= contract.drift.fail:
        return [Finding("drift", Severity.FAIL, f"The distribution of {column} drifted: PSI {value:.2f} against "
                        f"the last {min(len(accepted), 14)} files (major shift above {contract.drift.fail}).",
                        column)]
    if value >= contract.drift.warn:
        return [Finding("drift", Severity.WARN, f"The distribution of {column} moved: PSI {value:.2f} against "
                        f"the last {min(len(accepted), 14)} files (moderate shift above {contract.drift.warn}).",
                        column)]
    return []


def _psi_against(accepted: Sequence[tuple[float, ...]], histogram: tuple[float, ...],
                 contract: Contract) -> float | None:
    needed = min(contract.history.min_history, 7)
    if len(accepted) < needed:
        return None
    baseline = drift.pooled(list(accepted[-14:]))
    return drift.psi(baseline, histogram) if baseline is not None else None


def _agree(histograms: Sequence[tuple[float, ...]], contract: Contract) -> bool:
    pool = drift.pooled(list(histograms))
    if pool is None:
        return False
    return all((drift.psi(pool, h) or 0.0) < contract.drift.warn for h in histograms)
