"""Azure Synapse workspace pipelines as the app's ``PipelineRunner``, through azure-synapse-artifacts.

The same guarantees as ``DataFactoryRunner`` (both run on azure-core, see ``pipeline_sdk``): createRun
is retried only when it cannot have taken effect (429, or never sent); a 5xx or a lost answer raises
``Unavailable`` and the caller reconciles with ``query_runs`` (Synapse reports each run's parameters,
so the batch id parameter finds it). Reads retry on 429/5xx honouring Retry-After. The token is for
the workspace development endpoint (scope https://dev.azuresynapse.net/.default). The SDK is imported
lazily.
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
from shared.core.models import PipelineRun
from shared.errors import ConfigError, Unavailable

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.synapse.artifacts import ArtifactsClient

log = logging.getLogger(__name__)

SYNAPSE_SCOPE = "https://dev.azuresynapse.net/.default"
SERVICE = "Synapse"


def workspace_endpoint(workspace: str) -> str:
    """The development endpoint of a workspace named ``workspace``."""
    return f"https://{workspace}.dev.azuresynapse.net"


class SynapseRunner(pipeline_sdk.SdkRunner["ArtifactsClient"]):
    """Runs pipelines of one Synapse workspace. Thread-safe; the SDK client is built on first use.

    ``endpoint`` is the workspace development endpoint (``workspace_endpoint(name)``), or a local
    emulator over plain http. Knobs as for ``DataFactoryRunner``.
    """

    SERVICE = SERVICE
    log = log

    def __init__(self, endpoint: str, *, client_id: str | None = None, credential: TokenCredential | None = None,
                 retries: int = 3, backoff: float = 1.0, max_backoff: float = 30.0, max_wait: float = 60.0,
                 connect_timeout: float = 10.0, read_timeout: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        endpoint = endpoint.rstrip("/")
        parts = urlsplit(endpoint)
        if not (parts.scheme == "https" and parts.hostname) and not is_local_emulator(endpoint):
            raise ConfigError([f"Synapse endpoint {endpoint!r} must be an https URL such as "
                               "https://<workspace>.dev.azuresynapse.net (plain http is allowed only for a "
                               "local emulator on 127.0.0.1 or localhost)"], "app settings")
        super().__init__(endpoint, credential, retries=retries, backoff=backoff, max_backoff=max_backoff,
                         max_wait=max_wait, connect_timeout=connect_timeout, read_timeout=read_timeout, sleep=sleep)
        self._client_id = client_id

    # --- the port -----------------------------------------------------------------------------------

    def start_run(self, pipeline: str, parameters: Mapping[str, Any], *,
                  before_retry: Callable[[], None] | None = None) -> str:
        """createRun. Raises Rejected, Throttled or Unavailable (the run may then exist: reconcile)."""
        body = pipeline_sdk.json_parameters(pipeline, parameters)
        client = self._get_client()
        response = self._call(f"createRun {pipeline}", client.pipeline.create_pipeline_run, pipeline,
                              parameters=body, safe=False, before_retry=before_retry)
        run_id = str(response.run_id or "")
        if not run_id:
            raise Unavailable(f"createRun {pipeline} answered without a run id; the run may exist")
        log.debug("createRun answered", extra={"pipeline": pipeline, "run_id": run_id, "engine": "synapse"})
        return run_id

    @property
    def worst_case_start_seconds(self) -> float:
        """The longest one start_run can take, retries included (CLAIM_TIMEOUT must exceed it)."""
        return self._budget.worst_case_seconds(self._connect_timeout + self._read_timeout)

    def get_run(self, run_id: str) -> PipelineRun:
        """One run. Raises NotFound when the workspace does not know it."""
        client = self._get_client()
        return to_run(self._call(f"get run {run_id}", client.pipeline_run.get_pipeline_run, run_id, safe=True))

    def query_runs(self, pipeline: str, since: datetime, until: datetime) -> list[PipelineRun]:
        """Runs of ``pipeline`` last updated in [since, until], every page, each run once."""
        from azure.synapse.artifacts.models import RunFilterParameters, RunQueryFilter

        client = self._get_client()

        def page(token: str | None, **timeouts: Any) -> Any:
            query = RunFilterParameters(
                last_updated_after=utc(since), last_updated_before=utc(until), continuation_token=token,
                filters=[RunQueryFilter(operand="PipelineName", operator="Equals", values=[pipeline])])
            return client.pipeline_run.query_pipeline_runs_by_workspace(query, **timeouts)

        # A run that moved between pages keeps its newest view.
        runs = {run.run_id: run for run in map(to_run, self._all_pages(f"query runs of {pipeline}", page))}
        return list(runs.values())

    def query_activity_runs(self, run_id: str) -> list[dict[str, Any]]:
        """The run's activity runs, oldest first: activity, type, status, error, start, end."""
        from azure.synapse.artifacts.models import RunFilterParameters

        run = self.get_run(run_id)            # Synapse wants the pipeline's name in the path
        since, until = activity_window(run)
        client = self._get_client()

        def page(token: str | None, **timeouts: Any) -> Any:
            query = RunFilterParameters(last_updated_after=since, last_updated_before=until, continuation_token=token)
            return client.pipeline_run.query_activity_runs(run.pipeline, run_id, query, **timeouts)

        found = self._all_pages(f"query activity runs of {run_id}", page)
        return sorted(map(activity, found), key=lambda a: a["start"])

    # --- beyond the port ----------------------------------------------------------------------------

    def cancel_run(self, run_id: str) -> None:
        """Cancel the run and the pipelines it started. Cancelling twice is harmless."""
        client = self._get_client()
        self._call(f"cancel run {run_id}", client.pipeline_run.cancel_pipeline_run, run_id, is_recursive=True,
                   safe=True)


    # --- the SDK client -----------------------------------------------------------------------------


    def _build_client(self) -> ArtifactsClient:
        from azure.synapse.artifacts import ArtifactsClient

        from shared.adapters.http import azure_transport

        # Our own loop decides every retry: azure-core's policy would retry a POST createRun on 500/503/504.
        options: dict[str, Any] = {"retry_total": 0, "credential_scopes": [SYNAPSE_SCOPE],
                                   "transport": azure_transport()}
        if is_local_emulator(self._endpoint):
            options["authentication_policy"] = emulator_auth_policy()
            credential: Any = NoCredential()
        else:
            credential = self._credential or default_credential(self._client_id)
        return ArtifactsClient(credential, self._endpoint, **options)

