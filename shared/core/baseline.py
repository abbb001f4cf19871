"""Learned baselines: is this value normal for this dataset, given its own history?

Robust statistics (median and MAD), compared within a seasonal slot (weekday, hour of week, hour of a
working or weekend day, or hour of day; ``slots``) when the history allows, bands no narrower than the
data's sampling noise, a minimum history (in points and in time) before judging, anomalous points kept
out of the baseline, and adaptation after a confirmed level shift: three anomalies in a row on the same
side, agreeing with each other, become the new normal; a later point normal for the level before the
shift brings that level back.

The detector replays history in time order, so it needs no stored flags: the same history always gives
the same verdict. ``Baseline`` is that replay's state, advanced one point at a time, so a backtest pays
for each point once instead of replaying the whole window at every point; ``judge`` builds one from a
history for a single verdict (the output guard). Both give the same answers
(tests/unit/test_replay_equivalence.py).
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import chain

from shared.core.slots import MAD_TO_SIGMA, MIN_SLOT_POINTS, Pool, median_of, slot_of, thin
from shared.core.spec import HistorySpec

SHIFT_CONFIRM = 3          # consecutive same-side anomalies that make a level shift
RESEASON = 20             # the season is re-decided after this share (1/20) of the window changed
THIN_SHARE = 10           # at most one point in ten may sit alone in its slot
MODES = ("weekday", "hour_of_week", "hour_of_daytype", "hour_of_day")
WEEKEND_GAIN = 0.8          # hour of day split by working day / weekend must explain this much more
# Judge only once the points seen span a week: a dataset with several files a day reaches min_history
# in days, and would otherwise meet its first weekend as an anomaly (then learn it as a level shift,
# and Monday as another).
LEARN_SPAN = timedelta(days=7)
# A count whose spread is up to twice its Poisson noise (variance 4×) is judged on a square-root scale.
MAX_DISPERSION = 4.0


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


class Baseline:
    """One metric's baseline: the accepted window, the anomaly streak, and per-slot pools.

    ``judge`` gives the verdict on a new point without learning it; ``step`` judges and learns (what the
    replay does with each point of history). Learning costs O(window) at worst, independent of how
    much history came before.
    """

    def __init__(self, spec: HistorySpec, *, counts: bool = False) -> None:
        self.spec = spec
        self.counts = counts                   # values are counts (rows): Poisson noise is the least spread
        self._noise: dict[str, float] = {}     # per mode: relative spread around the slots, cached
        # A non-positive window would slice oddly in a replay ([-0:] is everything); treat it as unbounded.
        self._cap = spec.window if spec.window > 0 else None
        self._accepted: deque[Point] = deque()
        self._all = Pool()
        self._slots: dict[str, dict[int, Pool]] = {mode: {} for mode in self._modes()}
        self._thin = dict.fromkeys(self._slots, 0)   # slots with fewer than MIN_SLOT_POINTS points, per mode
        self._streak: deque[tuple[Point, Judgement]] = deque(maxlen=SHIFT_CONFIRM)
        self._mode: str | None = None          # cached season mode; None when it must be worked out
        self._changes = 0                      # points added since the season (mode, slot noise) was
        self.last_continues = False            # the last point judged continued an open anomaly streak
        self._first: datetime | None = None    # the first point ever learned
        self._before: Baseline | None = None   # the baseline as it was before the last learned shift
        self._returning = False                # the point being learned returns to that baseline

    def _modes(self) -> tuple[str, ...]:
        if self.spec.seasonality == "auto":
            return MODES
        return (self.spec.seasonality,) if self.spec.seasonality in MODES else ()

    # --- the window of accepted points ---------------------------------------------------------------

    def _add(self, point: Point) -> None:
        if self._first is None:
            self._first = point.ts
        if self._cap is not None and len(self._accepted) >= self._cap:
            self._evict(self._accepted.popleft())
        self._accepted.append(point)
        self._all.add(point.value)
        for mode, slots in self._slots.items():
            key = slot_of(point.ts, mode)
            pool = slots.get(key)
            if pool is None:
                pool = slots[key] = Pool()
            pool.add(point.value)
            self._thin[mode] += thin(len(pool.values)) - thin(len(pool.values) - 1)
        self._changes += 1

    def _evict(self, point: Point) -> None:
        self._all.remove(point.value)
        for mode, slots in self._slots.items():
            key = slot_of(point.ts, mode)
            pool = slots[key]
            pool.remove(point.value)
            self._thin[mode] += thin(len(pool.values)) - thin(len(pool.values) + 1)
            if not pool.values:
                del slots[key]

    def _reset(self, points: Iterable[Point]) -> None:
        self._accepted.clear()
        self._all = Pool()
        self._slots = {mode: {} for mode in self._modes()}
        self._thin = dict.fromkeys(self._slots, 0)
        self._forget_season()
        for p in points:
            self._add(p)

    # --- judging -------------------------------------------------------------------------------------

    def _forget_season(self) -> None:
        self._mode = None
        self._noise.clear()
        self._changes = 0

    def _season_mode(self) -> str:
        """The seasonal slotting that explains the accepted window, if any ("auto": chosen from the data).

        Worked out again once a twentieth of the window has changed, not at every point: a season is a
        property of weeks of data, and re-deciding it costs a pass over the whole window."""
        if self._changes > len(self._accepted) // RESEASON:
            self._forget_season()
        if self.spec.seasonality != "auto":
            return self.spec.seasonality
        if self._mode is None:
            self._mode = self._choose_mode()
        return self._mode

    def _choose_mode(self) -> str:
        # Mean (not median) absolute deviations: a weekend is a minority of days, and a median would
        # write it off as outliers instead of seeing the pattern. fsum/n is statistics.fmean exactly.
        n = len(self._accepted)
        if n < 2:
            return "none"
        overall = math.fsum(self._all.deviations()) / n
        residuals: dict[str, float] = {}
        for mode in MODES:
            slots = self._slots[mode]
            # A slot of one point explains itself perfectly: such slots may hold a few stray points
            # (files at odd hours), not a share of the window that would make any slotting look good.
            alone = self._thin[mode]
            if len(slots) - alone < 2 or alone * THIN_SHARE > n:
                continue
            residuals[mode] = math.fsum(map(Pool.deviation_sum, slots.values())) / (n - alone)
        for mode, residual in residuals.items():
            if mode == "hour_of_daytype" and residual >= WEEKEND_GAIN * residuals.get("hour_of_day", math.inf):
                continue        # thinner slots, for no weekend effect worth them
            if residual < 0.5 * overall:
                return mode
        return "none"

    def _slot_noise(self, mode: str) -> float:
        noise = self._noise.get(mode)
        if noise is None:
            relative = sorted(chain.from_iterable(map(Pool.relative_deviations, self._slots[mode].values())))
            noise = self._noise[mode] = MAD_TO_SIGMA * median_of(relative) if relative else 0.0
        return noise

    def _judge(self, value: float, ts: datetime, floor: float = 0.0) -> Judgement:
        spec = self.spec
        needed = spec.min_history
        # An empty window with min_history 0 has no median: nothing to judge against yet.
        # The week's span guards against weekly patterns; a series declared without seasonality (run
        # durations) has none to meet.
        if len(self._accepted) < needed or not self._accepted or (
                spec.seasonality != "none" and self._first is not None and ts - self._first < LEARN_SPAN):
            return Judgement(Verdict.INSUFFICIENT, value, history=len(self._accepted), needed=needed)
        mode = self._season_mode()
        pool, used = self._all, "none"
        if mode != "none":
            same = self._slots[mode].get(slot_of(ts, mode)) if mode in self._slots else None
            if same is not None and len(same.values) >= MIN_SLOT_POINTS:
                pool, used = same, mode
        median, scale = pool.get_band(spec)
        if used != "none":
            # A slot holds few points, so its own spread is a poor guess: the window's spread around
            # the slots (relative to each slot's level) says what the noise is at any hour or day.
            scale = max(scale, self._slot_noise(mode) * abs(median))
        if self.counts:
            floor = max(floor, 1 / math.sqrt(max(abs(median), 1.0)))
        # Counts carry sampling noise no history can shrink: about √n rows on n expected (and a file's
        # bytes carry its rows' relative noise, ``floor``).
        sampling = floor * abs(median)
        if self.counts:
            sampling = max(sampling, 1.0)    # a count whose median is 0 still varies by a row or so
        dispersion = (max(scale, sampling) / sampling) ** 2 if sampling > 0 and median > 0 else math.inf
        scale = max(scale, sampling)
        # The median of n points is uncertain too (its variance about π/2n of one point's): a slot of two
        # or three points gets a band that much wider than its points' spread alone would say.
        widen = math.sqrt(1 + math.pi / (2 * len(pool.values)))
        warn_at = spec.warn_sensitivity if spec.warn_sensitivity is not None else spec.sensitivity
        fail_at = 2 * spec.sensitivity
        if dispersion <= MAX_DISPERSION:
            # A value whose spread is mostly its sampling noise, as rows (n = 1/floor² of them): judged on
            # Anscombe's square root, which has Poisson's heavier upper and lighter lower tail (17 rows
            # where 6 are usual is not rare).
            n = 1 / floor ** 2
            root = math.sqrt(n + 0.375)
            spread = widen * math.sqrt(dispersion)
            score = 2 * (math.sqrt(max(value / median * n, 0.0) + 0.375) - root) / spread
            reach = warn_at * spread / 2
            low, high = ((max(root - reach, 0.0) ** 2 - 0.375) * median / n,
                         ((root + reach) ** 2 - 0.375) * median / n)
        else:
            scale *= widen
            score = (value - median) / scale
            low, high = median - warn_at * scale, median + warn_at * scale
        verdict = Verdict.FAIL if abs(score) >= fail_at else Verdict.WARN if abs(score) >= warn_at \
            else Verdict.NORMAL
        return Judgement(verdict, value, median, low, high, score,
                         len(pool.values), needed, used)

    def _verdict(self, point: Point, j: Judgement) -> Judgement:
        if j.anomalous and _confirms_shift([*self._streak, (point, j)]):
            return Judgement(Verdict.LEVEL_SHIFT, j.value, j.expected, j.low, j.high, j.score, j.history,
                             j.needed, j.seasonal)
        return j

    def _returned(self, point: Point, j: Judgement, floor: float) -> Judgement:
        """An anomaly after a learned shift that is normal for the level before it: the excursion ended
        (a few hours' drop learned as a level, then the level it left). Judged as that level judges it."""
        if not j.anomalous or self._before is None:
            return j
        before = self._before._judge(point.value, point.ts, floor)
        return before if before.verdict is Verdict.NORMAL else j

    def _learn(self, point: Point, j: Judgement, label: str | None = None) -> None:
        if j.anomalous and label == "expected":
            self._shift_to([(point, j)])
        elif j.anomalous and label != "false_alarm":
            self._streak.append((point, j))
            if _confirms_shift(self._streak):
                self._shift_to(self._streak)
        elif self._returning:
            # Back to the level before the shift: that history is the baseline again.
            assert self._before is not None
            self._accepted, self._all, self._slots = self._before._accepted, self._before._all, self._before._slots
            self._thin, self._before = self._before._thin, None
            self._forget_season()
            self._streak.clear()
            self._add(point)
        else:
            self._streak.clear()
            self._add(point)

    def _holiday_low(self, point: Point, j: Judgement) -> bool:
        """A low (not empty) value on one of the dataset's holidays."""
        return j.anomalous and j.score < 0 and point.value > 0 and point.ts.date() in self.spec.holidays.dates

    def continues(self, j: Judgement) -> bool:
        """``j`` is anomalous on the side of the streak the previous points opened: the same episode."""
        return j.anomalous and bool(self._streak) and (self._streak[-1][1].score > 0) == (j.score > 0)

    def judge(self, point: Point, floor: float = 0.0) -> Judgement:
        """The verdict on ``point`` against everything learned so far; learns nothing. ``floor``: the
        point's relative sampling noise (a file's bytes carry its rows' Poisson noise)."""
        j = self._judge(point.value, point.ts, floor)
        back = self._returned(point, j, floor)
        if self._holiday_low(point, back):
            self.last_continues = False
            return _holiday(back)
        self.last_continues = self.continues(back)
        return self._verdict(point, back)

    def step(self, point: Point, floor: float = 0.0, label: str | None = None) -> Judgement:
        """Judge ``point``, then learn it as the replay does (points must come in time order). ``label``: a
        "false_alarm" is learned as normal, an "expected" level at once (not after a streak of three)."""
        j = self._judge(point.value, point.ts, floor)
        back = self._returned(point, j, floor)
        if self._holiday_low(point, back) and label is None:
            # Expected, so not an anomaly; unusual, so not learned either: next year's holiday is
            # judged the same way, and the days around it against ordinary days.
            self.last_continues = False
            return _holiday(back)
        self._returning = back is not j
        self.last_continues = self.continues(back)
        verdict = self._verdict(point, back)
        self._learn(point, back, label)
        self._returning = False
        return verdict

    def _shift_to(self, streak: Sequence[tuple[Point, Judgement]]) -> None:
        """Learn the level of ``streak`` as the new normal, keeping the baseline before it."""
        self._before = Baseline(self.spec, counts=self.counts)
        self._before._reset(self._accepted)
        self._before._first = self._first
        self._reset(_shifted(self._accepted, streak))
        self._streak.clear()


def _holiday(j: Judgement) -> Judgement:
    return Judgement(Verdict.NORMAL, j.value, j.expected, j.low, j.high, j.score, j.history, j.needed, "holiday")


def _deviations(streak: Sequence[tuple[Point, Judgement]]) -> tuple[list[float], bool]:
    """Each point's departure from its baseline: relative when every baseline is non-zero."""
    relative = all(j.expected for _, j in streak)
    if relative:
        return [(p.value - (j.expected or 1.0)) / abs(j.expected or 1.0) for p, j in streak], True
    return [p.value - (j.expected or 0.0) for p, j in streak], False


def _confirms_shift(streak: Sequence[tuple[Point, Judgement]]) -> bool:
    if len(streak) < SHIFT_CONFIRM:
        return False
    recent = list(streak)[-SHIFT_CONFIRM:]
    if len({j.score > 0 for _, j in recent}) != 1:
        return False
    deviations, _ = _deviations(recent)
    center = statistics.median(deviations)
    # The new points depart from the old baseline by about the same amount: a new level, not noise.
    return max(abs(d - center) for d in deviations) < abs(center) / 2


def _shifted(accepted: Iterable[Point], streak: Sequence[tuple[Point, Judgement]]) -> list[Point]:
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
    baseline = Baseline(spec)
    for point in sorted(history, key=lambda p: p.ts):
        baseline.step(point)
    return baseline.judge(new)
