"""ORACLE (tests only): history_findings of shared/core/history.py as of 6719ae0 (replays the whole
history given at every judgement)."""

from __future__ import annotations

from collections.abc import Sequence

from shared.core import drift
from shared.core.findings import Finding
from shared.core.history import Observation
from shared.core.models import Severity
from shared.core.spec import Contract
from tests.oracle.baseline import Judgement, Point, Verdict, judge

SHIFT_CONFIRM = 3


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
