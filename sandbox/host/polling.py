"""A poller thread: ask storage for work, back off while there is none, survive storage errors."""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod

log = logging.getLogger("sandbox.host")


class Poller(ABC):
    """Calls ``poll_once`` until stopped. Waits ``min_interval`` after work, doubling up to
    ``max_interval`` while idle (the Functions host's queue polling shape)."""

    name = "poller"

    def __init__(self, min_interval: float, max_interval: float) -> None:
        self.min_interval = min_interval
        self.max_interval = max(max_interval, min_interval)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ready = False

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @abstractmethod
    def prepare(self) -> None:
        """Create what polling needs (queues, containers); ``ensure_ready`` calls it until it succeeds."""

    def ensure_ready(self) -> None:
        if not self._ready:
            self.prepare()
            self._ready = True

    @abstractmethod
    def poll_once(self) -> bool:
        """Do one round of work; return True if there was any."""

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"sandbox-{self.name}", daemon=True)
        self._thread.start()

    def signal_stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float) -> threading.Thread | None:
        """Wait for the thread; return it if it is still running after ``timeout``."""
        if self._thread is None:
            return None
        self._thread.join(timeout)
        return self._thread if self._thread.is_alive() else None

    def _run(self) -> None:
        delay = self.min_interval
        while not self._stop.is_set():
            try:
                self.ensure_ready()
                busy = self.poll_once()
            except Exception as exc:  # storage down or misbehaving: log, back off, keep polling
                log.warning("%s: polling failed: %s", self.name, exc, extra={"poller": self.name})
                busy = False
            delay = self.min_interval if busy else min(delay * 2, self.max_interval)
            self._stop.wait(delay)
