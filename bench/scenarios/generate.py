"""Labelled scenarios with the noise real outputs have, for scoring the detectors (issue 12, point 1).

Each family is a generator of one dataset's observation history (DESIGN 3.4) from a seed: Poisson row
counts, binomial nulls (low and zero rates), multinomial score histograms, weekly and hour-of-day
seasonality, holidays, slow trends, growth steps, bursty intra-day arrivals, nights without files,
several files per batch, two-stage (upstream + output) pipelines. Clean families carry no incident: any
alert on them is false. Incident families carry labels: which alert codes count as finding the
incident, and the time window in which they must fire.

The families were written from what real outputs do, not from what the detectors catch; seeds split
the suite into a tuning half (even seeds) and a held-out half (odd seeds).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

import numpy as np

from shared.core.history import ColumnStats, Observation

START = datetime(2026, 1, 5, tzinfo=UTC)        # a Monday
DAY, HOUR = timedelta(days=1), timedelta(hours=1)
SEEDS = range(4)                                 # 0, 2: tuning half; 1, 3: held-out half
VOLUME = ("rows_anomaly", "size_anomaly", "level_shift")
BINS = 10


@dataclass(frozen=True)
class Incident:
    dataset: str
    kind: str                       # what happened, in words of the product (drop, null_jump, late...)
    codes: frozenset[str]           # alert codes that count as finding it
    start: datetime
    end: datetime                   # inclusive: alerts up to here count
    must_find: bool = True          # False: an expected change whose alerts are tolerated, not sought


@dataclass
class Scenario:
    name: str
    family: str
    seed: int
    clean: bool
    observations: list[Observation] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    # What the dataset's owner would write in pipelines.yaml beyond its name, from what they know of
    # their own data (a Spark job writes batches of parts); most families need nothing.
    config: dict[str, object] = field(default_factory=dict)

    @property
    def half(self) -> str:
        return "tuning" if self.seed % 2 == 0 else "held-out"


class Writer:
    """Builds one dataset's observations: a file's rows, bytes, nulls and score histogram from its volume."""

    def __init__(self, scenario: Scenario, rng: np.random.Generator, dataset: str = "ds") -> None:
        self.s, self.rng, self.dataset = scenario, rng, dataset
        self.row_bytes = float(rng.uniform(40, 160))
        self.null_rate = float(rng.choice([0.0, 0.0002, 0.001, 0.01]))     # zero and low rates are common
        edges = np.linspace(0, 1, BINS + 1)
        self.probs = self._probs(edges, float(rng.uniform(0.5, 1.5)))

    @staticmethod
    def _probs(edges: np.ndarray, power: float) -> np.ndarray:
        inner = np.diff(edges ** power)
        return np.concatenate([[0.0005], inner / inner.sum() * 0.999, [0.0005]])

    def file(self, ts: datetime, expected_rows: float, *, stage: str = "output", name: str = "",
             null_rate: float | None = None, drift: float = 0.0, rows: int | None = None) -> None:
        n = int(self.rng.poisson(max(expected_rows, 0.0))) if rows is None else rows
        rate = self.null_rate if null_rate is None else null_rate
        width = self.row_bytes * (1 + self.rng.normal(0, 0.01))
        columns: dict[str, ColumnStats] = {}
        if stage == "output":
            probs = self.probs if not drift else self._probs(np.linspace(0, 1, BINS + 1), 1.0 + drift)
            hist = tuple(float(c) for c in self.rng.multinomial(n, probs)) if n else None
            columns["score"] = ColumnStats(0.4, 0.2, 0, hist)
            columns["amount"] = ColumnStats(12.0, 3.0, int(self.rng.binomial(n, rate)) if n else 0)
        self.s.observations.append(Observation(
            ts, self.dataset, stage, name or f"{self.dataset}/{ts:%Y/%m/%d/%H%M}.csv",
            int(n * width) + 200, n, MappingProxyType(columns)))

    def label(self, kind: str, codes: tuple[str, ...] | frozenset[str], start: datetime, end: datetime, *,
              must_find: bool = True) -> None:
        self.s.incidents.append(Incident(self.dataset, kind, frozenset(codes), start, end, must_find))


def weekly(ts: datetime, weekend: float) -> float:
    return weekend if ts.weekday() >= 5 else 1.0


def hour_shape(ts: datetime) -> float:
    return 0.25 + np.sin(np.pi * max(0, ts.hour - 5) / 19) if ts.hour >= 5 else 0.0


def daily_times(rng: np.random.Generator, days: int, hour: int = 6) -> Iterator[tuple[int, datetime]]:
    for d in range(days):
        yield d, START + d * DAY + timedelta(hours=hour, minutes=int(rng.integers(0, 40)))


# --- clean families ------------------------------------------------------------------------------------


def clean_weekly(s: Scenario, rng: np.random.Generator) -> None:
    w, base, weekend = Writer(s, rng), rng.uniform(2e3, 5e4), rng.uniform(0.3, 0.8)
    for _, ts in daily_times(rng, 120):
        w.file(ts, base * weekly(ts, weekend))


def clean_trend(s: Scenario, rng: np.random.Generator) -> None:
    w, base, growth = Writer(s, rng), rng.uniform(2e3, 2e4), rng.uniform(0.002, 0.008)
    for d, ts in daily_times(rng, 150):
        w.file(ts, base * (1 + growth) ** d * weekly(ts, 0.6))


def clean_holidays(s: Scenario, rng: np.random.Generator) -> None:
    w, base = Writer(s, rng), rng.uniform(5e3, 3e4)
    holidays = {int(d) for d in rng.choice(range(30, 150), size=4, replace=False)}
    # Its owner knows the company's holidays (the days are public long before) and lists them.
    s.config = {"output": {"container": "out", "prefix": "ds", "contract": {"history": {
        "holidays": sorted(f"{(START + d * DAY).date()}" for d in holidays)}}}}
    for d, ts in daily_times(rng, 150):
        w.file(ts, base * weekly(ts, 0.5) * (0.3 if d in holidays else 1.0))


def clean_hourly_nights(s: Scenario, rng: np.random.Generator) -> None:
    # Hour-of-day seasonality and no files at night (01:00-05:00): nothing is missing then.
    w, base = Writer(s, rng), rng.uniform(200, 3_000)
    for h in range(45 * 24):
        ts = START + h * HOUR + timedelta(minutes=int(rng.integers(0, 10)))
        if 1 <= ts.hour < 5:
            continue
        w.file(ts, base * hour_shape(ts) * weekly(ts, 0.6))


def clean_small_counts(s: Scenario, rng: np.random.Generator) -> None:
    w, base = Writer(s, rng), rng.uniform(5, 40)                       # quantised: a few rows an hour
    for h in range(40 * 24):
        ts = START + h * HOUR + timedelta(minutes=int(rng.integers(0, 5)))
        w.file(ts, base * (0.5 + hour_shape(ts)))


def clean_multifile(s: Scenario, rng: np.random.Generator) -> None:
    # Spark-style batches: 3-8 part files a day, uneven sizes, landing within 20 minutes.
    w, base = Writer(s, rng), rng.uniform(1e4, 1e5)
    # Its owner knows it writes Spark batches and says so, as the README asks of a batched output.
    s.config = {"output": {"container": "out", "prefix": "ds", "batch": {"marker": "_SUCCESS"}}}
    for _, ts in daily_times(rng, 100):
        parts = int(rng.integers(3, 9))
        shares = rng.dirichlet(np.ones(parts) * 3)
        total = base * weekly(ts, 0.7)
        for p, share in enumerate(shares):
            w.file(ts + timedelta(minutes=int(rng.integers(0, 20)), seconds=p), total * share,
                   name=f"ds/{ts:%Y/%m/%d}/part-{p:05d}.parquet")


def clean_bursty_intraday(s: Scenario, rng: np.random.Generator) -> None:
    # Files arrive when the producer feels like it: bursts of several, then quiet hours.
    w, base = Writer(s, rng), rng.uniform(100, 2_000)
    t = START
    end = START + 40 * DAY
    while t < end:
        for _ in range(int(rng.integers(1, 5))):
            t += timedelta(minutes=float(rng.exponential(6)))
            w.file(t, base * (0.3 + hour_shape(t)))
        t += timedelta(minutes=float(rng.exponential(90)))


def clean_two_stage(s: Scenario, rng: np.random.Generator) -> None:
    w, base = Writer(s, rng), rng.uniform(5e3, 5e4)
    for _, ts in daily_times(rng, 100, hour=2):
        for p in range(int(rng.integers(2, 5))):
            w.file(ts + timedelta(minutes=p * 3), base / 3 * weekly(ts, 0.6), stage="upstream")
        w.file(ts + timedelta(hours=int(rng.integers(2, 4))), base * weekly(ts, 0.6))


def clean_growth_step(s: Scenario, rng: np.random.Generator) -> None:
    # A new customer: volume steps up 25-40 % for good. Learned once as a level shift, not an incident
    # worth waking anyone: the label allows the one level_shift notice, nothing else.
    w, base, step_day = Writer(s, rng), rng.uniform(5e3, 3e4), int(rng.integers(50, 80))
    factor = rng.uniform(1.25, 1.4)
    for d, ts in daily_times(rng, 130):
        w.file(ts, base * weekly(ts, 0.6) * (factor if d >= step_day else 1.0))
        if d == step_day:
            w.label("growth_step", ("level_shift",), ts, ts + 3 * DAY, must_find=False)


# --- incident families ---------------------------------------------------------------------------------


def _incident_days(rng: np.random.Generator, count: int, days: int, lo: int = 40) -> list[int]:
    """Days at least 9 apart, after the baseline has formed and at least a week before the end."""
    picked = sorted(int(d) for d in rng.choice(range(lo, days - 10, 9), size=count, replace=False))
    return [d + int(rng.integers(0, 4)) for d in picked]


def drop(s: Scenario, rng: np.random.Generator) -> None:
    w, base, days = Writer(s, rng), rng.uniform(5e3, 3e4), _incident_days(rng, 2, 120)
    for d, ts in daily_times(rng, 120):
        factor = rng.uniform(0.2, 0.45) if d in days else 1.0
        w.file(ts, base * weekly(ts, 0.5) * factor)
        if d in days:
            w.label("drop", VOLUME, ts, ts)


def spike(s: Scenario, rng: np.random.Generator) -> None:
    w, base, days = Writer(s, rng), rng.uniform(5e3, 3e4), _incident_days(rng, 2, 120)
    for d, ts in daily_times(rng, 120):
        factor = rng.uniform(2.0, 3.0) if d in days else 1.0             # a duplicated load
        w.file(ts, base * weekly(ts, 0.5) * factor)
        if d in days:
            w.label("spike", VOLUME, ts, ts)


def empty_output(s: Scenario, rng: np.random.Generator) -> None:
    w, base, days = Writer(s, rng), rng.uniform(5e3, 3e4), _incident_days(rng, 1, 100)
    for d, ts in daily_times(rng, 100):
        if d in days:
            w.file(ts, 0, rows=0)                                         # header only
            w.label("empty_output", VOLUME, ts, ts)
        else:
            w.file(ts, base * weekly(ts, 0.6))


def level_drop(s: Scenario, rng: np.random.Generator) -> None:
    # A filter bug halves the output for good: found within its first three files.
    w, base, from_day = Writer(s, rng), rng.uniform(5e3, 3e4), int(rng.integers(50, 80))
    for d, ts in daily_times(rng, 120):
        w.file(ts, base * weekly(ts, 0.6) * (0.5 if d >= from_day else 1.0))
        if d == from_day:
            w.label("level_shift", VOLUME, ts, ts + 2 * DAY + HOUR)


def null_jump(s: Scenario, rng: np.random.Generator) -> None:
    w, base, days = Writer(s, rng), rng.uniform(5e3, 3e4), _incident_days(rng, 1, 110)
    w.null_rate = float(rng.choice([0.0005, 0.002]))
    for d, ts in daily_times(rng, 110):
        jump = d in days or d - 1 in days
        w.file(ts, base * weekly(ts, 0.6), null_rate=rng.uniform(0.05, 0.15) if jump else None)
        if d in days:
            w.label("null_jump", ("null_anomaly",), ts, ts + DAY + HOUR)


def score_drift(s: Scenario, rng: np.random.Generator) -> None:
    w, base, from_day = Writer(s, rng), rng.uniform(5e3, 3e4), int(rng.integers(50, 80))
    for d, ts in daily_times(rng, 110):
        drifting = from_day <= d < from_day + 5
        w.file(ts, base * weekly(ts, 0.6), drift=1.2 if drifting else 0.0)
        if d == from_day:
            # The whole episode, and the first file back to normal, are about this incident.
            w.label("score_drift", ("drift", "level_shift"), ts, ts + 5 * DAY + 2 * HOUR)


def late_output(s: Scenario, rng: np.random.Generator) -> None:
    w, base, gap_from = Writer(s, rng), rng.uniform(5e3, 3e4), int(rng.integers(50, 80))
    gap = int(rng.integers(2, 4))
    for d, ts in daily_times(rng, 110):
        if gap_from <= d < gap_from + gap:
            continue
        w.file(ts, base * weekly(ts, 0.6))
    start = START + gap_from * DAY
    w.label("late", ("output_late",), start, start + gap * DAY + 6 * HOUR)


def intraday_drop(s: Scenario, rng: np.random.Generator) -> None:
    # An hourly dataset loses most of its rows for a few daytime hours (a source partly down).
    w, base = Writer(s, rng), rng.uniform(500, 3_000)
    day = int(rng.integers(20, 35))
    hours = {day * 24 + h for h in range(11, 11 + int(rng.integers(2, 5)))}
    for h in range(40 * 24):
        ts = START + h * HOUR + timedelta(minutes=int(rng.integers(0, 10)))
        if 1 <= ts.hour < 5:
            continue
        w.file(ts, base * hour_shape(ts) * (0.25 if h in hours else 1.0))
    # One incident for the episode: any of its files alerting finds it.
    w.label("intraday_drop", VOLUME, START + min(hours) * HOUR, START + (max(hours) + 1) * HOUR)


def intraday_missing(s: Scenario, rng: np.random.Generator) -> None:
    # An hourly dataset stops during the working day.
    w, base = Writer(s, rng), rng.uniform(500, 3_000)
    day = int(rng.integers(20, 35))
    stop, length = day * 24 + 9, int(rng.integers(4, 8))
    for h in range(40 * 24):
        if stop <= h < stop + length:
            continue
        ts = START + h * HOUR + timedelta(minutes=int(rng.integers(0, 10)))
        w.file(ts, base * (0.5 + hour_shape(ts)))
    w.label("late", ("output_late",), START + stop * HOUR, START + (stop + length) * HOUR + HOUR)


def upstream_missing(s: Scenario, rng: np.random.Generator) -> None:
    # Two stages: the upstream producer skips days, so the pipeline produces nothing either.
    w, base, gap_from = Writer(s, rng), rng.uniform(5e3, 5e4), int(rng.integers(50, 80))
    gap = int(rng.integers(2, 4))
    for d, ts in daily_times(rng, 110, hour=2):
        if gap_from <= d < gap_from + gap:
            continue
        for p in range(int(rng.integers(2, 4))):
            w.file(ts + timedelta(minutes=p * 4), base / 3 * weekly(ts, 0.6), stage="upstream")
        w.file(ts + 3 * HOUR, base * weekly(ts, 0.6))
    start = START + gap_from * DAY
    w.label("upstream_late", ("upstream_late", "output_late"), start, start + gap * DAY + 6 * HOUR)


FAMILIES: dict[str, tuple[bool, Callable[[Scenario, np.random.Generator], None]]] = {
    "clean_weekly": (True, clean_weekly),
    "clean_trend": (True, clean_trend),
    "clean_holidays": (True, clean_holidays),
    "clean_hourly_nights": (True, clean_hourly_nights),
    "clean_small_counts": (True, clean_small_counts),
    "clean_multifile": (True, clean_multifile),
    "clean_bursty_intraday": (True, clean_bursty_intraday),
    "clean_two_stage": (True, clean_two_stage),
    "clean_growth_step": (True, clean_growth_step),
    "drop": (False, drop),
    "spike": (False, spike),
    "empty_output": (False, empty_output),
    "level_drop": (False, level_drop),
    "null_jump": (False, null_jump),
    "score_drift": (False, score_drift),
    "late_output": (False, late_output),
    "intraday_drop": (False, intraday_drop),
    "intraday_missing": (False, intraday_missing),
    "upstream_missing": (False, upstream_missing),
}


def scenario(family: str, seed: int) -> Scenario:
    clean, build = FAMILIES[family]
    s = Scenario(f"{family}-{seed}", family, seed, clean)
    # One stream of random numbers per (family, seed): adding a family never changes another's data.
    build(s, np.random.default_rng([seed, *family.encode()]))
    s.observations.sort(key=lambda o: o.ts)
    return s


def suite(seeds: range = SEEDS) -> list[Scenario]:
    return [scenario(family, seed) for family in FAMILIES for seed in seeds]
