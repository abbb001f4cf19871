"""OpenTelemetry to Azure Monitor: structured log fields (``extra=``) become customDimensions, and the
app's metrics (``shared.core.metrics``) become customMetrics.

Configured once, on a worker's first invocation (never at import: it costs ~0.5 s), and only when
Application Insights is configured. Telemetry must never stop the app: a failure here is logged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from shared.core.metrics import INSTRUMENTS, MetricPoint

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider

log = logging.getLogger(__name__)
_lock = threading.Lock()
_done = False


def configure(connection_string: str | None, client_id: str | None, entra_auth: bool) -> bool:
    global _done
    with _lock:
        if _done or not connection_string:
            return False
        _done = True
    try:
        from azure.monitor.opentelemetry import configure_azure_monitor

        credential = None
        if entra_auth:
            from azure.identity import ManagedIdentityCredential

            credential = ManagedIdentityCredential(client_id=client_id) if client_id else ManagedIdentityCredential()
        configure_azure_monitor(connection_string=connection_string, credential=credential,
                                logger_name="", enable_live_metrics=False)
        return True
    except Exception as exc:  # telemetry is best effort by design
        log.warning("Azure Monitor telemetry could not be configured", extra={"error_type": type(exc).__name__})
        return False


class OpenTelemetryMetrics:
    """The ``Metrics`` port on OpenTelemetry: histograms and counters of one meter.

    Without ``meter_provider`` it uses the global one, which ``configure`` (the Azure Monitor distro)
    sets: the distro's metric reader exports every minute to Application Insights, where each
    instrument is a ``customMetrics`` name and each dimension a ``customDimensions`` field. Before any
    provider is set (no Application Insights) the API's no-op provider makes recording free.
    """

    METER = "adf_autopilot"

    def __init__(self, meter_provider: MeterProvider | None = None) -> None:
        self._provider = meter_provider
        self._instruments: dict[str, Any] = {}
        self._lock = threading.Lock()

    def record(self, points: Sequence[MetricPoint]) -> None:
        try:
            for point in points:
                instrument = self._instrument(point.name)
                attributes = dict(point.dimensions)
                if INSTRUMENTS[point.name].kind == "counter":
                    instrument.add(point.value, attributes)
                else:
                    instrument.record(point.value, attributes)
        except Exception as exc:  # telemetry is best effort by design
            log.warning("metrics could not be recorded", extra={"error_type": type(exc).__name__})

    def _instrument(self, name: str) -> Any:
        with self._lock:
            found = self._instruments.get(name)
            if found is None:
                from opentelemetry import metrics

                meter = (self._provider or metrics.get_meter_provider()).get_meter(self.METER)
                spec = INSTRUMENTS[name]
                make = meter.create_counter if spec.kind == "counter" else meter.create_histogram
                found = self._instruments[name] = make(name, unit=spec.unit, description=spec.description)
            return found
