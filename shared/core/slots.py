"""Seasonal slots and the sorted pools of values a baseline keeps per slot (see ``baseline``).

A slot is where a point's time falls in the season (its weekday, hour of the week, hour of the day, or
hour of a working day or weekend day); a pool keeps its values sorted, with the band (median, robust
scale) cached until it changes.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections.abc import Iterable, Sequence
from datetime import datetime
from itertools import repeat
from operator import sub

from shared.core.spec import HistorySpec

MAD_TO_SIGMA = 1.4826
MIN_SLOT_POINTS = 2        # points a seasonal slot needs before it is used
# A series that never moves still has a scale of 5 % of its median at sensitivity 3.5: its warn band is
# ±17.5 % (fail ±35 %) whatever the sensitivity.
RELATIVE_FLOOR = 0.05


def slot_of(ts: datetime, mode: str) -> int:
    if mode == "weekday":
        return ts.weekday()
    if mode == "hour_of_week":
        return ts.weekday() * 24 + ts.hour
    if mode == "hour_of_day":
        return ts.hour
    if mode == "hour_of_daytype":
        # An intra-day dataset whose weekends differ: weeks of hourly files fill 48 slots long before
        # they fill the 168 of an hour of the week.
        return ts.hour + (24 if ts.weekday() >= 5 else 0)
    return 0


def median_of(ordered: Sequence[float]) -> float:
    """statistics.median of an already sorted sequence (same arithmetic, so the same float)."""
    n = len(ordered)
    if n % 2:
        return ordered[n // 2]
    return (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def thin(size: int) -> int:
    """1 for a slot too thin to be used (but not empty), else 0: counted so the test is O(1)."""
    return 1 if 0 < size < MIN_SLOT_POINTS else 0


def deviations_from(values: Iterable[float], center: float) -> list[float]:
    # abs(v - center) for every value, in C (map) rather than a Python loop: this is the hot path.
    return list(map(abs, map(sub, values, repeat(center))))


class Pool:
    """A multiset of values kept sorted, with its band (median, scale) cached until it changes."""

    __slots__ = ("band", "relative", "residuals", "spread_sum", "values")

    def __init__(self) -> None:
        self.values: list[float] = []
        self.band: tuple[float, float] | None = None
        self.residuals: list[float] | None = None   # |v - median| for every value, for the season test
        self.relative: list[float] | None = None    # the same, as shares of |median| (slot noise)
        self.spread_sum: float | None = None         # their sum

    def add(self, value: float) -> None:
        insort(self.values, value)
        self.band = self.residuals = self.relative = self.spread_sum = None

    def remove(self, value: float) -> None:
        del self.values[bisect_left(self.values, value)]
        self.band = self.residuals = self.relative = self.spread_sum = None

    def relative_deviations(self) -> list[float]:
        """|v - median| / |median|; empty for a slot too thin to say anything."""
        if self.relative is None:
            center = abs(median_of(self.values)) if len(self.values) >= MIN_SLOT_POINTS else 0.0
            self.relative = [d / center for d in self.deviations()] if center else []
        return self.relative

    def deviation_sum(self) -> float:
        if self.spread_sum is None:
            self.spread_sum = math.fsum(self.deviations())
        return self.spread_sum

    def deviations(self) -> list[float]:
        if self.residuals is None:
            self.residuals = deviations_from(self.values, median_of(self.values))
        return self.residuals

    def get_band(self, spec: HistorySpec) -> tuple[float, float]:
        if self.band is None:
            median = median_of(self.values)
            mad = median_of(sorted(self.deviations()))
            scale = max(MAD_TO_SIGMA * mad, RELATIVE_FLOOR * abs(median) * 3.5 / max(spec.sensitivity, 0.1), 1e-9)
            self.band = (median, scale)
        return self.band
