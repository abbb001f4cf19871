"""A live pipelines config: ``PIPELINES_CONFIG=blob://container/path.yaml`` in the app storage.

Each invocation asks for the current config; at most every ``min_interval`` the blob's ETag is read,
and a new version is parsed and checked. A valid version is used from then on, with no redeploy. An
invalid one is never used: the last good version stays, and ``config_invalid`` is raised once per
version, naming its file, line and field. Storage that cannot be reached keeps the last good version.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from shared.core.models import Alert, Severity
from shared.core.spec import PipelinesConfig
from shared.errors import ConfigError, ExternalError
from shared.ports import AlertSink, BlobStore, Clock

log = logging.getLogger(__name__)
MAX_PROBLEMS_IN_ALERT = 10


class LiveConfig:
    """The current config of one blob. ``parse(text, source)`` raises ConfigError for an invalid one."""

    def __init__(self, store: BlobStore, container: str, name: str, first: PipelinesConfig, etag: str,
                 parse: Callable[[str, str], PipelinesConfig], clock: Clock,
                 min_interval: timedelta = timedelta(seconds=5)) -> None:
        self.source = f"blob://{container}/{name}"
        self._store, self._container, self._name = store, container, name
        self._parse, self._clock, self._min_interval = parse, clock, min_interval
        self.config, self.etag = first, etag
        self._checked: datetime | None = clock.now()
        self._rejected: set[str] = set()
        self._lock = threading.Lock()

    def current(self, alerts: AlertSink) -> PipelinesConfig:
        """The config to use now: a newer valid version if the blob changed, else the last good one."""
        with self._lock:
            now = self._clock.now()
            if self._checked is not None and now - self._checked < self._min_interval:
                return self.config
            self._checked = now
            try:
                info = self._store.get_blob_info(self._container, self._name)
                if info.etag in (self.etag, *self._rejected):
                    return self.config
                text = self._store.read_bytes(self._container, self._name).decode("utf-8-sig")
            except (ExternalError, UnicodeDecodeError) as exc:
                log.warning("live config unreadable; the last good version stays in use",
                            extra={"source": self.source, "error_type": type(exc).__name__})
                return self.config
            try:
                config = self._parse(text, self.source)
            except ConfigError as exc:
                self._rejected.add(info.etag)
                alerts.emit(invalid_alert(self.source, info.etag, exc.problems, now))
                log.error("live config invalid; the last good version stays in use",
                          extra={"source": self.source, "etag": info.etag, "problems": len(exc.problems)})
                return self.config
            self.config, self.etag = config, info.etag
            log.info("live config loaded", extra={"source": self.source, "etag": info.etag,
                                                  "datasets": len(config.datasets)})
            return config


def invalid_alert(source: str, etag: str, problems: tuple[str, ...], now: datetime) -> Alert:
    shown = list(problems[:MAX_PROBLEMS_IN_ALERT])
    more = len(problems) - len(shown)
    return Alert("autopilot", "config_invalid", Severity.FAIL,
                 f"The new version of {source} is invalid and is not used; the last good version stays in use. "
                 + " ".join(f"({i}) {p}" for i, p in enumerate(shown, 1))
                 + (f" … and {more} more." if more else ""),
                 now, subject=etag, facts={"config": source, "version": etag, "problems": str(len(problems))})
