"""Detectors that hold on data they have never seen (issue 12 point 2): sampling noise is not an alert,
quiet hours history shows are not late, and one excursion is one alert."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from shared.core import drift, staleness
from shared.core.baseline import Baseline, Point, Verdict
from shared.core.history import ColumnStats, HistoryReplay, Observation
from shared.core.nulls import NullRate
from shared.core.spec import Contract, DriftSpec, HistorySpec, PipelinesConfig, StalenessSpec
from shared.core.typed import coerce
from shared.services import backtest

START = datetime(2026, 3, 2, 6, tzinfo=UTC)   # a Monday


def test_a_null_share_moving_from_two_to_five_in_ten_thousand_rows_is_noise() -> None:
    rate = NullRate(HistorySpec())
    for _ in range(30):
        rate.step(2, 10_000)
    assert rate.step(5, 10_000).verdict is Verdict.NORMAL
    assert rate.step(0, 10_000).verdict is Verdict.NORMAL


def test_one_null_in_a_small_file_of_a_low_null_column_is_noise() -> None:
    rate = NullRate(HistorySpec())
    rng = random.Random(1)
    for _ in range(200):
        rows = rng.randint(100, 300)
        rate.step(sum(rng.random() < 0.0002 for _ in range(rows)), rows)
    assert rate.step(1, 180).verdict is Verdict.NORMAL      # 0.56 %, but one null


def test_a_null_share_jumping_to_five_percent_fails_even_from_zero() -> None:
    for usual in (0, 20):
        rate = NullRate(HistorySpec())
        for _ in range(30):
            rate.step(usual, 10_000)
        j = rate.step(500, 10_000)
        assert j.verdict is Verdict.FAIL and j.expected is not None and j.expected < 0.01


def test_a_move_below_the_absolute_floor_is_never_an_alert_however_many_rows() -> None:
    rate = NullRate(HistorySpec())
    for _ in range(30):
        rate.step(1_000, 1_000_000)                    # 0.1 %
    assert rate.step(4_000, 1_000_000).verdict is Verdict.NORMAL   # 0.4 %: certain, but not worth it
    assert rate.step(8_000, 1_000_000).anomalous                    # 0.8 %


def observation(ts: datetime, rows: int, hist: tuple[float, ...] | None = None) -> Observation:
    columns = {"score": ColumnStats(0.5, 0.1, 0, hist)} if hist else {}
    return Observation(ts, "ds", "output", f"ds/{ts:%Y%m%d%H}.csv", rows * 40, rows, MappingProxyType(columns))


def multinomial(rng: random.Random, n: int, probs: list[float]) -> tuple[float, ...]:
    counts = [0.0] * len(probs)
    for i in rng.choices(range(len(probs)), weights=probs, k=n):
        counts[i] += 1
    return tuple(counts)


def test_drift_on_files_of_a_few_rows_is_not_judged_and_the_report_says_so() -> None:
    rng, probs = random.Random(2), [1.0] * 10
    replay = HistoryReplay(Contract(drift=DriftSpec(columns=("score",))))
    found = []
    for h in range(24 * 10):
        ts = START + timedelta(hours=h)
        found += replay.step(observation(ts, 20, multinomial(rng, 20, probs)))
    assert not [f for f in found if f.code in ("drift", "level_shift")]
    assert any(f.code == "insufficient_history" and "too few" in f.message for f in found)


def test_a_real_shift_on_big_files_still_drifts_and_noise_is_what_small_samples_show() -> None:
    assert drift.noise([100.0] * 10, [2.0] * 10) > 0.25 > drift.noise([10_000.0] * 10, [1_000.0] * 10)
    rng = random.Random(3)
    replay = HistoryReplay(Contract(drift=DriftSpec(columns=("score",))))
    for d in range(20):
        replay.step(observation(START + timedelta(days=d), 5_000, multinomial(rng, 5_000, [1.0] * 10)))
    shifted = multinomial(rng, 5_000, [float(i + 1) ** 2 for i in range(10)])
    assert [f.code for f in replay.findings(observation(START + timedelta(days=20), 5_000, shifted))] == ["drift"]


def hourly_with_nights(days: int, skip: frozenset[int] = frozenset()) -> list[datetime]:
    rng = random.Random(4)
    return [START.replace(hour=0) + timedelta(hours=h, minutes=rng.randint(0, 9)) for h in range(days * 24)
            if not 1 <= h % 24 < 5 and h not in skip]


def late_ticks(arrivals: list[datetime], until: datetime) -> list[datetime]:
    spec, episode, model, out = StalenessSpec(), staleness.EpisodeState(), staleness.Arrivals(StalenessSpec()), []
    pending = iter(arrivals)
    nxt = next(pending, None)
    at = arrivals[0].replace(minute=0) + timedelta(hours=1)
    while at <= until:
        while nxt is not None and nxt <= at:
            model.add(nxt)
            nxt = next(pending, None)
        episode, alerts = staleness.step("ds", "output", episode, model, spec, at)
        out += [at for a in alerts if a.code == "output_late"]
        at += timedelta(hours=1)
    return out


def test_nights_without_files_are_not_late_once_history_shows_them_but_missing_day_hours_are() -> None:
    assert late_ticks(hourly_with_nights(20), START + timedelta(days=20)) == []
    missing = frozenset(range(15 * 24 + 10, 15 * 24 + 14))     # 10:00-13:59 on day 15
    late = late_ticks(hourly_with_nights(20, missing), START + timedelta(days=20))
    assert len(late) == 1 and late[0].date() == (START + timedelta(days=15)).date() and late[0].hour in (11, 12)


def test_a_recurring_long_gap_is_learned_on_its_second_appearance() -> None:
    # From its second week, every Thursday the producer pauses 20 hours: late once, maybe twice, then a
    # pattern, not an outage.
    arrivals = [t for t in hourly_with_nights(60)
                if not (t - START >= timedelta(days=8) and t.weekday() == 3 and 8 <= t.hour < 28 - 4)]
    assert 1 <= len(late_ticks(arrivals, START + timedelta(days=60))) <= 3


def test_a_learned_cadence_is_trusted_only_once_arrivals_span_a_week() -> None:
    # Hourly files from a Monday morning: the first nights without files are not outages; the model has
    # not seen a night yet. After a week, a missing working day is late.
    assert late_ticks(hourly_with_nights(6), START + timedelta(days=6)) == []
    missing = frozenset(range(3 * 24 + 9, 3 * 24 + 17))      # 09:00-16:59 on day 3: too early to say
    assert late_ticks(hourly_with_nights(6, missing), START + timedelta(days=6)) == []
    missing = frozenset(range(9 * 24 + 9, 9 * 24 + 17))
    assert len(late_ticks(hourly_with_nights(12, missing), START + timedelta(days=12))) == 1


def test_a_daily_series_is_judged_only_once_its_points_span_a_week() -> None:
    baseline = Baseline(HistorySpec(min_history=5))
    verdicts = [baseline.step(Point(START + timedelta(hours=8 * i), 100.0 + i % 3)).verdict for i in range(30)]
    span = [i for i, v in enumerate(verdicts) if v is not Verdict.INSUFFICIENT]
    assert span and span[0] == 21                                 # 21 × 8 h = 7 days


def names_only() -> PipelinesConfig:
    config, _ = coerce(PipelinesConfig, {"datasets": [{"name": "ds"}]})
    assert config is not None
    return config


def test_an_excursion_over_several_files_is_one_alert_and_its_end_is_not_another() -> None:
    rng = random.Random(5)
    obs = []
    for h in range(24 * 21):
        ts = START + timedelta(hours=h)
        rows = int(1_000 * (0.25 if 24 * 16 + 10 <= h < 24 * 16 + 14 else 1.0) * (1 + rng.gauss(0, 0.02)))
        obs.append(observation(ts, rows))
    alerts = [a for a in backtest.run(obs, names_only()) if not a.code.startswith("output_")]
    assert [(a.ts - START, a.code) for a in alerts] == [(timedelta(days=16, hours=10), "rows_anomaly")]
    assert "+1 more: size_anomaly" in alerts[0].message      # one alert per file, not one per finding code


def test_the_return_to_normal_after_a_learned_distribution_shift_is_not_alerted() -> None:
    rng = random.Random(6)
    flat, tilted = [1.0] * 10, [float(i + 1) ** 2 for i in range(10)]
    obs = [observation(START + timedelta(days=d), 5_000,
                       multinomial(rng, 5_000, tilted if 30 <= d < 35 else flat)) for d in range(50)]
    alerts = [a for a in backtest.run(obs, names_only()) if not a.code.startswith("output_")]
    assert [((a.ts - START).days, a.code) for a in alerts] == [(30, "drift")]


def test_a_shift_far_beyond_the_noise_of_a_few_hundred_rows_still_drifts() -> None:
    rng = random.Random(7)
    replay = HistoryReplay(Contract(drift=DriftSpec(columns=("score",))))
    for d in range(20):
        replay.step(observation(START + timedelta(days=d), 400, multinomial(rng, 400, [1.0] * 20)))
    shifted = multinomial(rng, 400, [float(i + 1) ** 3 for i in range(20)])
    assert [f.code for f in replay.findings(observation(START + timedelta(days=20), 400, shifted))] == ["drift"]
    same = multinomial(rng, 400, [1.0] * 20)
    assert [f.code for f in replay.findings(observation(START + timedelta(days=20), 400, same))] in (
        [], ["insufficient_history"])


def test_a_file_alerts_once_with_its_worst_finding_first_unless_every_finding_continues_an_episode() -> None:
    from shared.core.findings import Finding, to_alert
    from shared.core.models import Severity

    warn = Finding("size_anomaly", Severity.WARN, "size")
    fail = Finding("rows_anomaly", Severity.FAIL, "rows")
    note = Finding("insufficient_history", Severity.INFO, "note")
    assert to_alert([warn, note, fail]) == [fail, warn]
    assert to_alert([note]) == []
    ongoing = [Finding("rows_anomaly", Severity.FAIL, "rows", ongoing=True), note]
    assert to_alert(ongoing) == []
    assert to_alert([*ongoing, warn]) == [ongoing[0], warn]     # a new finding reopens the file's alert


def test_an_hourly_dataset_with_quieter_weekends_is_judged_by_hour_of_working_or_weekend_day() -> None:
    # Ten days of hourly files (the default window of 200 holds no two points of any hour of the week):
    # weekends run at 60 %. Hour of day alone would call every weekend hour a drop.
    import math as _math
    from datetime import UTC, datetime, timedelta

    from shared.core.spec import HistorySpec

    start = datetime(2026, 6, 1, tzinfo=UTC)   # a Monday
    b = Baseline(HistorySpec())

    def level(ts: datetime) -> float:
        return 1000 * (1.2 + _math.sin(_math.pi * ts.hour / 24)) * (0.6 if ts.weekday() >= 5 else 1.0)

    ts = start
    while ts < start + timedelta(days=19):
        b.step(Point(ts, level(ts) * (1 + 0.01 * ((ts.hour * 7) % 5 - 2))))
        ts += timedelta(hours=1)
    saturday_noon = start + timedelta(days=19 + 5, hours=12)   # the next weekend
    assert b.judge(Point(saturday_noon, level(saturday_noon))).verdict is Verdict.NORMAL
    assert b.judge(Point(saturday_noon, level(saturday_noon))).seasonal == "hour_of_daytype"
    assert b.judge(Point(saturday_noon, level(saturday_noon) / 0.6)).anomalous   # a weekday's volume on a Saturday


def test_small_counts_are_judged_with_poissons_tails_not_a_normal_band() -> None:
    import random as _random
    from datetime import UTC, datetime, timedelta

    from shared.core.spec import HistorySpec

    rng = _random.Random(3)
    start = datetime(2026, 6, 1, tzinfo=UTC)
    b = Baseline(HistorySpec(seasonality="none"), counts=True)

    def poisson(mean: float) -> int:   # Knuth's: small means only
        limit, k, p = 2.718281828459045 ** -mean, 0, 1.0
        while True:
            p *= rng.random()
            if p <= limit:
                return k
            k += 1

    for h in range(300):
        b.step(Point(start + timedelta(hours=h), float(poisson(6.0))))
    at = start + timedelta(hours=300)
    # 17 rows where about 6 are usual happens about once in 10,000 hours of Poisson(6): a normal band
    # of 3.5 σ (√6 ≈ 2.45) would put it at 4.5 σ.
    assert b.judge(Point(at, 17.0)).verdict is Verdict.NORMAL
    assert b.judge(Point(at, 30.0)).anomalous
    assert b.judge(Point(at, 6.0)).verdict is Verdict.NORMAL


def test_a_holiday_listed_in_history_holidays_is_expected_low_and_not_learned() -> None:
    from datetime import UTC, date, datetime, timedelta

    from shared.core.spec import HistorySpec, Holidays

    start = datetime(2026, 6, 1, 6, tzinfo=UTC)
    holiday = date(2026, 7, 1)
    plain, calendar = Baseline(HistorySpec()), Baseline(HistorySpec(holidays=Holidays(frozenset({holiday}))))
    for d in range(43):
        ts = start + timedelta(days=d)
        value = 10_000.0 * (0.3 if ts.date() == holiday else 1.0) * (1 + 0.02 * ((d * 7) % 5 - 2))
        got, seen = plain.step(Point(ts, value)), calendar.step(Point(ts, value))
        if ts.date() == holiday:
            assert got.anomalous                                      # a drop like any other
            assert seen.verdict is Verdict.NORMAL and seen.seasonal == "holiday"
    after = start + timedelta(days=43)
    assert calendar.judge(Point(after, 10_000.0)).verdict is Verdict.NORMAL
    assert calendar.judge(Point(after, 3_000.0)).anomalous             # the day after is an ordinary day
    on_holiday = datetime(2026, 7, 1, 9, tzinfo=UTC)
    assert calendar.judge(Point(on_holiday, 30_000.0)).anomalous      # a spike on a holiday still counts


def test_sparse_counts_whose_median_is_zero_still_have_a_rows_worth_of_noise() -> None:
    from datetime import UTC, datetime, timedelta

    from shared.core.spec import HistorySpec

    start = datetime(2026, 6, 1, tzinfo=UTC)
    b = Baseline(HistorySpec(seasonality="none"), counts=True)
    for h in range(200):     # an error table: mostly no rows, a row or two now and then
        b.step(Point(start + timedelta(hours=h), float([0, 0, 1, 0, 0, 2, 0, 0, 0, 1][h % 10])))
    at = start + timedelta(hours=200)
    assert b.judge(Point(at, 2.0)).verdict is Verdict.NORMAL
    assert b.judge(Point(at, 40.0)).anomalous
