"""Null-rate baselines that know how many rows a share was measured on.

A column's null share is a count out of the file's rows, so its noise is binomial: 0.02 % moving to
0.05 % on 10k rows is two or three nulls more, not an incident. A file's share is anomalous only when
it is far from the pooled rate of recent accepted files both in binomial standard errors of *its* rows
and in the files' own spread (real shares vary more than a binomial), and when the move is at least an
absolute floor: below it nothing is worth waking anyone.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from statistics import NormalDist

from shared.core.baseline import SHIFT_CONFIRM, Judgement, Verdict
from shared.core.slots import MAD_TO_SIGMA, Pool, median_of
from shared.core.spec import HistorySpec

ABSOLUTE_FLOOR = 0.005     # a null share moving by less than half a percentage point is never alerted


@dataclass(frozen=True)
class _File:
    nulls: int
    rows: int

    @property
    def share(self) -> float:
        return self.nulls / self.rows


class NullRate:
    """One column's null share: a window of accepted files, pooled, and the anomaly streak."""

    __slots__ = ("_accepted", "_nulls", "_rows", "_shares", "_spread", "_streak", "last_continues", "spec")

    def __init__(self, spec: HistorySpec) -> None:
        self.spec = spec
        self._accepted: deque[_File] = deque(maxlen=spec.window if spec.window > 0 else None)
        self._nulls = 0
        self._rows = 0
        self._shares = Pool()                        # the accepted files' shares, sorted
        self._spread: tuple[float, float] | None = None   # their median and σ (from the MAD), cached
        self._streak: list[tuple[_File, Judgement]] = []
        self.last_continues = False       # the last judged file continued an open episode

    def _add(self, f: _File) -> None:
        if self._accepted.maxlen is not None and len(self._accepted) == self._accepted.maxlen:
            old = self._accepted[0]
            self._nulls -= old.nulls
            self._rows -= old.rows
            self._shares.remove(old.share)
        self._accepted.append(f)
        self._shares.add(f.share)
        self._spread = None
        self._nulls += f.nulls
        self._rows += f.rows

    def _judge(self, f: _File) -> Judgement:
        spec = self.spec
        if len(self._accepted) < max(spec.min_history, 1):
            return Judgement(Verdict.INSUFFICIENT, f.share, history=len(self._accepted), needed=spec.min_history)
        # A column that never had a null still has a rate: at most about one null in all rows seen.
        rate = max(self._nulls, 0.5) / self._rows
        if self._spread is None:
            self._spread = (median_of(self._shares.values), MAD_TO_SIGMA * median_of(sorted(self._shares.deviations())))
        center, spread = self._spread
        # Both must call it unusual: the count against what this file's rows allow (an exact Poisson
        # tail, as one or two nulls in a few hundred rows is far from normal-shaped), and the share
        # against how much files really vary.
        score = _poisson_z(f.nulls, rate * f.rows)
        if spread > 0:
            score = math.copysign(min(abs(score), abs(f.share - center) / spread), score)
        scale = abs(f.share - rate) / abs(score) if score else max(spread, 1e-12)
        warn_at = spec.warn_sensitivity if spec.warn_sensitivity is not None else spec.sensitivity
        fail_at = 2 * spec.sensitivity
        moved = abs(f.share - rate)
        if moved >= 2 * ABSOLUTE_FLOOR and abs(score) >= fail_at:
            verdict = Verdict.FAIL
        elif moved >= ABSOLUTE_FLOOR and abs(score) >= warn_at:
            verdict = Verdict.WARN
        else:
            verdict = Verdict.NORMAL
        band = max(warn_at * scale, ABSOLUTE_FLOOR)
        return Judgement(verdict, f.share, rate, max(rate - band, 0.0), rate + band, score, len(self._accepted),
                         spec.min_history)

    def _confirms(self, streak: list[tuple[_File, Judgement]]) -> bool:
        if len(streak) < SHIFT_CONFIRM:
            return False
        recent = streak[-SHIFT_CONFIRM:]
        if len({j.score > 0 for _, j in recent}) != 1:
            return False
        shares = [f.share for f, _ in recent]
        center = median_of(sorted(shares))
        # The new shares agree with each other (within the floor): a new level, not a run of noise.
        return max(abs(s - center) for s in shares) <= max(ABSOLUTE_FLOOR, abs(center) / 2)

    def step(self, nulls: int, rows: int, *, learn: bool = True, label: str | None = None) -> Judgement:
        """Judge one file's null count out of ``rows`` (> 0); learn it unless ``learn`` is False.
        ``label`` "false_alarm" learns an anomalous file as normal; "expected" makes it the new level."""
        f = _File(nulls, rows)
        j = self._judge(f)
        self.last_continues = self.continues(j)
        if learn and j.anomalous and label in ("false_alarm", "expected"):
            if label == "expected":
                self._accepted.clear()
                self._nulls = self._rows = 0
                self._shares, self._spread = Pool(), None
            self._streak.clear()
            self._add(f)
            return j
        if j.anomalous and self._confirms([*self._streak, (f, j)]):
            shifted = Judgement(Verdict.LEVEL_SHIFT, j.value, j.expected, j.low, j.high, j.score, j.history,
                                j.needed)
            if learn:
                self._accepted.clear()
                self._nulls = self._rows = 0
                self._shares, self._spread = Pool(), None
                for g, _ in [*self._streak, (f, j)][-SHIFT_CONFIRM:]:
                    self._add(g)
                self._streak.clear()
            return shifted
        if learn:
            if j.anomalous:
                self._streak.append((f, j))
            else:
                self._streak.clear()
                self._add(f)
        return j

    def continues(self, j: Judgement) -> bool:
        """``j`` is anomalous on the side of the streak the previous files opened: the same episode."""
        return j.anomalous and bool(self._streak) and (self._streak[-1][1].score > 0) == (j.score > 0)


_NORMAL = NormalDist()


def _poisson_z(k: int, expected: float) -> float:
    """How surprising ``k`` events are when ``expected`` were due, as a signed normal score."""
    if expected >= 100:
        return (k - expected) / math.sqrt(expected)
    if k == round(expected):
        return 0.0
    # P(X >= k) above, P(X <= k) below, summed term by term (expected < 100 keeps this short).
    term = math.exp(-expected)
    below = 0.0
    for i in range(k):
        below += term
        term *= expected / (i + 1)
    if k > expected:
        tail = max(1.0 - below, 0.0)
        return -_NORMAL.inv_cdf(min(max(tail, 1e-300), 0.5))
    tail = below + term
    return _NORMAL.inv_cdf(min(max(tail, 1e-300), 0.5))
