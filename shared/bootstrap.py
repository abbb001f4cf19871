"""The composition root: the one place that picks concrete adapters.

Nothing happens at import time. ``get_deps()`` reads configuration and builds clients on first use,
then caches them for the life of the worker (Functions reuses workers across invocations).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from shared.services.deps import Deps, Tables

_lock = threading.Lock()
_deps: Deps | None = None


def build_deps(env: Mapping[str, str] | None = None) -> Deps:
    """Read settings and the pipelines config and wire the Azure adapters. Raises ConfigError."""
    from shared import config
    from shared.adapters.blob_profiler import BlobProfiler
    from shared.adapters.clock import SystemClock
    from shared.adapters.storage import AzureBlobStore, QueueAlertSink, TableStateStore

    settings, pipelines = config.load_all(env)
    runner = None
    if settings.factory is not None:
        from shared.adapters.data_factory import DataFactoryRunner

        runner = DataFactoryRunner(settings.factory)
    return Deps(
        config=pipelines,
        clock=SystemClock(),
        data=AzureBlobStore(settings.data_storage),
        state=TableStateStore(settings.app_storage),
        runner=runner,
        alerts=QueueAlertSink(settings.app_storage, config.ALERTS_QUEUE),
        tables=Tables(settings.table_prefix),
        claim_timeout=settings.claim_timeout,
        profiler=BlobProfiler(settings.data_storage),
    )


def get_deps() -> Deps:
    global _deps
    with _lock:
        if _deps is None:
            _deps = build_deps()
        return _deps


def reset() -> None:
    """Forget the cached deps (the sandbox host calls this after changing settings)."""
    global _deps
    with _lock:
        _deps = None
