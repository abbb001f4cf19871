"""The whole sandbox in one object: Azurite, the ADF, Power BI, Teams and Azure DevOps emulators, an SMTP sink, and
the local Functions host running ``function_app.app``. Used by ``make demo``, the end-to-end tests
and the benchmarks; ``python -m sandbox.stack`` (``make up``) runs it until Ctrl-C (see sandbox.up).
"""

from __future__ import annotations

import base64
import json
import tempfile
import uuid
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class Stack:
    def __init__(self, workdir: Path | None = None, *, pipelines_config: Path | None = None,
                 queue_visibility: str = "00:00:01", verdict_wait: str = "20s",
                 extra_settings: dict[str, str] | None = None, speed: float = 1.0, http_port: int = 0,
                 function_key: str | None = None, engines: dict[str, dict[str, str]] | None = None) -> None:
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="autopilot-stack-"))
        self.speed, self.http_port, self.function_key = speed, http_port, function_key
        self.pipelines_config = pipelines_config or ROOT / "pipelines.yaml"
        self.queue_visibility = queue_visibility
        self.verdict_wait = verdict_wait
        self.extra_settings = extra_settings or {}
        # Synapse and Fabric emulators beside ADF's: engine → extra emulator config (e.g. OUTPUT_PREFIX).
        self.engines = engines or {}
        self._stack = ExitStack()
        self.settings: dict[str, str] = {}

    def __enter__(self) -> Stack:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def _start(self) -> None:
        from sandbox import metrics
        from sandbox.adf_emulator import ADFEmulator
        from sandbox.azurite import Azurite
        from sandbox.devops_emulator import DevOpsEmulator
        from sandbox.host import LocalHost
        from sandbox.powerbi_emulator import PowerBIEmulator
        from sandbox.smtp_sink import SmtpSink
        from sandbox.teams_sink import TeamsSink
        from shared import bootstrap
        from shared.adapters.storage import AzureBlobStore
        from shared.connections import StorageTarget

        self.azurite = self._stack.enter_context(Azurite(self.workdir / "azurite", in_memory=True))
        conn = self.azurite.connection_string
        # ADF answers queryPipelineRuns in pages of up to 100 runs.
        self.adf = self._stack.enter_context(ADFEmulator(config={"DATA_STORAGE": conn}, page_size=100))
        engine_settings = self._start_engines(conn)
        self.powerbi = self._stack.enter_context(PowerBIEmulator())
        self.teams = self._stack.enter_context(TeamsSink())
        self.smtp = self._stack.enter_context(SmtpSink())
        # Work items for datasets whose alerts.devops names organization contoso, project "Data Platform".
        self.devops = self._stack.enter_context(DevOpsEmulator(organization="contoso", project="Data Platform"))
        self.settings = app_settings(
            conn, self.pipelines_config, (self.adf.subscription_id, self.adf.resource_group, self.adf.factory_name),
            self.adf.url, self.powerbi.base_url,
            TEAMS_WEBHOOK_URL=self.teams.url, SMTP_HOST="127.0.0.1", SMTP_PORT=str(self.smtp.port),
            SMTP_SENDER="autopilot@example.com", SMTP_TLS="auto", ALERT_EMAIL_TO="oncall@example.com",
            VERDICT_WAIT=self.verdict_wait, DEVOPS_API_URL=self.devops.url, **engine_settings,
            **self.extra_settings)
        metrics.install()   # before the app records anything: its metrics are read back by self.metrics()
        self.deps = bootstrap.build_deps(self.settings)
        self.blobs = AzureBlobStore(StorageTarget(connection_string=conn))
        self._create_data_containers(conn)
        host_json = json.loads((ROOT / "host.json").read_text())
        host_json["extensions"]["queues"]["visibilityTimeout"] = self.queue_visibility
        self.host = self._stack.enter_context(LocalHost(
            _app(), self.settings, host_json=host_json, poll_interval=0.2, speed=self.speed,
            http_port=self.http_port, keys={"default": self.function_key} if self.function_key else None))
        for emulator in (self.adf, *self.engine_emulators.values()):
            emulator.configure(webhook_url=f"{self.host.url}/pipeline-events", webhook_key=self.host.default_key,
                               queue_delay=0.0, run_duration=0.2)

    def _start_engines(self, conn: str) -> dict[str, str]:
        """The Synapse and Fabric emulators asked for, and the app settings that point at them."""
        from sandbox.engine_emulator import EngineEmulator
        from sandbox.fabric_emulator import FabricEmulator
        from sandbox.synapse_emulator import SynapseEmulator

        self.engine_emulators: dict[str, EngineEmulator] = {}
        settings: dict[str, str] = {}
        if "synapse" in self.engines:
            synapse = self._stack.enter_context(SynapseEmulator(config={"DATA_STORAGE": conn,
                                                                        **self.engines["synapse"]}))
            self.engine_emulators["synapse"] = synapse
            settings |= {"SYNAPSE_WORKSPACE": synapse.workspace, "SYNAPSE_ENDPOINT": synapse.url}
        if "fabric" in self.engines:
            fabric = self._stack.enter_context(FabricEmulator(config={"DATA_STORAGE": conn, **self.engines["fabric"]}))
            self.engine_emulators["fabric"] = fabric
            settings |= {"FABRIC_WORKSPACE_ID": fabric.workspace_id, "FABRIC_API_URL": f"{fabric.url}/v1"}
        return settings

    def _create_data_containers(self, connection_string: str) -> None:
        """The data containers exist before the first tick, as the deployment creates them (a missing
        upstream container is a real misconfiguration the watcher reports as watch_failed)."""
        from azure.core.exceptions import ResourceExistsError
        from azure.storage.blob import BlobServiceClient

        names = {ds.upstream.container for ds in self.deps.config.datasets if ds.upstream is not None}
        names.add(self.settings["OUTPUT_CONTAINER"])
        with BlobServiceClient.from_connection_string(connection_string) as service:
            for name in sorted(names):
                try:
                    service.create_container(name)
                except ResourceExistsError:
                    pass

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stack.close()

    def metrics(self, name: str | None = None) -> list[dict[str, Any]]:
        """The metrics the app recorded in this process so far (``sandbox.metrics.snapshot``)."""
        from sandbox import metrics

        return [m for m in metrics.snapshot() if name is None or m["name"] == name]

    def queue_messages(self, queue: str) -> list[dict[str, Any]]:
        """Peek the JSON messages waiting on a queue (base64, as the Functions host writes them)."""
        from azure.core.exceptions import ResourceNotFoundError
        from azure.storage.queue import QueueClient

        client = QueueClient.from_connection_string(self.azurite.connection_string, queue)
        try:
            return [json.loads(base64.b64decode(m.content)) for m in client.peek_messages(max_messages=32)]
        except ResourceNotFoundError:
            return []


def app_settings(connection_string: str, pipelines_config: Path, factory: tuple[str, str, str], adf_url: str,
                 powerbi_url: str, **extra: str) -> dict[str, str]:
    """The app settings that point the app at the sandbox: one Azurite, the emulators, fresh tables."""
    subscription, resource_group, factory_name = factory
    return {
        "AzureWebJobsStorage": connection_string, "DATA_STORAGE": connection_string,
        "PIPELINES_CONFIG": str(pipelines_config), "UPSTREAM_SCHEDULE": "0 0 * * * *",
        "FOLLOWUP_SCHEDULE": "0 */5 * * * *", "OUTPUT_CONTAINER": "outputs",
        "ADF_SUBSCRIPTION_ID": subscription, "ADF_RESOURCE_GROUP": resource_group, "ADF_FACTORY_NAME": factory_name,
        "ADF_ENDPOINT": adf_url, "POWERBI_API_URL": powerbi_url, "STATE_TABLE_PREFIX": "sbx" + uuid.uuid4().hex[:8],
        **extra,
    }


def _app() -> Any:
    import function_app

    return function_app.app


if __name__ == "__main__":
    import sys

    from sandbox.up import main

    sys.exit(main())
