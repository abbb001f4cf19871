"""Azure Data Factory as the app's ``PipelineRunner``: start, read, query and cancel pipeline runs.

Exactly once starts here: createRun is retried only when the factory surely did not act on it (429,
or a connection that failed before the request was sent). A 5xx or a lost answer may hide a run that
exists, so it raises ``Unavailable`` and the caller reconciles by querying runs. Reads retry on 429
and 5xx, honouring Retry-After within a bounded wait. The Azure SDK is imported lazily.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from shared.adapters import pipeline_sdk
from shared.adapters.http import NoCredential, default_credential, emulator_auth_policy, is_local_emulator
from shared.adapters.pipeline_sdk import activity, activity_window, to_run, utc
from shared.connections import FactoryRef
from shared.core.models import PipelineRun
from shared.errors import ConfigError, Unavailable

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.mgmt.datafactory import DataFactoryManagementClient

log = logging.getLogger(__name__)



class DataFactoryRunner(pipeline_sdk.SdkRunner["DataFactoryManagementClient"]):
    """Runs pipelines of one factory. Thread-safe; the SDK client is built on first use.

    ``retries``, ``backoff``, ``max_backoff`` and ``max_wait`` (the most one call sleeps in total,
    Retry-After included) are knobs so tests can make them small.
    """

    SERVICE = "Data Factory"
    log = log

    def __init__(self, factory: FactoryRef, *, credential: TokenCredential | None = None, retries: int = 3,
                 backoff: float = 1.0, max_backoff: float = 30.0, max_wait: float = 60.0,
                 connect_timeout: float = 10.0, read_timeout: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        endpoint = factory.endpoint.rstrip("/")
        if urlsplit(endpoint).scheme != "https" and not is_local_emulator(endpoint):
            raise ConfigError([f"ADF_ENDPOINT: {endpoint!r} must be an https URL (plain http is allowed "
                               "only for a local emulator on 127.0.0.1 or localhost)"], "app settings")
        super().__init__(endpoint, credential, retries=retries, backoff=backoff, max_backoff=max_backoff,
                         max_wait=max_wait, connect_timeout=connect_timeout, read_timeout=read_timeout, sleep=sleep)
        self._factory = factory

    @classmethod
    def for_factory(cls, factory: FactoryRef) -> DataFactoryRunner:
        """The runner with the factory's own request timeout and retry wait (app settings)."""
        return cls(factory, connect_timeout=min(10.0, factory.request_timeout), read_timeout=factory.request_timeout,
                   max_wait=factory.retry_wait)

    # --- the port -----------------------------------------------------------------------------------

    def start_run(self, pipeline: str, parameters: Mapping[str, Any], *,
                  before_retry: Callable[[], None] | None = None) -> str:
        """createRun. Raises Rejected, Throttled or Unavailable (the run may then exist: reconcile)."""
        body = pipeline_sdk.json_parameters(pipeline, parameters)
        client = self._get_client()
        f = self._factory
        response = self._call(f"createRun {pipeline}", client.pipelines.create_run, f.resource_group,
                              f.factory_name, pipeline, parameters=body, safe=False, before_retry=before_retry)
        run_id = str(response.run_id or "")
        if not run_id:
            raise Unavailable(f"createRun {pipeline} answered without a run id; the run may exist")
        # The use case logs "pipeline run started" with the dataset and batch an operator looks for.
        log.debug("createRun answered", extra={"pipeline": pipeline, "run_id": run_id})
        return run_id

    @property
    def worst_case_start_seconds(self) -> float:
        """The longest one start_run can take, retries included (CLAIM_TIMEOUT must exceed it)."""
        return self._budget.worst_case_seconds(self._connect_timeout + self._read_timeout)

    def get_run(self, run_id: str) -> PipelineRun:
        """One run. Raises NotFound when the factory does not know it."""
        client = self._get_client()
        f = self._factory
        run = self._call(f"get run {run_id}", client.pipeline_runs.get, f.resource_group, f.factory_name,
                         run_id, safe=True)
        return to_run(run)

    def query_runs(self, pipeline: str, since: datetime, until: datetime) -> list[PipelineRun]:
        """Runs of ``pipeline`` last updated in [since, until], every page, each run once."""
        from azure.mgmt.datafactory.models import RunFilterParameters, RunQueryFilter

        client = self._get_client()
        f = self._factory

        def page(token: str | None, **timeouts: Any) -> Any:
            query = RunFilterParameters(
                last_updated_after=utc(since), last_updated_before=utc(until), continuation_token=token,
                filters=[RunQueryFilter(operand="PipelineName", operator="Equals", values_property=[pipeline])])
            return client.pipeline_runs.query_by_factory(f.resource_group, f.factory_name, query, **timeouts)

        # A run that moved between pages keeps its newest view.
        runs = {run.run_id: run for run in map(to_run, self._all_pages(f"query runs of {pipeline}", page))}
        return list(runs.values())

    # --- beyond the port: failure diagnosis and cancelling --------------------------------------------

    def query_activity_runs(self, run_id: str) -> list[dict[str, Any]]:
        """The run's activity runs, oldest first: activity, type, status, error, start, end."""
        from azure.mgmt.datafactory.models import RunFilterParameters

        since, until = activity_window(self.get_run(run_id))
        client = self._get_client()
        f = self._factory

        def page(token: str | None, **timeouts: Any) -> Any:
            query = RunFilterParameters(last_updated_after=since, last_updated_before=until, continuation_token=token)
            return client.activity_runs.query_by_pipeline_run(f.resource_group, f.factory_name, run_id, query,
                                                              **timeouts)

        found = self._all_pages(f"query activity runs of {run_id}", page)
        return sorted(map(activity, found), key=lambda a: a["start"])

    def cancel_run(self, run_id: str) -> None:
        """Cancel the run and the pipelines it started. Cancelling twice is harmless."""
        client = self._get_client()
        f = self._factory
        self._call(f"cancel run {run_id}", client.pipeline_runs.cancel, f.resource_group, f.factory_name,
                   run_id, is_recursive=True, safe=True)


    # --- the SDK client and the retry loop ----------------------------------------------------------


    def _build_client(self) -> DataFactoryManagementClient:
        from azure.mgmt.datafactory import DataFactoryManagementClient

        # Our own loop decides every retry: azure-core's policy would retry a POST createRun on 500/503/504.
        from shared.adapters.http import azure_transport

        options: dict[str, Any] = {"retry_total": 0, "credential_scopes": [f"{self._endpoint}/.default"],
                                   "transport": azure_transport()}
        if is_local_emulator(self._endpoint):
            # The SDK refuses bearer tokens over http; the emulator only checks that one is present.
            options["authentication_policy"] = emulator_auth_policy()
            credential: Any = NoCredential()
        else:
            credential = self._credential or default_credential(self._factory.client_id)
        return DataFactoryManagementClient(credential, self._factory.subscription_id, base_url=self._endpoint,
                                           **options)

