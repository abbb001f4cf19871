"""A local Azure Synapse workspace: the pipeline-run surface of the workspace development endpoint
(``https://{workspace}.dev.azuresynapse.net``, api-version 2020-12-01) that azure-synapse-artifacts uses.

createRun (202 + ``{"runId"}``), get run, queryPipelineRuns (by workspace: filters, ordering, paging by
continuationToken), queryActivityruns (by pipeline and run) and cancel, with CloudError bodies. It runs
the same local pipelines (``sandbox.pipelines``) and has the same knobs as the ADF emulator (the shared
``EngineEmulator``). Standalone: ``python -m sandbox.synapse_emulator`` prints one JSON line with its URL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import unquote

from sandbox.arm_engine import ArmEngineEmulator
from sandbox.engine_emulator import Answer, engine_arguments, engine_config, json_body, serve
from sandbox.pipelines.queries import ArmError
from sandbox.pipelines.runtime import Pipeline, PipelineBody, RunRecord

API_VERSION = "2020-12-01"
WORKSPACE_NAME = "syn-autopilot-local"
OPERATIONS = ("createRun", "getRun", "queryPipelineRuns", "queryActivityruns", "cancel")
_ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("POST", re.compile(r"^/pipelines/(?P<name>[^/]+)/createRun$", re.IGNORECASE), "createRun"),
    ("GET", re.compile(r"^/pipelineruns/(?P<run>[^/]+)$", re.IGNORECASE), "getRun"),
    ("POST", re.compile(r"^/queryPipelineRuns$", re.IGNORECASE), "queryPipelineRuns"),
    ("POST", re.compile(r"^/pipelines/(?P<name>[^/]+)/pipelineruns/(?P<run>[^/]+)/queryActivityruns$",
                        re.IGNORECASE), "queryActivityruns"),
    ("POST", re.compile(r"^/pipelineruns/(?P<run>[^/]+)/cancel$", re.IGNORECASE), "cancel"),
)


def synapse_run(record: RunRecord) -> dict[str, Any]:
    """A run as Synapse answers it: ADF's PipelineRun without the ARM resource id."""
    body = record.to_json()
    body.pop("id", None)
    return body


class SynapseEmulator(ArmEngineEmulator):
    """One workspace's pipeline runs over the Synapse dev endpoint. Thread-safe; knobs as ``ADFEmulator``."""

    API_VERSION: ClassVar[str] = API_VERSION
    THROTTLED: ClassVar[str] = "Too many requests. Please retry after some time."

    OPERATIONS: ClassVar[tuple[str, ...]] = OPERATIONS
    server_name: ClassVar[str] = "synapse-emulator"

    def __init__(self, pipelines: Mapping[str, Pipeline | PipelineBody] | None = None, *,
                 config: Mapping[str, str] | None = None, workspace: str = WORKSPACE_NAME,
                 host: str = "127.0.0.1", port: int = 0, page_size: int = 5) -> None:
        self.workspace = workspace
        super().__init__(pipelines, config=config, owner_id=workspace, engine_name=workspace,
                         host=host, port=port, page_size=page_size)

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "workspace": self.workspace}

    def handle(self, method: str, path: str, query: Mapping[str, list[str]], headers: Mapping[str, str],
               body: bytes) -> Answer:
        operation = "unknown"
        try:
            found = None
            for route_method, pattern, name in _ROUTES:
                m = pattern.match(path)
                if m and route_method == method:
                    operation, found = name, m
                    break
            if found is None:
                if any(p.match(path) for _, p, _ in _ROUTES):
                    raise ArmError(405, "MethodNotAllowed", f"The resource does not support http method '{method}'.")
                raise ArmError(404, "NotFound", f"no operation {method} {path} on the workspace endpoint")
            if not headers.get("authorization", "").startswith("Bearer "):
                raise ArmError(401, "Unauthorized", "The request is not authorized: a bearer token for "
                               "https://dev.azuresynapse.net is required.")
            self.check_api_version(query)
            name, params = operation, found
            result = self.with_faults(operation, lambda: self._dispatch(name, params, body))
            # createRun answers 202 Accepted (the SDK accepts nothing else); the others 200.
            answer: Answer = (202 if operation == "createRun" else 200, result, {})
        except ArmError as exc:
            answer = (exc.status, exc.body(), exc.headers)
        return self.finish(operation, answer, method, path)

    def _dispatch(self, operation: str, match: re.Match[str], body: bytes) -> dict[str, Any] | None:
        payload = json_body(body, lambda m: ArmError(400, "BadRequest", m))
        if operation == "createRun":
            return self.create_run(unquote(match["name"]), payload)
        if operation == "getRun":
            return synapse_run(self.run_by_id(unquote(match["run"])))
        if operation == "queryPipelineRuns":
            return self.query_runs(payload, synapse_run)
        if operation == "queryActivityruns":
            record = self.run_by_id(unquote(match["run"]))
            if record.pipeline != unquote(match["name"]):
                raise ArmError(404, "PipelineRunNotFound", f"Pipeline run '{record.run_id}' of pipeline "
                               f"'{unquote(match['name'])}' was not found.")
            return self.query_activities(record, payload)
        self.cancel(self.run_by_id(unquote(match["run"])))
        return None

    def pipeline_not_found(self, name: str) -> str:
        return f"Pipeline '{name}' was not found in workspace '{self.workspace}'."


def main(argv: list[str] | None = None) -> int:
    parser = engine_arguments("python -m sandbox.synapse_emulator", __doc__)
    parser.add_argument("--workspace", default=WORKSPACE_NAME)
    args = parser.parse_args(argv)
    emulator = SynapseEmulator(config=engine_config("SYNAPSE"), workspace=args.workspace, host=args.host,
                               port=args.port, page_size=args.page_size)
    return serve(emulator, args.run_duration, lambda: {"url": emulator.url, "workspace": args.workspace})


if __name__ == "__main__":
    raise SystemExit(main())
