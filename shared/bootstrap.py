"""The composition root: the one place that picks concrete adapters.

Nothing happens at import time. ``get_deps()`` reads configuration and builds clients on first use,
then caches them for the life of the worker (Functions reuses workers across invocations).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from shared.core.models import Link
from shared.services.deps import Deps, Tables

_lock = threading.Lock()
_deps: Deps | None = None
_live: Any = None            # a LiveConfig when PIPELINES_CONFIG names a blob
LIVE_CONFIG_POLL_SECONDS = 5.0   # how often a live config's blob is looked at (at the next invocation)


def _is_loopback(url: str) -> bool:
    return url.startswith(("http://127.0.0.1", "http://localhost"))


def _notifiers(settings: Any) -> dict[str, Any]:
    from shared.adapters.email import AcsEmailNotifier, SmtpNotifier
    from shared.adapters.teams import TeamsWorkflowsNotifier

    channels = settings.channels
    out: dict[str, Any] = {}
    if channels.teams_webhook_url:
        url = channels.teams_webhook_url
        out["teams"] = TeamsWorkflowsNotifier(lambda: url)
    if channels.acs_endpoint and channels.acs_sender:
        out["email"] = AcsEmailNotifier(channels.acs_endpoint, sender=channels.acs_sender,
                                        default_to=channels.email_to, client_id=settings.client_id)
    elif channels.smtp is not None:
        smtp = channels.smtp
        out["email"] = SmtpNotifier(smtp.host, smtp.port, sender=smtp.sender, default_to=channels.email_to,
                                    username=smtp.user, password=smtp.password, tls=smtp.tls)
    return out


def _run_links(factory: Any) -> Callable[[str], tuple[Link, ...]]:
    if factory is None:
        return lambda run_id: ()
    resource = (f"/subscriptions/{factory.subscription_id}/resourceGroups/{factory.resource_group}"
                f"/providers/Microsoft.DataFactory/factories/{factory.factory_name}")

    def links(run_id: str) -> tuple[Link, ...]:
        return (Link("Open the run in ADF", f"https://adf.azure.com/en/monitoring/pipelineruns/{quote(run_id)}"
                     f"?factory={quote(resource, safe='')}"),)
    return links


def _synapse_links(synapse: Any) -> Callable[[str], tuple[Link, ...]]:
    def links(run_id: str) -> tuple[Link, ...]:
        return (Link("Open the run in Synapse Studio", f"https://web.azuresynapse.net/en/monitoring/pipelineruns/"
                     f"{quote(run_id)}?workspace={quote(_synapse_resource(synapse), safe='')}"),)
    return links


def _synapse_resource(synapse: Any) -> str:
    # Synapse Studio wants the workspace's resource id; without the subscription at hand, its name opens
    # the workspace picker on the right workspace.
    return str(synapse.workspace)


def _fabric_links(fabric: Any) -> Callable[[str], tuple[Link, ...]]:
    def links(run_id: str) -> tuple[Link, ...]:
        return (Link("Open the Fabric monitoring hub", f"https://app.fabric.microsoft.com/monitoringhub"
                     f"?experience=fabric-developer&workspaceId={quote(fabric.workspace_id)}&jobInstanceId="
                     f"{quote(run_id)}"),)
    return links


def build_runners(settings: Any, pipelines: Any) -> dict[str, Any]:
    """Every engine the settings configure, keyed adf / synapse / fabric (each built lazily, no I/O)."""
    runners: dict[str, Any] = {}
    if settings.factory is not None:
        from shared.adapters.data_factory import DataFactoryRunner

        runners["adf"] = DataFactoryRunner.for_factory(settings.factory)
    if settings.synapse is not None:
        from shared.adapters.synapse import SynapseRunner

        runners["synapse"] = SynapseRunner(settings.synapse.endpoint, client_id=settings.synapse.client_id)
    if settings.fabric is not None:
        from shared.adapters.fabric import FabricRunner

        items = {ds.pipeline.name: ds.pipeline.item for ds in pipelines.datasets
                 if ds.pipeline is not None and ds.pipeline.engine == "fabric"}
        runners["fabric"] = FabricRunner(settings.fabric.workspace_id, items, base_url=settings.fabric.api_url,
                                         client_id=settings.fabric.client_id)
    return runners


def _token_verifier(settings: Any) -> Any:
    if settings.webhook_auth is None:
        return None
    from shared.adapters.entra import EntraTokenVerifier

    return EntraTokenVerifier(settings.webhook_auth)


def build_deps(env: Mapping[str, str] | None = None) -> Deps:
    """Read settings and the pipelines config and wire the Azure adapters. Raises ConfigError."""
    return _build(env)[0]


def _build(env: Mapping[str, str] | None) -> tuple[Deps, Any]:
    from shared import config
    from shared import settings as app_settings
    from shared.adapters.blob_profiler import BlobProfiler
    from shared.adapters.clock import SystemClock
    from shared.adapters.storage import AzureBlobStore, QueueAlertSink, StorageQueue, TableStateStore
    from shared.core.dispatch import DispatchPolicy
    from shared.errors import ConfigError, ExternalError

    versions: list[str] = []

    def fetch(settings: Any, container: str, name: str) -> str:
        store = AzureBlobStore(settings.app_storage)
        try:
            versions.append(store.get_blob_info(container, name).etag)
            return store.read_bytes(container, name).decode("utf-8-sig")
        except (ExternalError, UnicodeDecodeError) as exc:
            raise ConfigError([f"PIPELINES_CONFIG: blob://{container}/{name} cannot be read: {exc}"],
                              "app settings") from exc

    settings, pipelines = config.load_all(env, fetch)
    from shared.adapters import telemetry

    telemetry.configure(settings.appinsights_connection_string, settings.client_id, settings.appinsights_entra_auth)
    runners = build_runners(settings, pipelines)
    for built in runners.values():
        check_claim_timeout(settings.claim_timeout, built)
    live = None
    if versions:   # a live config: the next version may add what this one does not use yet
        from shared.services.live_config import LiveConfig

        container, name = config.blob_location(settings.pipelines_config) or ("", "")
        live = LiveConfig(AzureBlobStore(settings.app_storage), container, name, pipelines, versions[-1],
                          lambda text, source: config.checked(settings, text, source), SystemClock(),
                          timedelta(seconds=LIVE_CONFIG_POLL_SECONDS))
    refresher = None
    if live is not None or any(ds.powerbi for ds in pipelines.datasets):
        from shared.adapters.powerbi import PowerBIRefresher

        api = settings.powerbi.api_url
        refresher = PowerBIRefresher(base_url=api, client_id=settings.client_id,
                                     token_provider=(lambda: "sandbox-token") if _is_loopback(api) else None)
    durations = None
    if settings.log_analytics_workspace:
        from shared.adapters.log_analytics import LogAnalyticsDurations

        durations = LogAnalyticsDurations(settings.log_analytics_workspace, client_id=settings.client_id,
                                          endpoint=settings.log_analytics_endpoint)
    notifiers = _notifiers(settings)
    from shared.adapters.devops import DevOpsWorkItems

    devops_api = settings.devops_api_url
    work_items = DevOpsWorkItems(base_url=devops_api, client_id=settings.client_id,
                                 token_provider=(lambda: "sandbox-token") if _is_loopback(devops_api) else None)
    policy = DispatchPolicy(cooldown=settings.channels.cooldown, default_email=settings.channels.email_to,
                            teams_configured="teams" in notifiers, email_configured="email" in notifiers,
                            devops_configured=True)
    return Deps(
        config=pipelines,
        clock=SystemClock(),
        data=AzureBlobStore(settings.data_storage),
        state=TableStateStore(settings.app_storage),
        runner=runners.get("adf"),
        alerts=QueueAlertSink(settings.app_storage, app_settings.ALERTS_QUEUE),
        tables=Tables(settings.table_prefix),
        claim_timeout=settings.claim_timeout,
        profiler=BlobProfiler(settings.data_storage),
        notifiers=notifiers,
        dispatch=policy,
        refresher=refresher,
        powerbi_daily_limit=settings.powerbi.daily_limit,
        factory_name=settings.factory.factory_name if settings.factory else "",
        run_links=_run_links(settings.factory),
        verdict_wait=settings.verdict_wait,
        durations=durations,
        token_verifier=_token_verifier(settings),
        events_queue=StorageQueue(settings.app_storage, app_settings.EVENTS_QUEUE),
        metrics=telemetry.OpenTelemetryMetrics(),
        work_items=work_items,
        feedback=_feedback_signing(settings),
        runners=runners,
        engine_names={engine: name for engine, name in (
            ("adf", settings.factory.factory_name if settings.factory else ""),
            ("synapse", settings.synapse.workspace if settings.synapse else ""),
            ("fabric", settings.fabric.workspace_id if settings.fabric else "")) if name},
        engine_links={**({"synapse": _synapse_links(settings.synapse)} if settings.synapse else {}),
                      **({"fabric": _fabric_links(settings.fabric)} if settings.fabric else {})},
    ), live


def _feedback_signing(settings: Any) -> Any:
    from shared.services.deps import FeedbackSigning

    fb = settings.feedback
    return None if fb is None else FeedbackSigning(fb.signing_key.encode(), fb.base_url, fb.token_ttl)


def check_claim_timeout(claim_timeout: Any, runner: Any) -> None:
    """A claim that can expire while its tick may still create a run lets a second run start."""
    from shared.errors import ConfigError
    from shared.services.upstream_watcher import claim_timeout_problem

    if problem := claim_timeout_problem(claim_timeout, runner.worst_case_start_seconds):
        raise ConfigError([problem], "app settings")


def get_deps() -> Deps:
    """The worker's deps, built on first use; with a live config, its current version."""
    global _deps, _live
    with _lock:
        if _deps is None:
            _deps, _live = _build(None)
        if _live is not None:
            current = _live.current(_deps.alerts)
            if current is not _deps.config:
                _deps = dataclasses.replace(_deps, config=current)
        return _deps


def reset() -> None:
    """Forget the cached deps (the sandbox host calls this after changing settings)."""
    global _deps, _live
    with _lock:
        _deps, _live = None, None
