"""What the ADF and Synapse emulators share: both speak the same pipeline-run REST shapes (createRun,
get run, queryPipelineRuns, queryActivityruns, cancel) with CloudError bodies and an api-version, and
differ in where the resource lives and how a few errors are worded."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from sandbox.engine_emulator import EngineEmulator, Fault
from sandbox.pipelines.queries import ACTIVITY_FILTERS, RUN_FILTERS, ArmError, order, page, select, window
from sandbox.pipelines.runtime import RunRecord

__all__ = ["ArmEngineEmulator"]


class ArmEngineEmulator(EngineEmulator):
    """An engine served with CloudError bodies: subclasses set ``API_VERSION`` and ``THROTTLED`` (the
    429 message) and say how a missing pipeline is worded (``pipeline_not_found``)."""

    API_VERSION: ClassVar[str]
    THROTTLED: ClassVar[str]

    def pipeline_not_found(self, name: str) -> str:
        return f"Pipeline '{name}' was not found."

    def check_api_version(self, query: Mapping[str, list[str]]) -> None:
        versions = query.get("api-version")
        if not versions:
            raise ArmError(400, "MissingApiVersionParameter",
                           "The api-version query parameter (?api-version=) is required for all requests.")
        if versions[-1] != self.API_VERSION:
            raise ArmError(400, "InvalidApiVersionParameter",
                           f"The api-version '{versions[-1]}' is invalid. The supported version is "
                           f"'{self.API_VERSION}'.")

    def fault_answer(self, fault: Fault) -> ArmError:
        headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
        if fault.status == 429:
            return ArmError(429, "TooManyRequests", self.THROTTLED, headers)
        if fault.status >= 500:
            return ArmError(fault.status, "InternalServerError", "An internal server error occurred.", headers)
        return ArmError(fault.status, "BadRequest", "The emulator was told to reject this request.", headers)

    def run_by_id(self, run_id: str) -> RunRecord:
        try:
            uuid.UUID(run_id)
        except ValueError as exc:
            raise ArmError(400, "BadRequest", f"The run id '{run_id}' is not a valid GUID.") from exc
        record = self.find_run(run_id)
        if record is None:
            raise ArmError(404, "PipelineRunNotFound", f"Pipeline run '{run_id}' was not found.")
        return record

    def create_run(self, name: str, payload: Any) -> dict[str, Any]:
        pipeline = self.pipelines.get(name)
        if pipeline is None:
            raise ArmError(404, "PipelineNotFound", self.pipeline_not_found(name))
        parameters = {} if payload is None else payload
        if not isinstance(parameters, dict):
            raise ArmError(400, "BadRequest", "the createRun body must be a JSON object of parameters")
        missing = [p for p in pipeline.required if p not in parameters]
        if missing:
            raise ArmError(400, "BadRequest", f"Missing value for required pipeline parameter(s) "
                           f"{', '.join(missing)} of pipeline {name}.")
        return {"runId": self.start_run(name, parameters).run_id}

    def query_runs(self, payload: Any, shown: Callable[[RunRecord], dict[str, Any]]) -> dict[str, Any]:
        """queryPipelineRuns: the runs updated in the payload's window, filtered, ordered, paged."""
        payload, after, before = window(payload)
        with self.lock:
            items = [shown(r) for r in self.all_runs() if after <= r.last_updated <= before]
        chosen = order(select(items, payload.get("filters"), RUN_FILTERS), payload.get("orderBy"))
        return page(chosen, payload, self.page_size)

    def query_activities(self, record: RunRecord, payload: Any) -> dict[str, Any]:
        """queryActivityruns of one run, as ``query_runs`` does for runs."""
        payload, after, before = window(payload)
        with self.lock:
            items = [a.to_json() for a in record.activities if after <= a.last_updated <= before]
        chosen = order(select(items, payload.get("filters"), ACTIVITY_FILTERS), payload.get("orderBy"))
        return page(chosen, payload, self.page_size)
