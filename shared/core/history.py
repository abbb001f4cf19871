"""History checks: a file's size, rows, null rates and score distribution against its own past.

Observations are the DESIGN 3.4 records (one JSON object per line in backtests, one Table Storage
row per file in Azure). The same functions serve the output guard and ``autopilot backtest``.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from shared.core import drift
from shared.core.baseline import Baseline, Judgement, Point, Verdict
from shared.core.findings import Finding
from shared.core.models import Severity
from shared.core.nulls import NullRate
from shared.core.profile import Profile
from shared.core.spec import Contract

SHIFT_CONFIRM = 3
# A label is what a person said of the alert an observation raised: "false_alarm" keeps the observation
# in the baselines as normal; "expected" learns its level (and distribution) as the new normal at once.
LABELS = ("false_alarm", "expected")
POOLED = 14          # the drift baseline pools the last 14 accepted histograms


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
    label: str | None = None      # a person's feedback on its alert: false_alarm | expected (LABELS)

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
        if self.label is not None:
            out["label"] = self.label
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
        hist = _histogram(stats.get("histogram"), str(name))
        columns[str(name)] = ColumnStats(
            mean=_number(stats["mean"], f"columns.{name}.mean") if stats.get("mean") is not None else None,
            std=_number(stats["std"], f"columns.{name}.std") if stats.get("std") is not None else None,
            nulls=int(_number(stats["nulls"], f"columns.{name}.nulls", integer=True))
            if stats.get("nulls") is not None else None,
            histogram=hist)
    rows = body.get("rows")
    label = body.get("label")
    if label is not None and label not in LABELS:
        raise ValueError(f"label must be one of {', '.join(LABELS)}, got {label!r}")
    return Observation(ts, str(body["dataset"]), str(body["stage"]), str(body.get("name", "")),
                       int(_number(body["bytes"], "bytes", integer=True)),
                       int(_number(rows, "rows", integer=True)) if rows is not None else None,
                       MappingProxyType(columns), label)


def _histogram(value: object, column: str) -> tuple[float, ...] | None:
    """A histogram as history stores it (counts, outer bins first and last), or as a validation
    report's profile shows it (``{"lo", "hi", "counts", "below", "above"}``), so a report's columns can
    be fed back as history."""
    if value is None:
        return None
    if isinstance(value, dict) and isinstance(value.get("counts"), list):
        value = [value.get("below", 0), *value["counts"], value.get("above", 0)]
    if not isinstance(value, list) or not all(_number(h, f"columns.{column}.histogram") >= 0 for h in value):
        raise ValueError(f"columns.{column}.histogram must be a list of counts, or a report's "
                         '{"counts": [...], "below": n, "above": n}')
    return tuple(float(h) for h in value)


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
    if j.seasonal == "holiday":
        return Finding("holiday", Severity.INFO, f"{label} is {j.value:{fmt}}, below the normal range {j.low:{fmt}}–"
                       f"{j.high:{fmt}}: expected on a holiday (history.holidays), so not alerted and not learned.",
                       column)
    if not j.anomalous:
        return None
    season = {"weekday": " for a file on this weekday", "hour_of_week": " for a file at this hour of the week",
              "hour_of_day": " for a file at this hour of day",
              "hour_of_daytype": " for a file at this hour of a working or weekend day"}.get(j.seasonal, "")
    return Finding(code, _severity(j),
                   f"{label} is {j.value:{fmt}}, outside the normal range {j.low:{fmt}}–{j.high:{fmt}}"
                   f"{season} (baseline median {j.expected:{fmt}} over {j.history} files).", column)


class _DriftState:
    """One drift column's replay (for histograms of one shape): accepted histograms and the streak.

    PSI between a sample and its pool is never zero: with n rows over k bins its sampling noise is
    about a chi-square with k - 1 degrees of freedom times (1/n + 1/N). A file is judged on what is left
    above that noise, and a file too small for even a moderate shift to stand out is not judged at all
    (the finding says so). After a shift is learned, the distribution it replaced is remembered, so the
    return to it is recognised rather than alerted as another shift.
    """

    __slots__ = ("accepted", "contract", "pool", "previous", "streak")

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.accepted: deque[tuple[float, ...]] = deque(maxlen=POOLED)
        self.streak: deque[tuple[float, ...]] = deque(maxlen=SHIFT_CONFIRM)
        self.pool: list[float] | None = None      # pooled accepted histograms, cached until they change
        self.previous: list[float] | None = None  # the pool before the last learned shift

    def psi(self, histogram: tuple[float, ...]) -> float | None:
        """PSI above its sampling noise (0 when within it); None when not judged."""
        if len(self.accepted) < min(self.contract.history.min_history, 7):
            return None
        if self.pool is None:
            self.pool = drift.pooled(list(self.accepted))
        if self.pool is None:
            return None
        noise = drift.noise(self.pool, histogram)
        value = drift.psi(self.pool, histogram)
        if value is None:
            return None
        excess = max(value - noise, 0.0)
        if noise >= self.contract.drift.warn and (excess < self.contract.drift.warn or
                                                  sum(histogram) < drift.MIN_ROWS):
            # Too few rows to tell a moderate shift from noise. A shift far beyond the noise still
            # counts, from a few hundred rows up: below that, empty bins make PSI itself unreliable.
            return math.nan
        return excess

    def returns(self, histogram: tuple[float, ...]) -> bool:
        """The file matches the distribution the last learned shift replaced."""
        if self.previous is None:
            return False
        value = drift.psi(self.previous, histogram)
        return value is not None and value - drift.noise(self.previous, histogram) < self.contract.drift.warn

    def learn(self, histogram: tuple[float, ...], value: float | None, label: str | None = None) -> None:
        if label == "expected" and value is not None and value >= self.contract.drift.warn:
            # A person said the new distribution is the normal one: it is the baseline from now on.
            self.previous = self.pool
            self.accepted.clear()
            self.accepted.append(histogram)
            self.streak.clear()
            self.pool = None
            return
        if label == "false_alarm":
            value = None
        if value is not None and value >= self.contract.drift.warn:
            if self.returns(histogram):
                # Back to how it was before the shift: that distribution is the baseline again.
                self.accepted.clear()
                self.accepted.append(histogram)
                self.pool = [*self.previous] if self.previous is not None else None
                self.previous = None
                self.streak.clear()
                return
            self.streak.append(histogram)
            if len(self.streak) >= SHIFT_CONFIRM and _agree(self.streak, self.contract):
                self.previous = self.pool
                self.accepted.clear()
                self.accepted.extend(self.streak)
                self.streak.clear()
                self.pool = None
        else:
            self.accepted.append(histogram)
            self.streak.clear()
            self.pool = None

    def finding(self, column: str, histogram: tuple[float, ...], value: float | None) -> list[Finding]:
        if value is None:
            return []
        contract, kept = self.contract, min(len(self.accepted), POOLED)
        if math.isnan(value):
            return [Finding("insufficient_history", Severity.INFO,
                            f"The distribution of {column} was not judged: {sum(histogram):,.0f} rows are too few "
                            f"to tell a moderate shift (PSI {contract.drift.warn}) from sampling noise.", column)]
        if value < contract.drift.warn:
            return []
        if self.returns(histogram):
            return [Finding("drift", Severity.INFO, f"The distribution of {column} is back to what it was before "
                            "its last shift; that is the baseline again.", column)]
        ongoing = bool(self.streak)
        if len(self.streak) >= SHIFT_CONFIRM - 1 and \
                _agree([*list(self.streak)[-(SHIFT_CONFIRM - 1):], histogram], contract):
            return [Finding("level_shift", Severity.WARN,
                            f"The distribution of {column} has shifted (PSI {value:.2f} above sampling noise) for "
                            "three files in a row; this is now learned as normal.", column, ongoing)]
        if value >= contract.drift.fail:
            return [Finding("drift", Severity.FAIL, f"The distribution of {column} drifted: PSI {value:.2f} above "
                            f"sampling noise against the last {kept} files (major shift above {contract.drift.fail}).",
                            column, ongoing)]
        return [Finding("drift", Severity.WARN, f"The distribution of {column} moved: PSI {value:.2f} above "
                        f"sampling noise against the last {kept} files (moderate shift above {contract.drift.warn}).",
                        column, ongoing)]


class HistoryReplay:
    """The history checks of one stream (dataset and stage), replayed one observation at a time.

    ``findings`` judges an observation against everything replayed so far; ``step`` also learns it.
    Feeding a stream's observations in time order through ``step`` gives, for each one, exactly what
    ``history_findings`` gives for it with the observations before it as history — at the cost of one
    judgement per metric instead of a replay of the whole history.
    """

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self._size = Baseline(contract.history)
        self._rows = Baseline(contract.history, counts=True)
        self._nulls: dict[str, NullRate] = {}
        self._drift: dict[tuple[str, int], _DriftState] = {}

    def findings(self, obs: Observation) -> list[Finding]:
        return self._run(obs, learn=False)

    def step(self, obs: Observation) -> list[Finding]:
        return self._run(obs, learn=True)

    def learn(self, obs: Observation) -> None:
        self._run(obs, learn=True, judge=False)

    def _run(self, obs: Observation, *, learn: bool, judge: bool = True) -> list[Finding]:
        findings: list[Finding] = []
        insufficient: list[Judgement] = []

        def check(baseline: Baseline, code: str, label: str, value: float, fmt: str, floor: float = 0.0) -> Judgement:
            point = Point(obs.ts, value)
            j = baseline.step(point, floor, obs.label) if learn else baseline.judge(point, floor)
            if not judge:
                return j
            if j.verdict is Verdict.INSUFFICIENT:
                insufficient.append(j)
            elif (f := _metric_finding(code, label, j, None, fmt)) is not None:
                findings.append(replace(f, ongoing=baseline.last_continues))
            return j

        floor = 0.0
        if obs.rows is not None:
            rows = check(self._rows, "rows_anomaly", "Row count", float(obs.rows), ",.0f")
            # A file's bytes follow its rows: their Poisson noise is the least spread its size can have.
            floor = 1 / math.sqrt(max(rows.expected or 0.0, 1.0)) if rows.expected is not None else 0.0
        check(self._size, "size_anomaly", "File size", float(obs.bytes), ",.0f", floor)
        for column, stats in obs.columns.items():
            if stats.nulls is None or not obs.rows:
                continue
            rate = self._nulls.get(column)
            if rate is None:
                rate = self._nulls[column] = NullRate(self.contract.history)
            j = rate.step(stats.nulls, obs.rows, learn=learn, label=obs.label)
            # A column's null rate without history yet is not judged, and not counted in the
            # insufficient-history note: that counts files, and size and rows already say how many.
            f = _metric_finding("null_anomaly", f"Null fraction of {column}", j, column, ".3%") if judge else None
            if f is not None:
                findings.append(replace(f, ongoing=rate.last_continues))
        for column in self.contract.drift.columns:
            findings += self._drift_step(obs, column, learn=learn, judge=judge)
        if insufficient:
            n = min(j.history for j in insufficient)
            findings.append(Finding("insufficient_history", Severity.INFO,
                                    f"History baselines not judged yet: insufficient history ({n}/"
                                    f"{self.contract.history.min_history} files)."))
        return findings

    def _drift_step(self, obs: Observation, column: str, *, learn: bool, judge: bool) -> list[Finding]:
        stats = obs.columns.get(column)
        if stats is None or stats.histogram is None or not sum(stats.histogram):
            return []
        # Histograms are only comparable with histograms of the same shape: one replay per shape.
        key = (column, len(stats.histogram))
        state = self._drift.get(key)
        if state is None:
            state = self._drift[key] = _DriftState(self.contract)
        value = state.psi(stats.histogram)
        found = state.finding(column, stats.histogram, value) if judge else []
        if learn:
            state.learn(stats.histogram, value, obs.label)
        return found


def history_findings(obs: Observation, history: Sequence[Observation], contract: Contract) -> list[Finding]:
    """Size, rows and null-rate anomalies against learned baselines, and score drift (PSI bands).

    The history before ``obs`` is replayed from its start; ``HistoryReplay`` does the same one step at a
    time for a whole stream (the backtest).
    """
    replay = HistoryReplay(contract)
    for h in sorted((h for h in history if h.ts < obs.ts), key=lambda h: h.ts):
        replay.learn(h)
    return replay.findings(obs)


def _agree(histograms: Sequence[tuple[float, ...]], contract: Contract) -> bool:
    pool = drift.pooled(list(histograms))
    if pool is None:
        return False
    return all((drift.psi(pool, h) or 0.0) < contract.drift.warn for h in histograms)
