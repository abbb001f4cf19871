"""Learned baselines on generated series with known anomalies: find them, stay quiet otherwise."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from shared.core import drift
from shared.core.baseline import Judgement, Point, Verdict, judge
from shared.core.spec import HistorySpec

START = datetime(2026, 6, 1, 6, tzinfo=UTC)   # a Monday
SPEC = HistorySpec()


def weekly_series(days: int, seed: int, noise: float = 0.03) -> list[Point]:
    """Daily row counts: weekdays ~10k, weekends ~4k, a few percent of noise."""
    rng = random.Random(seed)
    points = []
    for d in range(days):
        ts = START + timedelta(days=d)
        level = 4_000 if ts.weekday() >= 5 else 10_000
        points.append(Point(ts, level * (1 + rng.gauss(0, noise))))
    return points


def replay(points: list[Point]) -> list[Judgement]:
    return [judge(points[:i], p, SPEC) for i, p in enumerate(points)]


def flagged(judgements: list[Judgement]) -> set[int]:
    return {i for i, j in enumerate(judgements) if j.anomalous or j.verdict is Verdict.LEVEL_SHIFT}


@pytest.mark.parametrize("seed", range(5))
def test_a_clean_seasonal_series_raises_nothing(seed: int) -> None:
    judgements = replay(weekly_series(120, seed))
    assert flagged(judgements) == set()
    assert all(j.verdict is Verdict.INSUFFICIENT for j in judgements[:SPEC.min_history])


def test_before_enough_history_the_verdict_says_how_much_is_there() -> None:
    j = judge(weekly_series(5, 0), Point(START + timedelta(days=5), 10_000), SPEC)
    assert j.verdict is Verdict.INSUFFICIENT and (j.history, j.needed) == (5, 14)


def test_weekend_dips_are_normal_once_weekly_seasonality_is_learned() -> None:
    points = weekly_series(42, 1)
    saturday = START + timedelta(days=47)
    assert saturday.weekday() == 5
    j = judge(points, Point(saturday, 4_100), SPEC)
    assert j.verdict is Verdict.NORMAL and j.seasonal == "weekday"
    assert judge(points, Point(saturday, 10_000), SPEC).anomalous  # a weekday level on a Saturday is odd


def test_spikes_drops_and_a_level_shift_are_found_with_precision_and_recall() -> None:
    spikes, drops, shift_from = {40, 75}, {50, 52}, 60
    recalls, precisions = [], []
    for seed in range(10):
        points = weekly_series(100, seed)
        for i, p in enumerate(points):
            factor = 3.0 if i in spikes else 0.3 if i in drops else 1.0
            if i >= shift_from:
                factor *= 1.8
            points[i] = Point(p.ts, p.value * factor)
        judgements = replay(points)
        found = flagged(judgements)
        shift_points = set(range(shift_from, shift_from + 3))
        truth = spikes | drops | shift_points
        assert any(judgements[i].verdict is Verdict.LEVEL_SHIFT for i in shift_points), seed
        recalls.append(len(found & truth) / len(truth))
        precisions.append(len(found & truth) / len(found) if found else 1.0)
    recall, precision = sum(recalls) / len(recalls), sum(precisions) / len(precisions)
    print(f"baseline backtest: precision {precision:.2f}, recall {recall:.2f}")
    assert recall >= 0.9 and precision >= 0.9


def test_anomalies_stay_out_of_the_baseline() -> None:
    points = weekly_series(30, 2)
    points[20] = Point(points[20].ts, 1_000_000)
    monday = START + timedelta(days=35)
    j = judge(points, Point(monday, 10_000), SPEC)
    assert j.verdict is Verdict.NORMAL and j.expected is not None and j.expected < 11_000


def test_after_a_level_shift_the_new_level_is_normal() -> None:
    points = [Point(START + timedelta(days=d), 1_000.0 if d < 30 else 2_000.0) for d in range(40)]
    j = judge(points, Point(START + timedelta(days=40), 2_010), SPEC)
    assert j.verdict is Verdict.NORMAL


def test_a_constant_series_still_catches_a_third_of_the_rows() -> None:
    points = [Point(START + timedelta(days=d), 1_000.0) for d in range(20)]
    assert judge(points, Point(START + timedelta(days=20), 333), SPEC).verdict is Verdict.FAIL
    assert judge(points, Point(START + timedelta(days=20), 1_010), SPEC).verdict is Verdict.NORMAL


def test_psi_bands_a_shifted_score_distribution() -> None:
    base = [5, 10, 20, 30, 20, 10, 5]
    assert drift.psi(base, [x * 1000 for x in base]) == pytest.approx(0.0, abs=1e-9)
    shifted = [1, 2, 5, 10, 20, 30, 32]
    value = drift.psi(base, shifted)
    assert value is not None and value > 0.25
    assert drift.psi(base, [1, 2]) is None and drift.psi([0, 0], [1, 1]) is None
    h = drift.hellinger(base, shifted)
    assert h is not None and 0 < h < 1
