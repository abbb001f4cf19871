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
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import unquote

from sandbox.engine_emulator import Answer, EngineEmulator, Fault, Slowness, json_body
from sandbox.local_factory import FACTORY_NAME, RESOURCE_GROUP, SUBSCRIPTION_ID
from sandbox.pipelines.queries import ACTIVITY_FILTERS, RUN_FILTERS, ArmError, order, page, select, window
from sandbox.pipelines.runtime import Pipeline, PipelineBody, RunRecord

__all__ = ["ADFEmulator", "Fault", "Slowness", "main"]

API_VERSION = "2018-06-01"
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


class ADFEmulator(EngineEmulator):
    """One factory's runs, served over ARM REST. Thread-safe; every knob works in-process and over HTTP."""

    OPERATIONS: ClassVar[tuple[str, ...]] = OPERATIONS
    server_name: ClassVar[str] = "adf-emulator"

    def __init__(self, pipelines: Mapping[str, Pipeline | PipelineBody] | None = None, *,
                 config: Mapping[str, str] | None = None,
                 subscription_id: str = SUBSCRIPTION_ID, resource_group: str = RESOURCE_GROUP,
                 factory_name: str = FACTORY_NAME,
                 host: str = "127.0.0.1", port: int = 0, page_size: int = 5) -> None:
        self.subscription_id, self.resource_group = subscription_id, resource_group
        self.factory_name = factory_name
        super().__init__(pipelines, config=config, owner_id=self.factory_id, engine_name=factory_name,
                         host=host, port=port, page_size=page_size)

    @property
    def factory_id(self) -> str:
        return (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.DataFactory/factories/{self.factory_name}")

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "factoryId": self.factory_id}

    # --- the ARM operations -------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: Mapping[str, list[str]], headers: Mapping[str, str],
               body: bytes) -> Answer:
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
            name, params = operation, found
            result = self.with_faults(operation, lambda: self._dispatch(name, params, query, body))
            answer: Answer = (200, result, {})
        except ArmError as exc:
            answer = (exc.status, exc.body(), exc.headers)
        return self.finish(operation, answer, method, path)

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

    def fault_answer(self, fault: Fault) -> ArmError:
        headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
        if fault.status == 429:
            return ArmError(429, "TooManyRequests", "The request is being throttled.", headers)
        if fault.status >= 500:
            return ArmError(fault.status, "InternalServerError", "An internal server error occurred.",
                            headers)
        return ArmError(fault.status, "BadRequest", "The emulator was told to reject this request.", headers)

    def _dispatch(self, operation: str, match: re.Match[str], query: Mapping[str, list[str]],
                  body: bytes) -> dict[str, Any] | None:
        payload = json_body(body, lambda m: ArmError(400, "BadRequest", m))
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
        record = self.find_run(run_id)
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
        return {"runId": self.start_run(name, parameters).run_id}

    def _query_runs(self, payload: Any) -> dict[str, Any]:
        payload, after, before = window(payload)
        with self.lock:
            items = [r.to_json() for r in self.all_runs() if after <= r.last_updated <= before]
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
            self.cancel(self._run(run_id))


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
