"""Timer triggers: one scheduler thread fires every timer function on its NCRONTAB schedule.

Time can run faster than the wall clock (``speed=60``: an hour of schedule passes in a real minute),
so a demo sees an hourly timer fire every minute. A timer function never runs twice at once (the
Azure host holds a singleton lock); an occurrence missed because the previous run overran is
skipped, and the late run is flagged ``past_due``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.host import payloads
from sandbox.host.bindings import Function
from sandbox.host.invocations import Invocation
from sandbox.host.payloads import Payload

log = logging.getLogger("sandbox.host")

Invoke = Callable[[Function, Payload, dict[str, Any]], Invocation]


class VirtualClock:
    """Wall-clock time, sped up by ``speed`` from the moment it is created."""

    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.speed = speed
        self._anchor = datetime.now(UTC)
        self._origin = time.monotonic()

    def now(self) -> datetime:
        return self._anchor + timedelta(seconds=(time.monotonic() - self._origin) * self.speed)

    def real_seconds_until(self, moment: datetime) -> float:
        return (moment - self.now()).total_seconds() / self.speed


class TimerScheduler:
    def __init__(self, timers: list[Function], invoke: Invoke, clock: VirtualClock) -> None:
        self._timers = {t.name: t for t in timers}
        self._locks = {t.name: threading.Lock() for t in timers}
        self._last: dict[str, datetime] = {}
        self._invoke = invoke
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._timers:
            self._thread = threading.Thread(target=self._run, name="sandbox-timers", daemon=True)
            self._thread.start()

    def stop(self, timeout: float) -> threading.Thread | None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            return self._thread if self._thread.is_alive() else None
        return None

    def fire(self, name: str, past_due: bool = False, scheduled: datetime | None = None) -> Invocation:
        """Run a timer function now, in the caller's thread, as if its schedule had fired."""
        if name not in self._timers:
            raise KeyError(f"no timer function named {name!r}; timers: {sorted(self._timers)}")
        timer = self._timers[name]
        scheduled = scheduled or self.clock.now()
        with self._locks[name]:
            payload = payloads.timer(timer.arg_name, past_due, self._status(timer, scheduled))
            self._last[name] = scheduled
            return self._invoke(timer, payload, {"scheduled": scheduled.isoformat(), "past_due": past_due})

    def _status(self, timer: Function, scheduled: datetime) -> dict[str, str]:
        last = self._last.get(timer.name)
        return {"Last": last.isoformat() if last else "",
                "Next": timer.extra["schedule"].next_after(scheduled).isoformat(),
                "LastUpdated": self.clock.now().isoformat()}

    def _run(self) -> None:
        for timer in self._timers.values():
            if timer.extra["run_on_startup"] and not self._stop.is_set():
                self.fire(timer.name)
        now = self.clock.now()
        due = {name: t.extra["schedule"].next_after(now) for name, t in self._timers.items()}
        while not self._stop.is_set():
            name = min(due, key=lambda n: due[n])
            wait = self.clock.real_seconds_until(due[name])
            if wait > 0:
                self._stop.wait(min(wait, 1.0))
                continue
            schedule = self._timers[name].extra["schedule"]
            missed = schedule.next_after(due[name]) <= self.clock.now()
            try:
                self.fire(name, past_due=missed, scheduled=due[name])
            except Exception:   # a host bug must not end every timer's schedule
                log.exception("timer %s: could not be fired", name)
            due[name] = schedule.next_after(max(due[name], self.clock.now()))
