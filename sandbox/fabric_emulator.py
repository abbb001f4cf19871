"""A local Microsoft Fabric workspace: the REST job scheduler for Data pipeline items
(``https://api.fabric.microsoft.com/v1``), over HTTP.

Run On Demand Item Job (``POST …/items/{itemId}/jobs/instances?jobType=Pipeline`` or
``…/jobs/Pipeline/instances``, body ``{"executionData": {"parameters": {...}}}``) answers 202 with
Location and Retry-After; Get Item Job Instance; List Item Job Instances (newest first, paged by
continuationToken / continuationUri, keeping the most recent ``retention`` finished instances as the
service does); Cancel Item Job Instance. Errors are Fabric's flat ``{"errorCode", "message",
"requestId"}`` bodies; 429 carries Retry-After. Like the service, a job instance never shows the
parameters it was started with. It runs the same local pipelines (``sandbox.pipelines``), one item per
pipeline name, with the knobs of the shared ``EngineEmulator``. Standalone:
``python -m sandbox.fabric_emulator`` prints one JSON line with its URL, workspace and item ids.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote

from sandbox.engine_emulator import Answer, EngineEmulator, Fault, engine_arguments, engine_config, json_body, serve
from sandbox.pipelines.runtime import FINISHED, Pipeline, PipelineBody, RunRecord, adf_time

WORKSPACE_ID = "7d0c4f1e-5a39-4b8e-9c21-3f6a0d5e8b47"
JOB_TYPE = "Pipeline"
POLL_AFTER = "60"                      # the Retry-After Fabric sends with a 202: seconds before the first poll
OPERATIONS = ("createRun", "getRun", "listRuns", "cancel")
# Fabric's job statuses for the runtime's ADF-style ones (Canceling has no Fabric spelling yet).
STATUS = {"Queued": "NotStarted", "InProgress": "InProgress", "Canceling": "InProgress",
          "Succeeded": "Completed", "Failed": "Failed", "Cancelled": "Cancelled"}
_ITEM = re.compile(r"^/v1/workspaces/(?P<ws>[^/]+)/items/(?P<item>[^/]+)/jobs(?P<rest>/.*)$", re.IGNORECASE)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def item_id_for(pipeline: str) -> str:
    """The (stable) item id the emulator gives the Data pipeline named ``pipeline``."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"fabric-emulator/datapipeline/{pipeline}"))


def fabric_time(value: Any) -> str | None:
    """Fabric's job timestamps: UTC with seven fractional digits and no zone designator."""
    text = adf_time(value)
    return None if text is None else text.rstrip("Z")


class FabricError(Exception):
    """A Fabric error answer: status plus the flat ``{"errorCode", "message", "requestId"}`` body."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.headers = status, code, dict(headers or {})
        self.request_id = str(uuid.uuid4())

    def answer(self) -> Answer:
        body = {"errorCode": self.code, "message": str(self), "requestId": self.request_id}
        return self.status, body, {**self.headers, "RequestId": self.request_id}


class FabricEmulator(EngineEmulator):
    """One workspace's Data pipeline items and their job instances. Thread-safe; knobs as ``ADFEmulator``
    with the operations createRun (run on demand), getRun, listRuns and cancel."""

    OPERATIONS: ClassVar[tuple[str, ...]] = OPERATIONS
    server_name: ClassVar[str] = "fabric-emulator"

    def __init__(self, pipelines: Mapping[str, Pipeline | PipelineBody] | None = None, *,
                 config: Mapping[str, str] | None = None, workspace_id: str = WORKSPACE_ID,
                 host: str = "127.0.0.1", port: int = 0, page_size: int = 5, retention: int = 100) -> None:
        self.workspace_id = workspace_id
        self.retention = retention
        super().__init__(pipelines, config=config, owner_id=workspace_id, engine_name=workspace_id,
                         host=host, port=port, page_size=page_size)

    @property
    def items(self) -> dict[str, str]:
        """Pipeline name → item id."""
        return {name: item_id_for(name) for name in self.pipelines}

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "workspaceId": self.workspace_id, "items": self.items}

    def job_instance(self, record: RunRecord) -> dict[str, Any]:
        """A run as Fabric's ItemJobInstance."""
        failure = None
        if record.status == "Failed":
            failure = {"errorCode": "JobInstanceStatusFailed", "message": record.message or "The job failed.",
                       "requestId": str(uuid.uuid5(uuid.NAMESPACE_URL, record.run_id))}
        return {"id": record.run_id, "itemId": item_id_for(record.pipeline), "jobType": JOB_TYPE,
                "invokeType": "Manual", "status": STATUS.get(record.status, "InProgress"),
                "rootActivityId": str(uuid.uuid5(uuid.NAMESPACE_OID, record.run_id)),
                "startTimeUtc": fabric_time(record.run_start), "endTimeUtc": fabric_time(record.run_end),
                "failureReason": failure}

    # --- the REST surface ---------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: Mapping[str, list[str]], headers: Mapping[str, str],
               body: bytes) -> Answer:
        operation = "unknown"
        try:
            match = _ITEM.match(path)
            if match is None:
                raise FabricError(404, "EntityNotFound", f"no API at {path}")
            rest, job_type = match["rest"], None
            create = re.match(r"^(?:/(?P<type>[^/]+))?/instances$", rest)
            if method == "POST" and create:
                operation = "createRun"
                job_type = create["type"] or (query.get("jobType") or [""])[-1]
            elif method == "GET" and rest == "/instances":
                operation = "listRuns"
            elif method == "GET" and re.match(r"^/instances/[^/]+$", rest):
                operation = "getRun"
            elif method == "POST" and re.match(r"^/instances/[^/]+/cancel$", rest):
                operation = "cancel"
            else:
                raise FabricError(404, "EntityNotFound", f"no operation {method} {rest} on item jobs")
            if not headers.get("authorization", "").startswith("Bearer "):
                raise FabricError(401, "TokenNotProvided", "Token not provided in the request header.")
            if match["ws"].lower() != self.workspace_id.lower():
                raise FabricError(404, "WorkspaceNotFound", "The requested workspace was not found.")
            name = self._pipeline_of(match["item"])
            op = operation
            answer = self.with_faults(operation, lambda: self._dispatch(op, name, rest, job_type, query, body))
        except FabricError as exc:
            answer = exc.answer()
        return self.finish(operation, answer, method, path)

    def fault_answer(self, fault: Fault) -> FabricError:
        headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
        if fault.status == 429:
            return FabricError(429, "RequestBlocked", "The service rate limit was exceeded. Retry after the time "
                               "given in the Retry-After header.", headers)
        if fault.status >= 500:
            return FabricError(fault.status, "InternalServerError", "An internal error occurred.", headers)
        return FabricError(fault.status, "InvalidRequest", "The emulator was told to reject this request.", headers)

    def _pipeline_of(self, item_id: str) -> str:
        for name, known in self.items.items():
            if known.lower() == item_id.lower():
                return name
        raise FabricError(404, "ItemNotFound", "The requested item was not found.")

    def _location(self, name: str, run_id: str) -> str:
        return f"{self.url}/v1/workspaces/{self.workspace_id}/items/{item_id_for(name)}/jobs/instances/{run_id}"

    def _dispatch(self, operation: str, name: str, rest: str, job_type: str | None,
                  query: Mapping[str, list[str]], body: bytes) -> Answer:
        if operation == "createRun":
            return self._run_on_demand(name, job_type or "", json_body(body, _invalid))
        if operation == "listRuns":
            return 200, self._list(name, (query.get("continuationToken") or [""])[-1]), {}
        record = self._instance(name, rest.split("/")[2])
        if operation == "getRun":
            with self.lock:
                return 200, self.job_instance(record), {}
        self.cancel(record)
        return 202, None, {"Location": self._location(name, record.run_id), "Retry-After": POLL_AFTER}

    def _run_on_demand(self, name: str, job_type: str, payload: Any) -> Answer:
        if job_type.lower() != JOB_TYPE.lower():
            raise FabricError(400, "InvalidJobType", "The requested job type is invalid.")
        payload = {} if payload is None else payload
        if not isinstance(payload, dict):
            raise FabricError(400, "InvalidRequest", "The request body must be a JSON object.")
        execution = payload.get("executionData") or {}
        parameters = execution.get("parameters") if isinstance(execution, dict) else None
        if parameters is None and isinstance(payload.get("parameters"), list):   # the newer name/type/value list
            parameters = {str(p.get("name")): p.get("value") for p in payload["parameters"] if isinstance(p, dict)}
        parameters = {} if parameters is None else parameters
        if not isinstance(parameters, dict):
            raise FabricError(400, "InvalidRequest", "executionData.parameters must be a JSON object.")
        missing = [p for p in self.pipelines[name].required if p not in parameters]
        if missing:
            raise FabricError(400, "InvalidParameter", f"Missing value for required pipeline parameter(s) "
                              f"{', '.join(missing)}.")
        record = self.start_run(name, parameters)
        return 202, None, {"Location": self._location(name, record.run_id), "Retry-After": POLL_AFTER}

    def _instance(self, name: str, run_id: str) -> RunRecord:
        record = self.find_run(run_id) if _GUID.match(run_id) else None
        if record is None or record.pipeline != name:
            raise FabricError(404, "JobInstanceNotFound", "The requested job instance was not found.")
        return record

    def _list(self, name: str, token: str) -> dict[str, Any]:
        with self.lock:
            records = sorted((r for r in self.all_runs() if r.pipeline == name),
                             key=lambda r: (r.run_start, r.run_id), reverse=True)
            finished = [r for r in records if r.status in FINISHED][:self.retention]
            kept = [r for r in records if r.status not in FINISHED or r in finished]
            instances = [self.job_instance(r) for r in kept]
        start = _offset(token)
        end = start + self.page_size
        out: dict[str, Any] = {"value": instances[start:end]}
        if end < len(instances):
            next_token = base64.urlsafe_b64encode(json.dumps({"o": end}).encode()).decode()
            out["continuationToken"] = next_token
            out["continuationUri"] = (f"{self.url}/v1/workspaces/{self.workspace_id}/items/{item_id_for(name)}"
                                      f"/jobs/instances?continuationToken={quote(next_token)}")
        return out


def _invalid(message: str) -> FabricError:
    return FabricError(400, "InvalidRequest", message)


def _offset(token: str) -> int:
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        if isinstance(data["o"], int) and data["o"] >= 0:
            return int(data["o"])
    except (ValueError, KeyError, TypeError):
        pass
    raise FabricError(400, "InvalidContinuationToken", "The continuation token is not valid.")


def main(argv: list[str] | None = None) -> int:
    parser = engine_arguments("python -m sandbox.fabric_emulator", __doc__)
    parser.add_argument("--workspace-id", default=WORKSPACE_ID)
    args = parser.parse_args(argv)
    emulator = FabricEmulator(config=engine_config("FABRIC"), workspace_id=args.workspace_id, host=args.host,
                              port=args.port, page_size=args.page_size)
    return serve(emulator, args.run_duration, lambda: {
        "url": f"{emulator.url}/v1", "workspaceId": args.workspace_id, "items": emulator.items})


if __name__ == "__main__":
    raise SystemExit(main())
