"""The app's metrics through the real OpenTelemetry SDK (an InMemoryMetricReader where Azure Monitor's
exporter would be): the guard on Azurite records, and the instruments carry the dimensions the workbook
and the drift alert rule query in customMetrics."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from shared.adapters.telemetry import OpenTelemetryMetrics
from shared.connections import StorageTarget
from shared.core.metrics import MetricPoint
from shared.services import output_guard
from tests.integration.test_output_guard import GOOD, make_deps


def exported(reader: InMemoryMetricReader) -> dict[str, list[tuple[dict[str, Any], Any]]]:
    """instrument name -> [(attributes, data point)], as the exporter would receive them."""
    out: dict[str, list[tuple[dict[str, Any], Any]]] = {}
    data = reader.get_metrics_data()
    assert data is not None
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            assert scope.scope.name == OpenTelemetryMetrics.METER
            for metric in scope.metrics:
                out.setdefault(metric.name, []).extend(
                    (dict(point.attributes or {}), point) for point in metric.data.data_points)
    return out


def test_a_validation_on_azurite_exports_its_metrics_with_dataset_stage_and_column(
        storage: StorageTarget, unique: str) -> None:
    reader = InMemoryMetricReader()
    deps = replace(make_deps(storage, unique), metrics=OpenTelemetryMetrics(MeterProvider(metric_readers=[reader])))
    deps.data.write_bytes(unique, "scores/2026/11/21/scores.csv", GOOD.encode())
    outcome = output_guard.validate_blob(deps, unique, "scores/2026/11/21/scores.csv", deps.clock.now())
    metrics = exported(reader)
    [(attributes, validations)] = metrics["autopilot.validations"]
    assert attributes == {"dataset": "scores", "stage": "output", "status": outcome.status}
    assert validations.value == 1
    [(attributes, rows)] = metrics["autopilot.output.rows"]
    assert attributes == {"dataset": "scores", "stage": "output"} and (rows.count, rows.sum) == (1, 50)
    [(_, size)] = metrics["autopilot.output.bytes"]
    assert size.sum == len(GOOD.encode())
    nulls = {a["column"]: p.sum for a, p in metrics["autopilot.output.null_share"]}
    assert nulls == {"id": 0.0, "score": 0.0}
    [(_, seconds)] = metrics["autopilot.validation.seconds"]
    assert seconds.count == 1 and 0 < seconds.sum < 30


def test_recording_never_raises_even_when_the_sdk_refuses() -> None:
    class Broken(MeterProvider):
        def get_meter(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("the exporter is gone")

    OpenTelemetryMetrics(Broken()).record([MetricPoint("autopilot.runs", 1.0)])   # logged, not raised


def test_drift_and_run_points_land_as_histograms_and_counters() -> None:
    reader = InMemoryMetricReader()
    sink = OpenTelemetryMetrics(MeterProvider(metric_readers=[reader]))
    sink.record([MetricPoint("autopilot.output.drift", 0.31, {"dataset": "scores", "stage": "output",
                                                              "column": "score"}),
                 MetricPoint("autopilot.runs", 1.0, {"dataset": "scores", "outcome": "failed"}),
                 MetricPoint("autopilot.runs", 1.0, {"dataset": "scores", "outcome": "failed"})])
    metrics = exported(reader)
    [(attributes, drift)] = metrics["autopilot.output.drift"]
    assert attributes["column"] == "score" and drift.max == 0.31
    [(_, runs)] = metrics["autopilot.runs"]
    assert runs.value == 2
