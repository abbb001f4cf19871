"""The numbers Autopilot records for Azure Monitor, as plain values: what each validation and each
run decision measured, with the dimensions a chart or a metric alert splits by.

Names and dimensions are a public contract (the workbook and the alert rule in ``infra/`` query them
in ``customMetrics``); never rename one. Dimensions stay few and bounded: dataset, stage, column (the
contract's columns), status, outcome, decision, pipeline — never a file, batch or run id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from shared.core import drift
from shared.core.history import POOLED, Observation
from shared.core.profile import Profile

MAX_COLUMNS = 50          # a file with hundreds of undeclared columns must not explode the dimensions


@dataclass(frozen=True)
class Instrument:
    kind: str             # histogram (a value per event) | counter (how many events)
    unit: str
    description: str


INSTRUMENTS: Mapping[str, Instrument] = MappingProxyType({
    "autopilot.validations": Instrument("counter", "{file}", "output files validated, by status"),
    "autopilot.validation.seconds": Instrument("histogram", "s", "time to validate one output file"),
    "autopilot.output.rows": Instrument("histogram", "{row}", "rows of a validated output file"),
    "autopilot.output.bytes": Instrument("histogram", "By", "bytes of a validated output file"),
    "autopilot.output.null_share": Instrument("histogram", "1", "share of empty values in a column (0..1)"),
    "autopilot.output.drift": Instrument(
        "histogram", "1", "population stability index of a drift column against the pooled histograms of "
        f"the dataset's last {POOLED} files (0.1 moderate, 0.25 major shift)"),
    "autopilot.runs": Instrument("counter", "{run}", "pipeline runs decided by the webhook, by outcome"),
    "autopilot.run.seconds": Instrument("histogram", "s", "duration of a pipeline run"),
})


@dataclass(frozen=True)
class MetricPoint:
    """One measurement: a value of the instrument ``name`` with its dimensions."""

    name: str
    value: float
    dimensions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if self.name not in INSTRUMENTS:
            raise ValueError(f"unknown metric {self.name!r}; add it to shared.core.metrics.INSTRUMENTS")


def _point(name: str, value: float, **dimensions: str) -> MetricPoint:
    return MetricPoint(name, float(value), MappingProxyType(dimensions))


def validation_points(dataset: str, stage: str, status: str, seconds: float, profile: Profile,
                      observation: Observation | None, past: Sequence[Observation],
                      declared: Sequence[str], drift_columns: Sequence[str],
                      min_pooled: int = 7) -> list[MetricPoint]:
    """What one validation measured. ``declared``: the contract's columns (null shares are recorded for
    those; for every column, up to MAX_COLUMNS, when the contract declares none). Rows, bytes, null
    shares and drift only for a readable file; drift only once ``min_pooled`` comparable histograms
    exist (the detector waits for min(history.min_history, 7) too)."""
    points = [_point("autopilot.validations", 1, dataset=dataset, stage=stage, status=status),
              _point("autopilot.validation.seconds", max(seconds, 0.0), dataset=dataset, stage=stage,
                     status=status)]
    if not profile.readable:
        return points
    points += [_point("autopilot.output.rows", profile.rows, dataset=dataset, stage=stage),
               _point("autopilot.output.bytes", profile.bytes, dataset=dataset, stage=stage)]
    columns = [c for c in declared if c in profile.columns] if declared else list(profile.columns)[:MAX_COLUMNS]
    points += [_point("autopilot.output.null_share", profile.columns[c].null_fraction, dataset=dataset,
                      stage=stage, column=c) for c in columns]
    if observation is not None:
        for column, distance in drift_distances(observation, past, drift_columns, min_pooled).items():
            points.append(_point("autopilot.output.drift", distance, dataset=dataset, stage=stage, column=column))
    return points


def drift_distances(observation: Observation, past: Sequence[Observation],
                    drift_columns: Sequence[str], min_pooled: int = 7) -> dict[str, float]:
    """PSI of each drift column's histogram against the pooled histograms of the same shape in the last
    ``POOLED`` past files. A chart's number, not the detector's verdict: the detector also leaves
    files judged anomalous out of its reference, so while a shift is being confirmed the two differ."""
    out: dict[str, float] = {}
    ordered = sorted(past, key=lambda o: o.ts)
    for column in drift_columns:
        stats = observation.columns.get(column)
        if stats is None or not stats.histogram or not sum(stats.histogram):
            continue
        shape = len(stats.histogram)
        earlier = [h for o in ordered if (c := o.columns.get(column)) is not None and (h := c.histogram)
                   and len(h) == shape and sum(h)][-POOLED:]
        if len(earlier) < max(min_pooled, 1):
            continue
        pool = drift.pooled(earlier)
        value = drift.psi(pool, stats.histogram) if pool is not None else None
        if value is not None:
            out[column] = value
    return out


def run_points(dataset: str, pipeline: str, outcome: str, decision: str,
               duration_s: float | None) -> list[MetricPoint]:
    """What one run decision measured: its outcome (ADF's status, lower case) and its duration."""
    dims = {"dataset": dataset, "pipeline": pipeline, "outcome": outcome.lower(), "decision": decision}
    points = [_point("autopilot.runs", 1, **dims)]
    if duration_s is not None:
        points.append(_point("autopilot.run.seconds", max(duration_s, 0.0), **dims))
    return points
