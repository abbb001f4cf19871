"""The app's metrics, visible locally: an OpenTelemetry ``InMemoryMetricReader`` on the process's global
meter provider, where in Azure the Azure Monitor distro puts its exporter. The local host runs the app in
this process, so whatever the functions record (``shared.adapters.telemetry.OpenTelemetryMetrics``)
is read back here: ``make demo`` prints it, the end-to-end tests assert it.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_reader: Any = None


def install() -> Any:
    """The process's metric reader, installed with a global MeterProvider on first call (OpenTelemetry
    allows one global provider per process; later calls return the same reader)."""
    global _reader
    with _lock:
        if _reader is None:
            from opentelemetry import metrics
            from opentelemetry.sdk.metrics import MeterProvider
            from opentelemetry.sdk.metrics.export import InMemoryMetricReader

            _reader = InMemoryMetricReader()
            metrics.set_meter_provider(MeterProvider(metric_readers=[_reader]))
        return _reader


def snapshot() -> list[dict[str, Any]]:
    """Every data point recorded so far in this process (cumulative), one dict per instrument and
    dimension set: ``name``, ``dimensions``, and ``value`` (counters) or ``count``/``sum``/``max``."""
    data = install().get_metrics_data()
    out: list[dict[str, Any]] = []
    for resource in data.resource_metrics if data is not None else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    row: dict[str, Any] = {"name": metric.name, "dimensions": dict(point.attributes or {})}
                    if hasattr(point, "count"):
                        row.update(count=point.count, sum=point.sum, max=point.max)
                    else:
                        row["value"] = point.value
                    out.append(row)
    return out
