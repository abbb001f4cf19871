"""The local Functions host: runs an ``azure.functions.FunctionApp`` the way the Azure host would."""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from sandbox.host.bindings import Function, HostOptions, connection_string, functions_from_metadata
from sandbox.host.blobs import BlobPoller
from sandbox.host.http import HttpFront, KeyRing
from sandbox.host.invocations import Invocation, InvocationLog
from sandbox.host.payloads import Payload
from sandbox.host.polling import Poller
from sandbox.host.queues import QueuePoller
from sandbox.host.timers import TimerScheduler, VirtualClock
from sandbox.host.worker import Worker, WorkerError
from shared.core.typed import Invalid
from shared.errors import ConfigError

log = logging.getLogger("sandbox.host")


class LocalHost:
    """Timer, queue, blob and HTTP triggers of one app, on threads, until ``stop()``; the app is
    indexed and invoked through Microsoft's worker library (``sandbox.host.worker``).

    ``settings`` are the app settings (the ``Values`` of local.settings.json): they resolve
    ``%SETTING%`` expressions (over the process environment, as app settings override it in Azure)
    and are exported to ``os.environ`` while the host runs, then restored.
    ``keys`` are host keys (name → value) valid for every function-level route; without any, one
    is generated (``host.default_key``). ``speed`` makes timer schedules run faster than real time.
    """

    def __init__(self, app: Any, settings: Mapping[str, str] | None = None, *,
                 host_json: Mapping[str, Any] | str | Path | None = None, http_port: int = 0,
                 speed: float = 1.0, keys: Mapping[str, str] | None = None,
                 function_keys: Mapping[str, Mapping[str, str]] | None = None,
                 master_key: str | None = None, host_id: str = "sandbox-host",
                 poll_interval: float = 0.5, app_directory: str | Path | None = None) -> None:
        self.app = app
        self.settings = {str(k): str(v) for k, v in (settings or {}).items()}
        self.options = HostOptions.from_host_json(host_json)
        self.keys = KeyRing(keys or {"default": secrets.token_urlsafe(24)}, function_keys or {},
                            master_key or secrets.token_urlsafe(32))
        self.clock = VirtualClock(speed)
        self.host_id = host_id
        self._http_port = http_port
        self._poll_interval = poll_interval
        self._log = InvocationLog()
        self._functions: list[Function] = []
        self._timers: TimerScheduler | None = None
        self._pollers: list[Poller] = []
        self._http: HttpFront | None = None
        self._worker: Worker | None = None
        self.app_directory = str(app_directory or Path.cwd())
        self._saved_environ: dict[str, str | None] | None = None
        self._lock = threading.Lock()

    # -- what tests and the demo read ------------------------------------------------------------

    @property
    def invocations(self) -> list[Invocation]:
        return self._log.records

    def wait_for(self, function: str, count: int = 1, timeout: float = 10.0,
                 succeeded: bool | None = None) -> list[Invocation]:
        """Block until ``function`` has ``count`` invocations (of that outcome); TimeoutError if not."""
        return self._log.wait_for(function, count, timeout,
                                  None if succeeded is None else (lambda r: r.succeeded is succeeded))

    @property
    def default_key(self) -> str:
        return next(iter(self.keys.host_keys.values()))

    @property
    def url(self) -> str:
        """Base URL of HTTP routes, prefix included, e.g. ``http://127.0.0.1:7071/api``."""
        if self._http is None:
            raise RuntimeError("the host is not running")
        return f"http://127.0.0.1:{self._http.port}{self._http.prefix}"

    @property
    def functions(self) -> list[Function]:
        return list(self._functions)

    def now(self) -> datetime:
        """The host's timer clock (faster than real time when ``speed`` > 1)."""
        return self.clock.now()

    def fire_timer(self, name: str, past_due: bool = False) -> Invocation:
        """Run timer function ``name`` now, in this thread; return its invocation."""
        if self._timers is None:
            raise RuntimeError("the host is not running; call start() first")
        return self._timers.fire(name, past_due)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> LocalHost:
        with self._lock:
            if self._saved_environ is not None:
                return self
            effective = {**os.environ, **self.settings}
            _check_thread_count(effective)
            self._export_settings()   # the worker reads its settings from the environment, as in Azure
            try:
                self._worker = Worker(self.app, self.app_directory)
                try:
                    indexed = self._worker.start()
                except WorkerError as exc:
                    raise ConfigError([str(exc)], "function app") from exc
                self._log.worker = self._worker
                self._functions = functions_from_metadata(indexed, effective)
                self._build(effective)
                self._launch()
            except BaseException:
                self._shutdown(timeout=5)
                raise
        log.info("sandbox host started", extra={"functions": [f.name for f in self._functions],
                                                "http_port": self._http.port if self._http else None})
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every trigger, wait for running invocations, restore the environment."""
        with self._lock:
            self._shutdown(timeout)

    def __enter__(self) -> LocalHost:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _export_settings(self) -> None:
        self._saved_environ = {name: os.environ.get(name) for name in self.settings}
        os.environ.update(self.settings)
        _forget_app_caches()

    def _build(self, settings: Mapping[str, str]) -> None:
        def invoke(function: Function, payload: Payload, detail: dict[str, Any]) -> Invocation:
            return self._log.invoke(function, payload, detail)[0]

        by_kind: dict[str, list[Function]] = {}
        for function in self._functions:
            by_kind.setdefault(function.trigger, []).append(function)
        problems: list[str] = []
        host_storage = ""
        if by_kind.get("blobTrigger"):
            try:
                host_storage = connection_string("AzureWebJobsStorage", settings)
            except Invalid as exc:
                problems.append(f"blob triggers keep receipts in the app storage: {exc}")
        self._timers = TimerScheduler(by_kind.get("timerTrigger", []), invoke, self.clock)
        for function in by_kind.get("queueTrigger", []):
            try:
                self._pollers.append(QueuePoller(function, self.options, invoke,
                                                 min(self._poll_interval, 0.1)))
            except ValueError as exc:
                problems.append(f"function {function.name}: connection string is invalid: {exc}")
        for function in by_kind.get("blobTrigger", []) if host_storage else []:
            try:
                self._pollers.append(BlobPoller(function, self.options, invoke, host_storage,
                                                self.host_id, self._poll_interval))
            except ValueError as exc:
                problems.append(f"function {function.name}: connection string is invalid: {exc}")
        if problems:
            raise ConfigError(problems, "function app")
        if by_kind.get("httpTrigger"):
            assert self._worker is not None
            self._http = HttpFront(by_kind["httpTrigger"], self.options.route_prefix, self.keys,
                                   self._log.invoke, self._http_port,
                                   self._worker.capabilities.get("RawHttpBodyBytes", "").lower() == "true")

    def _launch(self) -> None:
        for poller in self._pollers:
            try:
                poller.ensure_ready()
            except Exception as exc:   # storage not reachable yet: the poller retries on its thread
                log.warning("%s: not ready: %s", poller.name, exc)
        assert self._timers is not None
        self._timers.start()
        for poller in self._pollers:
            poller.start()
        if self._http is not None:
            self._http.start()

    def _shutdown(self, timeout: float) -> None:
        for poller in self._pollers:
            poller.signal_stop()
        stuck = []
        if self._http is not None:
            stuck.append(self._http.stop(timeout))
        if self._timers is not None:
            stuck.append(self._timers.stop(timeout))
        stuck += [poller.join(timeout) for poller in self._pollers]
        for thread in stuck:
            if thread is not None:
                log.error("thread %s did not stop within %.0f s (a function is still running)",
                          thread.name, timeout)
        self._pollers, self._timers, self._http = [], None, None
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
        if self._saved_environ is not None:
            for name, value in self._saved_environ.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            self._saved_environ = None
            _forget_app_caches()


def _check_thread_count(settings: Mapping[str, str]) -> None:
    """The worker falls back to its default on a bad PYTHON_THREADPOOL_THREAD_COUNT with a warning;
    a setting that silently means something else is a startup error here."""
    threads = settings.get("PYTHON_THREADPOOL_THREAD_COUNT", "").strip()
    if threads and not (threads.isdigit() and 1 <= int(threads) <= 32):
        raise ConfigError([f"app setting PYTHON_THREADPOOL_THREAD_COUNT={threads!r}: use a whole number "
                           "from 1 to 32"], "function app")


def _forget_app_caches() -> None:
    """A new worker process starts with nothing cached; the app's composition root caches clients
    built from settings, so it must forget them when this process's settings change."""
    from shared import bootstrap

    bootstrap.reset()
