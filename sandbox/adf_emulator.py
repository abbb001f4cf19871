"""A local Azure Data Factory: the ARM REST surface the SDK uses (api-version 2018-06-01), over HTTP.

Runs registered Python pipelines (``sandbox.pipelines``) in background threads, with knobs for 429s,
500s (before or after the run is created), slow answers and failing pipelines. Admin calls live under
``/_emulator/``. In-process: ``ADFEmulator().start()`` … ``.stop()``; standalone:
``python -m sandbox.adf_emulator`` (prints one JSON line with the URL, runs until interrupted).
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
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sandbox.local_factory import FACTORY_NAME, RESOURCE_GROUP, SUBSCRIPTION_ID
from sandbox.local_server import QuietServer
from sandbox.pipelines.queries import ACTIVITY_FILTERS, RUN_FILTERS, ArmError, order, page, select, window
from sandbox.pipelines.runtime import Injected, Pipeline, PipelineBody, RunRecord, RunSettings, execute

API_VERSION = "2018-06-01"
_SETTING_NAMES = {"queueDelay": "queue_delay", "runDuration": "run_duration", "webhookUrl": "webhook_url",
                  "webhookKey": "webhook_key", "webhookTimeout": "webhook_timeout"}
OPERATIONS = ("createRun", "getRun", "queryPipelineRuns", "queryActivityruns", "cancel")
_FACTORY = re.compile(r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/"
                      r"microsoft\.datafactory/factories/(?P<factory>[^/]+)(?P<rest>/.*)$", re.IGNORECASE)
_ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("POST", re.compile(r"^/pipelines/(?P<name>[^/]+)/createRun$", re.IGNORECASE), "createRun"),
    ("GET", re.compile(r"^/pipelineruns/(?P<run>[^/]+)$", re.IGNORECASE), "getRun"),
    ("POST", re.compile(r"^/queryPipelineRuns$", re.IGNORECASE), "queryPipelineRuns"),
    ("POST", re.compile(r"^/pipelineruns/(?P<run>[^/]+)/queryActivityruns$", re.IGNORECASE),
     "queryActivityruns"),
    ("POST", re.compile(r"^/pipelineruns/(?P<run>[^/]+)/cancel$", re.IGNORECASE), "cancel"),
)


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


class ADFEmulator:
    """One factory's runs, served over ARM REST. Thread-safe; every knob works in-process and over HTTP."""

    def __init__(self, pipelines: Mapping[str, Pipeline | PipelineBody] | None = None, *,
                 config: Mapping[str, str] | None = None,
                 subscription_id: str = SUBSCRIPTION_ID, resource_group: str = RESOURCE_GROUP,
                 factory_name: str = FACTORY_NAME,
                 host: str = "127.0.0.1", port: int = 0, page_size: int = 5) -> None:
        if pipelines is None:
            from sandbox.pipelines import PIPELINES
            pipelines = PIPELINES
        self.pipelines = {name: p if isinstance(p, Pipeline) else Pipeline(name, p)
                          for name, p in pipelines.items()}
        self.config = dict(config or {})
        self.subscription_id, self.resource_group = subscription_id, resource_group
        self.factory_name = factory_name
        self.page_size = page_size
        self.settings = RunSettings(factory_name=factory_name, webhook_url=self.config.get("WEBHOOK_URL", ""),
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

    # --- lifecycle ----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._server.server_address[1]}"

    @property
    def factory_id(self) -> str:
        return (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.DataFactory/factories/{self.factory_name}")

    def start(self) -> ADFEmulator:
        self._serve_thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                             name="adf-emulator", daemon=True)
        self._serve_thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        for run in list(self._runs.values()):
            run.cancel_requested.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> ADFEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- knobs --------------------------------------------------------------------------------------

    def fail_next(self, operation: str = "createRun", *, status: int = 500, count: int = 1,
                  when: str = "before",
                  retry_after: float | None = None) -> None:
        """Answer the next ``count`` calls of ``operation`` ("*" for any) with ``status``.

        ``when="after"`` lets the call take effect first: a createRun then creates the run and still
        answers 500, the case a caller must reconcile.
        """
        if operation != "*" and operation not in OPERATIONS:
            raise ValueError(f"operation must be '*' or one of {OPERATIONS}")
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
        """Every run (oldest first), with its activity runs; optionally one batch's or one pipeline's."""
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
        """Block until the run has finished; returns its JSON."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                record = self._runs[run_id]
                if record.status in ("Succeeded", "Failed", "Cancelled"):
                    return {**record.to_json(), "activities": [a.to_json() for a in record.activities]}
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} still {record.status} after {timeout}s")
            time.sleep(0.02)

    # --- the ARM operations -------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: Mapping[str, list[str]], headers: Mapping[str, str],
               body: bytes) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        """Serve one ARM request; returns (status, JSON body, extra headers)."""
        operation = "unknown"
        try:
            match = _FACTORY.match(path)
            if match is None:
                raise ArmError(404, "NotFound", f"no ARM resource at {path}")
            rest, found = match["rest"], None
            for route_method, pattern, name in _ROUTES:
                m = pattern.match(rest)
                if m and route_method == method:
                    operation, found = name, m
                    break
            if found is None:
                if any(p.match(rest) for _, p, _ in _ROUTES):
                    raise ArmError(405, "MethodNotAllowed",
                                   f"The resource does not support http method '{method}'.")
                raise ArmError(404, "NotFound", f"no operation {method} {rest} in the emulator")
            if not headers.get("authorization", "").startswith("Bearer "):
                raise ArmError(401, "AuthenticationFailed",
                               "Authentication failed. The 'Authorization' header is missing or is not "
                               "a bearer token.")
            self._check_factory(match["sub"], match["rg"], match["factory"])
            self._check_api_version(query)
            fault: Fault | None = self._take(self._faults, operation)
            if fault is not None and fault.when == "before":
                raise self._fault_error(fault)
            result = self._dispatch(operation, found, query, body)
            if fault is not None:
                raise self._fault_error(fault)
            answer: tuple[int, dict[str, Any] | None, dict[str, str]] = (200, result, {})
        except ArmError as exc:
            answer = (exc.status, exc.body(), exc.headers)
        with self.lock:
            self.requests.append({"method": method, "path": path, "operation": operation,
                                  "status": answer[0], "at": time.time()})
        self._delay(operation)
        return answer

    def _check_factory(self, sub: str, rg: str, factory: str) -> None:
        if (sub.lower(), rg.lower(), factory.lower()) != (
                self.subscription_id.lower(), self.resource_group.lower(), self.factory_name.lower()):
            raise ArmError(404, "ResourceNotFound",
                           f"The Resource 'Microsoft.DataFactory/factories/{factory}' under resource group "
                           f"'{rg}' was not found.")

    @staticmethod
    def _check_api_version(query: Mapping[str, list[str]]) -> None:
        versions = query.get("api-version")
        if not versions:
            raise ArmError(400, "MissingApiVersionParameter",
                           "The api-version query parameter (?api-version=) is required for all requests.")
        if versions[-1] != API_VERSION:
            raise ArmError(400, "InvalidApiVersionParameter",
                           f"The api-version '{versions[-1]}' is invalid. "
                           f"The supported version is '{API_VERSION}'.")

    def _take(self, queue: list[Any], operation: str) -> Any:
        """Use up one count of the first Fault or Slowness meant for ``operation``."""
        with self.lock:
            for i, item in enumerate(queue):
                if item.operation in ("*", operation):
                    queue[i:i + 1] = [replace(item, count=item.count - 1)] if item.count > 1 else []
                    return item
        return None

    @staticmethod
    def _fault_error(fault: Fault) -> ArmError:
        headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
        if fault.status == 429:
            return ArmError(429, "TooManyRequests", "The request is being throttled.", headers)
        if fault.status >= 500:
            return ArmError(fault.status, "InternalServerError", "An internal server error occurred.",
                            headers)
        return ArmError(fault.status, "BadRequest", "The emulator was told to reject this request.", headers)

    def _delay(self, operation: str) -> None:
        slow: Slowness | None = self._take(self._slowness, operation)
        if slow is not None and slow.seconds > 0:
            time.sleep(slow.seconds)

    def _dispatch(self, operation: str, match: re.Match[str], query: Mapping[str, list[str]],
                  body: bytes) -> dict[str, Any] | None:
        payload = _json_body(body)
        if operation == "createRun":
            return self._create_run(unquote(match["name"]), payload)
        if operation == "getRun":
            with self.lock:
                return self._run(unquote(match["run"])).to_json()
        if operation == "queryPipelineRuns":
            return self._query_runs(payload)
        if operation == "queryActivityruns":
            return self._query_activities(unquote(match["run"]), payload)
        self._cancel(unquote(match["run"]))
        return None

    def _run(self, run_id: str) -> RunRecord:
        try:
            uuid.UUID(run_id)
        except ValueError as exc:
            raise ArmError(400, "BadRequest", f"The run id '{run_id}' is not a valid GUID.") from exc
        record = self._runs.get(run_id)
        if record is None:
            raise ArmError(404, "PipelineRunNotFound", f"Pipeline run '{run_id}' was not found.")
        return record

    def _create_run(self, name: str, payload: Any) -> dict[str, Any]:
        pipeline = self.pipelines.get(name)
        if pipeline is None:
            raise ArmError(404, "PipelineNotFound", f"Entity {name} not found")
        parameters = {} if payload is None else payload
        if not isinstance(parameters, dict):
            raise ArmError(400, "BadRequest", "the createRun body must be a JSON object of parameters")
        missing = [p for p in pipeline.required if p not in parameters]
        if missing:
            raise ArmError(400, "BadRequest", f"Missing value for required pipeline parameter(s) "
                           f"{', '.join(missing)} of pipeline {name}.")
        with self.lock:
            record = RunRecord(str(uuid.uuid4()), name, dict(parameters), self.factory_id)
            self._runs[record.run_id] = record
            thread = threading.Thread(
                target=execute, name=f"adf-run-{record.run_id[:8]}", daemon=True,
                args=(pipeline, record, dict(self.config), self.settings, self.lock,
                      self._failures.get(name)))
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return {"runId": record.run_id}

    def _query_runs(self, payload: Any) -> dict[str, Any]:
        payload, after, before = window(payload)
        with self.lock:
            items = [r.to_json() for r in self._runs.values() if after <= r.last_updated <= before]
        chosen = order(select(items, payload.get("filters"), RUN_FILTERS), payload.get("orderBy"))
        return page(chosen, payload, self.page_size)

    def _query_activities(self, run_id: str, payload: Any) -> dict[str, Any]:
        payload, after, before = window(payload)
        with self.lock:
            record = self._run(run_id)
            items = [a.to_json() for a in record.activities if after <= a.last_updated <= before]
        chosen = order(select(items, payload.get("filters"), ACTIVITY_FILTERS), payload.get("orderBy"))
        return page(chosen, payload, self.page_size)

    def _cancel(self, run_id: str) -> None:
        with self.lock:
            record = self._run(run_id)
            if record.status in ("Queued", "InProgress"):
                record.cancel_requested.set()
                record.set_status("Canceling")

    # --- admin calls (/_emulator/...) ---------------------------------------------------------------

    def admin(self, method: str, path: str, query: Mapping[str, list[str]], body: bytes) -> tuple[int, Any]:
        try:
            payload = _json_body(body) or {}
            if not isinstance(payload, dict):
                return 400, {"error": "the body must be a JSON object"}
            if method == "GET" and path == "/_emulator/health":
                return 200, {"status": "ok", "factoryId": self.factory_id}
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
                unknown = sorted(set(payload) - set(_SETTING_NAMES) - {"pageSize"})
                if unknown:
                    known = sorted([*_SETTING_NAMES, "pageSize"])
                    return 400, {"error": f"unknown settings {unknown}; known: {known}"}
                if "pageSize" in payload:
                    self.page_size = max(1, int(payload["pageSize"]))
                settings = self.configure(**{
                    _SETTING_NAMES[k]: str(v) if k in ("webhookUrl", "webhookKey") else float(v)
                    for k, v in payload.items() if k in _SETTING_NAMES})
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


def _json_body(body: bytes) -> Any:
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArmError(400, "BadRequest", f"the request body is not valid JSON: {exc}") from exc


def _handler_for(emulator: ADFEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 15                      # idle keep-alive connections are closed after this
        server_version = "adf-emulator"
        wbufsize = -1                     # headers and body leave in one segment: no delayed-ACK stall
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            query = parse_qs(parts.query)
            if parts.path.startswith("/_emulator/"):
                try:
                    status, answer = emulator.admin(self.command, parts.path, query, body)
                except ArmError as exc:
                    status, answer = exc.status, {"error": str(exc)}
                self._reply(status, answer, {})
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                status, answer, extra = emulator.handle(self.command, parts.path, query, headers, body)
            except Exception as exc:  # an emulator bug still answers like ARM, and says what broke
                status, answer, extra = 500, ArmError(500, "InternalServerError", repr(exc)).body(), {}
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.adf_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--subscription-id", default=SUBSCRIPTION_ID)
    parser.add_argument("--resource-group", default=RESOURCE_GROUP)
    parser.add_argument("--factory", default=FACTORY_NAME)
    parser.add_argument("--page-size", type=int, default=5)
    parser.add_argument("--run-duration", type=float, default=0.0, help="seconds a run lasts at least")
    args = parser.parse_args(argv)
    # The pipelines' storage and the Web activity's target come from the environment, never from requests.
    config = {k: os.environ[e] for k, e in (("DATA_STORAGE", "DATA_STORAGE"),
                                            ("WEBHOOK_URL", "ADF_EMULATOR_WEBHOOK_URL"),
                                            ("WEBHOOK_KEY", "ADF_EMULATOR_WEBHOOK_KEY")) if os.environ.get(e)}
    emulator = ADFEmulator(config=config, subscription_id=args.subscription_id,
                           resource_group=args.resource_group, factory_name=args.factory, host=args.host,
                           port=args.port, page_size=args.page_size)
    emulator.configure(run_duration=args.run_duration)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    emulator.start()
    print(json.dumps({"url": emulator.url, "subscriptionId": args.subscription_id,
                      "resourceGroup": args.resource_group, "factory": args.factory}), flush=True)
    stop.wait()
    emulator.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
