"""A local Azure Data Factory: the ARM REST surface the SDK uses (api-version 2018-06-01), over HTTP.

Runs registered Python pipelines (``sandbox.pipelines``) in background threads, with knobs for 429s,
500s (before or after the run is created), slow answers and failing pipelines. Admin calls live under
``/_emulator/``. In-process: ``ADFEmulator().start()`` … ``.stop()``; standalone:
``python -m sandbox.adf_emulator`` (prints one JSON line with the URL, runs until interrupted).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import unquote

from sandbox.arm_engine import ArmEngineEmulator
from sandbox.engine_emulator import Answer, Fault, Slowness, engine_arguments, engine_config, json_body, serve
from sandbox.local_factory import FACTORY_NAME, RESOURCE_GROUP, SUBSCRIPTION_ID
from sandbox.pipelines.queries import ArmError
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


class ADFEmulator(ArmEngineEmulator):
    """One factory's runs, served over ARM REST. Thread-safe; every knob works in-process and over HTTP."""

    API_VERSION: ClassVar[str] = API_VERSION
    THROTTLED: ClassVar[str] = "The request is being throttled."

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
            self.check_api_version(query)
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

    def _dispatch(self, operation: str, match: re.Match[str], query: Mapping[str, list[str]],
                  body: bytes) -> dict[str, Any] | None:
        payload = json_body(body, lambda m: ArmError(400, "BadRequest", m))
        if operation == "createRun":
            return self.create_run(unquote(match["name"]), payload)
        if operation == "getRun":
            with self.lock:
                return self.run_by_id(unquote(match["run"])).to_json()
        if operation == "queryPipelineRuns":
            return self.query_runs(payload, RunRecord.to_json)
        if operation == "queryActivityruns":
            return self.query_activities(self.run_by_id(unquote(match["run"])), payload)
        self.cancel(self.run_by_id(unquote(match["run"])))
        return None

    def pipeline_not_found(self, name: str) -> str:
        return f"Entity {name} not found"


def main(argv: list[str] | None = None) -> int:
    parser = engine_arguments("python -m sandbox.adf_emulator", __doc__)
    parser.add_argument("--subscription-id", default=SUBSCRIPTION_ID)
    parser.add_argument("--resource-group", default=RESOURCE_GROUP)
    parser.add_argument("--factory", default=FACTORY_NAME)
    args = parser.parse_args(argv)
    emulator = ADFEmulator(config=engine_config("ADF"), subscription_id=args.subscription_id,
                           resource_group=args.resource_group, factory_name=args.factory, host=args.host,
                           port=args.port, page_size=args.page_size)
    return serve(emulator, args.run_duration, lambda: {
        "url": emulator.url, "subscriptionId": args.subscription_id, "resourceGroup": args.resource_group,
        "factory": args.factory})


if __name__ == "__main__":
    raise SystemExit(main())
