"""OpenTelemetry to Azure Monitor: structured log fields (``extra=``) become customDimensions.

Configured once, on a worker's first invocation (never at import: it costs ~0.5 s), and only when
Application Insights is configured. Telemetry must never stop the app: a failure here is logged.
"""

from __future__ import annotations

import logging
import threading

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
