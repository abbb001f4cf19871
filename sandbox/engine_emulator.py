"""What every pipeline-engine emulator shares (ADF, Synapse, Fabric): the local pipelines and their runs,
the knobs (faults before or after a call takes effect, slow answers, failing pipelines), the request
log, the ``/_emulator/`` admin calls and the HTTP server. Each engine adds its own routes, wire shapes
and error bodies on top (``handle`` and ``fault_answer``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar, Self
from urllib.parse import parse_qs, unquote, urlsplit

from sandbox.local_server import QuietServer
from sandbox.pipelines.runtime import FINISHED, Injected, Pipeline, PipelineBody, RunRecord, RunSettings, execute

SETTING_NAMES = {"queueDelay": "queue_delay", "runDuration": "run_duration", "webhookUrl": "webhook_url",
                 "webhookKey": "webhook_key", "webhookTimeout": "webhook_timeout"}
Answer = tuple[int, Any, dict[str, str]]          # status, JSON body (None: empty), extra headers


@dataclass(frozen=True)
class Fault:
    """Answer the next ``count`` calls of ``operation`` with ``status``; ``when`` the run is created."""

    operation: str = "createRun"
    status: int = 500
    count: int = 1
    when: str = "before"                 # before | after (the call takes effect, then the error)
    retry_after: float | None = None


@dataclass(frozen=True)
class Slowness:
    operation: str = "*"
    seconds: float = 1.0
    count: int = 1


class EngineEmulator(ABC):
    """One engine's runs of local pipelines. Thread-safe; every knob works in-process and over HTTP.

    Subclasses set ``OPERATIONS`` (the names ``fail_next`` accepts) and implement ``handle`` (one
    request of the engine's own surface) and ``fault_answer`` (the engine's error body for a fault).
    """

    OPERATIONS: ClassVar[tuple[str, ...]] = ()
    server_name: ClassVar[str] = "engine-emulator"

    def __init__(self, pipelines: Mapping[str, Pipeline | PipelineBody] | None, *,
                 config: Mapping[str, str] | None, owner_id: str, engine_name: str,
                 host: str = "127.0.0.1", port: int = 0, page_size: int = 5) -> None:
        if pipelines is None:
            from sandbox.pipelines import PIPELINES
            pipelines = PIPELINES
        self.pipelines = {name: p if isinstance(p, Pipeline) else Pipeline(name, p)
                          for name, p in pipelines.items()}
        self.config = dict(config or {})
        self.page_size = page_size
        self.owner_id = owner_id
        # The Web activity's body names the factory (or workspace) the run belongs to.
        self.settings = RunSettings(factory_name=engine_name, webhook_url=self.config.get("WEBHOOK_URL", ""),
                                    webhook_key=self.config.get("WEBHOOK_KEY", ""))
        self.lock = threading.RLock()
        self._runs: dict[str, RunRecord] = {}
        self._faults: list[Fault] = []
        self._slowness: list[Slowness] = []
        self._failures: dict[str, Injected] = {}
        self.requests: list[dict[str, Any]] = []
        self._threads: list[threading.Thread] = []
        self._host = host
        self._server = QuietServer((host, port), _handler_for(self))
        self._serve_thread: threading.Thread | None = None
        # When runs start (default: now). A test whose clock runs ahead of the wall clock sets it, so
        # a run's start time and the claim that caused it are on one time line.
        self.clock: Callable[[], datetime] | None = None

    # --- lifecycle ----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._server.server_address[1]}"

    def start(self) -> Self:
        self._serve_thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                             name=self.server_name, daemon=True)
        self._serve_thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        for run in list(self._runs.values()):
            run.cancel_requested.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- knobs --------------------------------------------------------------------------------------

    def fail_next(self, operation: str = "createRun", *, status: int = 500, count: int = 1,
                  when: str = "before", retry_after: float | None = None) -> None:
        """Answer the next ``count`` calls of ``operation`` ("*" for any) with ``status``.

        ``when="after"`` lets the call take effect first: a createRun then creates the run and still
        answers 500, the case a caller must reconcile.
        """
        if operation != "*" and operation not in self.OPERATIONS:
            raise ValueError(f"operation must be '*' or one of {self.OPERATIONS}")
        if when not in ("before", "after") or not 400 <= status <= 599 or count < 1:
            raise ValueError("when is before|after, status a 4xx/5xx, count at least 1")
        with self.lock:
            self._faults.append(Fault(operation, status, count, when, retry_after))

    def slow_next(self, operation: str = "*", *, seconds: float = 1.0, count: int = 1) -> None:
        """Delay the answer (after the call took effect) of the next ``count`` calls of ``operation``."""
        with self.lock:
            self._slowness.append(Slowness(operation, seconds, count))

    def fail_pipeline(self, name: str, message: str = "injected failure", activity: str = "") -> None:
        """Make every run of ``name`` fail in ``activity`` (its first activity when empty)."""
        with self.lock:
            self._failures[name] = Injected(message, activity)

    def heal_pipeline(self, name: str) -> None:
        with self.lock:
            self._failures.pop(name, None)

    def configure(self, **changes: Any) -> RunSettings:
        """Change run settings: queue_delay, run_duration, webhook_url, webhook_key, webhook_timeout."""
        with self.lock:
            self.settings = replace(self.settings, **changes)
            return self.settings

    def reset_faults(self) -> None:
        """Forget pending faults, slowness and injected pipeline failures; runs stay."""
        with self.lock:
            self._faults.clear()
            self._slowness.clear()
            self._failures.clear()

    def reset(self) -> None:
        """``reset_faults`` and forget every run and the request log too."""
        with self.lock:
            self.reset_faults()
            for run in self._runs.values():
                run.cancel_requested.set()
            self._runs.clear()
            self.requests.clear()

    # --- inspection ---------------------------------------------------------------------------------

    def runs(self, batch_id: str | None = None, pipeline: str | None = None) -> list[dict[str, Any]]:
        """Every run (oldest first) in ADF's shape, with its activity runs and its parameters as sent."""
        with self.lock:
            records = sorted(self._runs.values(), key=lambda r: (r.run_start, r.run_id))
            out = [{**r.to_json(), "activities": [a.to_json() for a in r.activities]} for r in records
                   if (batch_id is None or str(r.parameters.get("batchId")) == batch_id)
                   and (pipeline is None or r.pipeline == pipeline)]
        return out

    def calls(self, operation: str) -> int:
        """How many requests for ``operation`` reached the emulator."""
        with self.lock:
            return sum(1 for r in self.requests if r["operation"] == operation)

    def wait_finished(self, run_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """Block until the run has finished; returns its JSON (ADF's shape)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                record = self._runs[run_id]
                if record.status in FINISHED:
                    return {**record.to_json(), "activities": [a.to_json() for a in record.activities]}
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} still {record.status} after {timeout}s")
            time.sleep(0.02)

    # --- for the engines' own operations ------------------------------------------------------------

    @abstractmethod
    def handle(self, method: str, path: str, query: Mapping[str, list[str]], headers: Mapping[str, str],
               body: bytes) -> Answer:
        """Serve one request of the engine's surface."""

    @abstractmethod
    def fault_answer(self, fault: Fault) -> Exception:
        """The engine's error for an injected fault (an exception its ``handle`` turns into an answer)."""

    def with_faults[T](self, operation: str, call: Callable[[], T]) -> T:
        """``call()`` with the pending fault for ``operation`` applied: its error raised before the call,
        or after it (the call took effect and the caller still sees the error)."""
        fault: Fault | None = self._take(self._faults, operation)
        if fault is not None and fault.when == "before":
            raise self.fault_answer(fault)
        result = call()
        if fault is not None:
            raise self.fault_answer(fault)
        return result

    def finish(self, operation: str, answer: Answer, method: str, path: str) -> Answer:
        """Log the request, apply any slowness meant for ``operation``, and return the answer."""
        with self.lock:
            self.requests.append({"method": method, "path": path, "operation": operation,
                                  "status": answer[0], "at": time.time()})
        self._delay(operation)
        return answer

    def start_run(self, name: str, parameters: dict[str, Any]) -> RunRecord:
        """Create a run of a known pipeline and execute it in the background (the caller checked it)."""
        pipeline = self.pipelines[name]
        with self.lock:
            record = RunRecord(str(uuid.uuid4()), name, dict(parameters), self.owner_id)
            if self.clock is not None:
                record.run_start = record.last_updated = self.clock()
            self._runs[record.run_id] = record
            thread = threading.Thread(
                target=execute, name=f"{self.server_name}-run-{record.run_id[:8]}", daemon=True,
                args=(pipeline, record, dict(self.config), self.settings, self.lock, self._failures.get(name)))
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return record

    def find_run(self, run_id: str) -> RunRecord | None:
        with self.lock:
            return self._runs.get(run_id)

    def all_runs(self) -> list[RunRecord]:
        with self.lock:
            return list(self._runs.values())

    def cancel(self, record: RunRecord) -> None:
        with self.lock:
            if record.status in ("Queued", "InProgress"):
                record.cancel_requested.set()
                record.set_status("Canceling")

    def _take(self, queue: list[Any], operation: str) -> Any:
        """Use up one count of the first Fault or Slowness meant for ``operation``."""
        with self.lock:
            for i, item in enumerate(queue):
                if item.operation in ("*", operation):
                    queue[i:i + 1] = [replace(item, count=item.count - 1)] if item.count > 1 else []
                    return item
        return None

    def _delay(self, operation: str) -> None:
        slow: Slowness | None = self._take(self._slowness, operation)
        if slow is not None and slow.seconds > 0:
            time.sleep(slow.seconds)

    # --- admin calls (/_emulator/...) ---------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return {"status": "ok"}

    def admin(self, method: str, path: str, query: Mapping[str, list[str]], body: bytes) -> tuple[int, Any]:
        try:
            payload = json.loads(body) if body.strip() else {}
            if not isinstance(payload, dict):
                return 400, {"error": "the body must be a JSON object"}
            if method == "GET" and path == "/_emulator/health":
                return 200, self.health()
            if method == "GET" and path == "/_emulator/runs":
                batch, pipeline = query.get("batchId", []), query.get("pipeline", [])
                runs = self.runs(batch[-1] if batch else None, pipeline[-1] if pipeline else None)
                return 200, {"value": runs}
            if method == "GET" and path == "/_emulator/requests":
                with self.lock:
                    return 200, {"value": list(self.requests)}
            if method == "POST" and path == "/_emulator/faults":
                retry_after = float(payload["retryAfter"]) if "retryAfter" in payload else None
                self.fail_next(str(payload.get("operation", "createRun")),
                               status=int(payload.get("status", 500)), count=int(payload.get("count", 1)),
                               when=str(payload.get("when", "before")), retry_after=retry_after)
                return 204, None
            if method == "POST" and path == "/_emulator/slow":
                self.slow_next(str(payload.get("operation", "*")), seconds=float(payload.get("seconds", 1)),
                               count=int(payload.get("count", 1)))
                return 204, None
            if method in ("PUT", "PATCH") and path == "/_emulator/settings":
                unknown = sorted(set(payload) - set(SETTING_NAMES) - {"pageSize"})
                if unknown:
                    known = sorted([*SETTING_NAMES, "pageSize"])
                    return 400, {"error": f"unknown settings {unknown}; known: {known}"}
                if "pageSize" in payload:
                    self.page_size = max(1, int(payload["pageSize"]))
                settings = self.configure(**{
                    SETTING_NAMES[k]: str(v) if k in ("webhookUrl", "webhookKey") else float(v)
                    for k, v in payload.items() if k in SETTING_NAMES})
                shown = {**asdict(settings), "webhook_key": "(set)" if settings.webhook_key else ""}
                return 200, {"settings": shown, "pageSize": self.page_size}
            failure = re.match(r"^/_emulator/pipelines/([^/]+)/failure$", path)
            if failure and method == "POST":
                self.fail_pipeline(unquote(failure[1]), str(payload.get("message", "injected failure")),
                                   str(payload.get("activity", "")))
                return 204, None
            if failure and method == "DELETE":
                self.heal_pipeline(unquote(failure[1]))
                return 204, None
            if method == "POST" and path == "/_emulator/reset":
                self.reset()
                return 204, None
            if method == "POST" and path == "/_emulator/reset-faults":
                self.reset_faults()
                return 204, None
            return 404, {"error": f"no admin call {method} {path}"}
        except (ValueError, TypeError) as exc:
            return 400, {"error": str(exc)}


def json_body(body: bytes, error: Callable[[str], Exception]) -> Any:
    """The request's JSON (None when empty); ``error(message)`` is raised for a body that is not JSON."""
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"the request body is not valid JSON: {exc}") from exc


def _handler_for(emulator: EngineEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 15                      # idle keep-alive connections are closed after this
        server_version = emulator.server_name
        wbufsize = -1                     # headers and body leave in one segment: no delayed-ACK stall
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            query = parse_qs(parts.query)
            if parts.path.startswith("/_emulator/"):
                status, answer = emulator.admin(self.command, parts.path, query, body)
                self._reply(status, answer, {})
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                status, answer, extra = emulator.handle(self.command, parts.path, query, headers, body)
            except Exception as exc:  # an emulator bug still answers, and says what broke
                status, answer, extra = 500, {"error": {"code": "InternalServerError", "message": repr(exc)}}, {}
            self._reply(status, answer, extra)

        def _reply(self, status: int, answer: Any, extra: Mapping[str, str]) -> None:
            data = b"" if answer is None or status == 204 else json.dumps(answer).encode()
            self.send_response(status)
            request_id = str(uuid.uuid4())
            self.send_header("x-ms-request-id", request_id)
            self.send_header("x-ms-correlation-request-id", request_id)
            for name, value in extra.items():
                self.send_header(name, value)
            if status != 204:
                if data:
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
            try:
                self.end_headers()
                if data:
                    self.wfile.write(data)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True      # the client gave up waiting (a read timeout): fine

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


# --- a standalone emulator process (python -m sandbox.<engine>_emulator) ---------------------------------


def engine_arguments(prog: str, description: str | None) -> argparse.ArgumentParser:
    """The options every engine emulator's process takes; each adds where its runs live."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--page-size", type=int, default=5)
    parser.add_argument("--run-duration", type=float, default=0.0, help="seconds a run lasts at least")
    return parser


def engine_config(prefix: str) -> dict[str, str]:
    """The pipelines' storage and the Web activity's target (``{prefix}_EMULATOR_WEBHOOK_URL`` / ``_KEY``),
    from the environment, never from requests."""
    return {k: os.environ[e] for k, e in (("DATA_STORAGE", "DATA_STORAGE"),
                                          ("WEBHOOK_URL", f"{prefix}_EMULATOR_WEBHOOK_URL"),
                                          ("WEBHOOK_KEY", f"{prefix}_EMULATOR_WEBHOOK_KEY")) if os.environ.get(e)}


def serve(emulator: EngineEmulator, run_duration: float, announce: Callable[[], Mapping[str, Any]]) -> int:
    """Run ``emulator`` until SIGTERM or Ctrl-C, after printing one JSON line (``announce()``, once it
    listens: its port is picked then) for the process that started it."""
    emulator.configure(run_duration=run_duration)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    emulator.start()
    print(json.dumps(dict(announce())), flush=True)
    stop.wait()
    emulator.stop()
    return 0
