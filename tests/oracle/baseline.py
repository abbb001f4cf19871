"""ORACLE (tests only): shared/core/baseline.py as of 6719ae0, before the incremental replay.

The new core must give the same judgement for the same history; this copy is what it is compared with.
"""


from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shared.core.spec import HistorySpec

MAD_TO_SIGMA = 1.4826
SHIFT_CONFIRM = 3          # consecutive same-side anomalies that make a level shift
MIN_SLOT_POINTS = 2        # points a seasonal slot needs before it is used
RELATIVE_FLOOR = 0.05      # a series that never moves still tolerates ±5 % (× sensitivity / 3.5)


class Verdict(StrEnum):
    INSUFFICIENT = "insufficient"
    NORMAL = "normal"
    WARN = "warn"
    FAIL = "fail"
    LEVEL_SHIFT = "level_shift"


@dataclass(frozen=True)
class Point:
    ts: datetime
    value: float


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    value: float
    expected: float | None = None     # the baseline's median
    low: float | None = None          # the normal band at the warn threshold
    high: float | None = None
    score: float = 0.0                # robust z-score
    history: int = 0                  # accepted points the baseline used
    needed: int = 0
    seasonal: str = "none"            # which slot the baseline came from

    @property
    def anomalous(self) -> bool:
        return self.verdict in (Verdict.WARN, Verdict.FAIL)


def _slot(ts: datetime, mode: str) -> int:
    if mode == "weekday":
        return ts.weekday()
    if mode == "hour_of_week":
        return ts.weekday() * 24 + ts.hour
    return 0


def _mad(values: Sequence[float]) -> float:
    median = statistics.median(values)
    return statistics.median(abs(v - median) for v in values)


def _season_mode(points: Sequence[Point], spec: HistorySpec) -> str:
    """The seasonal slotting that explains the history, if any ("auto": chosen from the data)."""
    if spec.seasonality != "auto":
        return spec.seasonality
    # Mean (not median) absolute deviations: a weekend is a minority of days, and a median would
    # write it off as outliers instead of seeing the pattern.
    if len(points) < 2:
        return "none"
    center = statistics.median(p.value for p in points)
    overall = statistics.fmean(abs(p.value - center) for p in points)
    for mode in ("weekday", "hour_of_week"):
        slots: dict[int, list[float]] = {}
        for p in points:
            slots.setdefault(_slot(p.ts, mode), []).append(p.value)
        if len(slots) < 2 or min(len(v) for v in slots.values()) < MIN_SLOT_POINTS:
            continue
        residuals = [v - statistics.median(vs) for vs in slots.values() for v in vs]
        if statistics.fmean(abs(r) for r in residuals) < 0.5 * overall:
            return mode
    return "none"


def _band(values: Sequence[float], spec: HistorySpec) -> tuple[float, float]:
    median = statistics.median(values)
    scale = max(MAD_TO_SIGMA * _mad(values), RELATIVE_FLOOR * abs(median) * 3.5 / max(spec.sensitivity, 0.1),
                1e-9)
    return median, scale


def _judge(value: float, ts: datetime, accepted: Sequence[Point], spec: HistorySpec) -> Judgement:
    accepted = accepted[-spec.window:]
    needed = spec.min_history
    if len(accepted) < needed:
        return Judgement(Verdict.INSUFFICIENT, value, history=len(accepted), needed=needed)
    mode = _season_mode(accepted, spec)
    pool, used = accepted, "none"
    if mode != "none":
        same = [p for p in accepted if _slot(p.ts, mode) == _slot(ts, mode)]
        if len(same) >= MIN_SLOT_POINTS:
            pool, used = same, mode
    median, scale = _band([p.value for p in pool], spec)
    score = (value - median) / scale
    warn_at = spec.warn_sensitivity if spec.warn_sensitivity is not None else spec.sensitivity
    fail_at = 2 * spec.sensitivity
    verdict = Verdict.FAIL if abs(score) >= fail_at else Verdict.WARN if abs(score) >= warn_at else Verdict.NORMAL
    return Judgement(verdict, value, median, median - warn_at * scale, median + warn_at * scale, score,
                     len(pool), needed, used)


def _deviations(streak: Sequence[tuple[Point, Judgement]]) -> tuple[list[float], bool]:
    """Each point's departure from its baseline: relative when every baseline is non-zero."""
    relative = all(j.expected for _, j in streak)
    if relative:
        return [(p.value - (j.expected or 1.0)) / abs(j.expected or 1.0) for p, j in streak], True
    return [p.value - (j.expected or 0.0) for p, j in streak], False


def _confirms_shift(streak: Sequence[tuple[Point, Judgement]]) -> bool:
    if len(streak) < SHIFT_CONFIRM:
        return False
    recent = streak[-SHIFT_CONFIRM:]
    if len({j.score > 0 for _, j in recent}) != 1:
        return False
    deviations, _ = _deviations(recent)
    center = statistics.median(deviations)
    # The new points depart from the old baseline by about the same amount: a new level, not noise.
    return max(abs(d - center) for d in deviations) < abs(center) / 2


def _shifted(accepted: Sequence[Point], streak: Sequence[tuple[Point, Judgement]]) -> list[Point]:
    """Move the accepted history to the new level (keeping its seasonal shape) and add the streak."""
    deviations, relative = _deviations(streak)
    center = statistics.median(deviations)
    moved = [Point(p.ts, p.value * (1 + center) if relative else p.value + center) for p in accepted]
    return sorted([*moved, *(p for p, _ in streak)], key=lambda p: p.ts)


def judge(history: Sequence[Point], new: Point, spec: HistorySpec) -> Judgement:
    """Judge ``new`` against ``history`` (any order).

    The whole history is replayed so that anomalies are sorted out of it as they were live; the
    baseline itself uses the last ``spec.window`` accepted points. Pass a few windows of history.
    """
    points = sorted(history, key=lambda p: p.ts)
    accepted: list[Point] = []
    streak: list[tuple[Point, Judgement]] = []
    for point in points:
        j = _judge(point.value, point.ts, accepted, spec)
        if j.anomalous:
            streak.append((point, j))
            if _confirms_shift(streak):
                accepted = _shifted(accepted, streak[-SHIFT_CONFIRM:])
                streak = []
        else:
            streak = []
            accepted.append(point)
    j = _judge(new.value, new.ts, accepted, spec)
    if j.anomalous and _confirms_shift([*streak, (new, j)]):
        return Judgement(Verdict.LEVEL_SHIFT, j.value, j.expected, j.low, j.high, j.score, j.history, j.needed,
                         j.seasonal)
    return j
