"""App settings: the only reader of ``os.environ`` (and of what ``local.settings.json`` puts there).

Every setting the code reads is declared in ``SETTINGS`` (the infra drift tests hold the Bicep to it).
``load_settings`` parses them into frozen objects and reports every problem at once, naming the setting.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from shared.connections import FabricRef, FactoryRef, SmtpSettings, StorageTarget, SynapseRef, WebhookAuth
from shared.core.schedule import Schedule
from shared.core.typed import Invalid, parse_duration
from shared.errors import ConfigError

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
ALERTS_QUEUE = "alerts"                 # fixed: the dispatcher's queue trigger names it
EVENTS_QUEUE = "pipeline-events"        # fixed: the webhook's worker queue trigger names it


@dataclass(frozen=True)
class SettingSpec:
    """One app setting the code reads. ``infra`` says whether the Bicep must set it."""

    name: str
    description: str
    default: str | None = None
    required: bool = False
    secret: bool = False
    infra: bool = True


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec("AzureWebJobsStorage", "App storage (queues, tables, reports). A connection string "
                "locally; in Azure use the identity-based AzureWebJobsStorage__accountName instead.",
                infra=False),
    SettingSpec("AzureWebJobsStorage__accountName", "App storage account name (identity-based).",
                infra=True),
    SettingSpec("DATA_STORAGE", "Connection string of the account holding upstream and output data "
                "(local/sandbox). Default: the app storage.", infra=False),
    SettingSpec("DATA_STORAGE__accountName", "Account holding upstream and output data "
                "(identity-based). Default: the app storage.", infra=True),
    SettingSpec("PIPELINES_CONFIG", "The pipelines config: a path relative to the app root, or "
                "blob://<container>/<path>.yaml in the app storage (a live config: changes are picked up "
                "within seconds, without a redeploy; see autopilot config push).",
                default="pipelines.yaml"),
    SettingSpec("OUTPUT_CONTAINER", "Container the output guard's blob trigger watches; every dataset's "
                "output.container must be this one.", default="outputs"),
    SettingSpec("UPSTREAM_SCHEDULE", "NCRONTAB schedule of the upstream watcher, in UTC: six fields (second "
                "first) or five (minute first, second 0); see the schedule rules below the table.",
                default="0 0 * * * *"),
    SettingSpec("ADF_SUBSCRIPTION_ID", "Subscription of the Data Factory."),
    SettingSpec("ADF_RESOURCE_GROUP", "Resource group of the Data Factory."),
    SettingSpec("ADF_FACTORY_NAME", "Name of the Data Factory."),
    SettingSpec("ADF_REQUEST_TIMEOUT", "How long one ARM request to the factory may take (the read timeout; "
                "connecting gets at most 10s of it).", default="30s", infra=False),
    SettingSpec("ADF_RETRY_WAIT", "The most one factory call sleeps in all between its retries (Retry-After "
                "included); a longer Retry-After ends the call.", default="60s", infra=False),
    SettingSpec("ADF_ENDPOINT", "ARM endpoint (the sandbox points this at its ADF emulator).",
                default="https://management.azure.com", infra=False),
    SettingSpec("SYNAPSE_WORKSPACE", "Name of the Synapse workspace that runs the pipelines of datasets with "
                "pipeline.engine: synapse.", infra=False),
    SettingSpec("SYNAPSE_ENDPOINT", "Development endpoint of that workspace (default: "
                "https://<SYNAPSE_WORKSPACE>.dev.azuresynapse.net; the sandbox points it at its emulator).",
                infra=False),
    SettingSpec("FABRIC_WORKSPACE_ID", "Id (a GUID) of the Fabric workspace that runs the Data pipelines of "
                "datasets with pipeline.engine: fabric.", infra=False),
    SettingSpec("FABRIC_API_URL", "Fabric REST API base URL (the sandbox points it at its emulator).",
                default="https://api.fabric.microsoft.com/v1", infra=False),
    SettingSpec("AZURE_CLIENT_ID", "Client id of the user-assigned managed identity."),
    SettingSpec("FOLLOWUP_SCHEDULE", "NCRONTAB schedule, in UTC, of the follow-up timer: Power BI refresh "
                "status, owed refreshes, alert digests, stuck runs. Same rules as UPSTREAM_SCHEDULE.",
                default="0 */5 * * * *"),
    SettingSpec("TEAMS_WEBHOOK_URL", "Teams Workflows webhook URL (a Key Vault reference in Azure). Empty: "
                "no Teams channel.", secret=True),
    SettingSpec("ACS_EMAIL_ENDPOINT", "Azure Communication Services endpoint for email (managed identity)."),
    SettingSpec("ACS_EMAIL_SENDER", "Sender address of ACS email (a verified domain's address)."),
    SettingSpec("SMTP_HOST", "SMTP server for email when ACS is not used.", infra=False),
    SettingSpec("SMTP_PORT", "SMTP port.", default="587", infra=False),
    SettingSpec("SMTP_USER", "SMTP login (optional).", infra=False),
    SettingSpec("SMTP_PASSWORD", "SMTP password (a Key Vault reference in Azure).", secret=True, infra=False),
    SettingSpec("SMTP_TLS", "auto | starttls | implicit.", default="auto", infra=False),
    SettingSpec("SMTP_SENDER", "Sender address for SMTP email.", infra=False),
    SettingSpec("ALERT_EMAIL_TO", "Default email recipients (comma-separated) for datasets without their own.",
                infra=False),
    SettingSpec("ALERT_COOLDOWN", "The same alert (fingerprint) again within this is not re-sent.", default="1h",
                infra=False),
    SettingSpec("POWERBI_API_URL", "Power BI REST base URL (the sandbox points it at its emulator).",
                default="https://api.powerbi.com/v1.0/myorg", infra=False),
    SettingSpec("POWERBI_WORKSPACE_ID", "Default workspace for powerbi entries that name none."),
    SettingSpec("POWERBI_DAILY_LIMIT", "Refreshes per dataset per UTC day (8 on shared capacity).", default="8",
                infra=False),
    SettingSpec("LOG_ANALYTICS_WORKSPACE_ID", "Workspace (customer) id: run durations come from ADFPipelineRun "
                "there; empty: from the factory's run history."),
    SettingSpec("LOG_ANALYTICS_ENDPOINT", "Log Analytics query endpoint (the sandbox points it at its emulator).",
                default="https://api.loganalytics.io", infra=False),
    SettingSpec("WEBHOOK_AUTH_AUDIENCE", "When set, /api/pipeline-events also needs an Entra ID bearer token for "
                "this audience (on top of the function key)."),
    SettingSpec("WEBHOOK_AUTH_TENANT_ID", "Tenant whose tokens are accepted."),
    SettingSpec("WEBHOOK_ALLOWED_PRINCIPALS", "Object ids (comma-separated) allowed to call the webhook, e.g. the "
                "factory's managed identity."),
    SettingSpec("WEBHOOK_JWKS_URL", "Signing keys URL (default: the tenant's Entra ID keys).", infra=False),
    SettingSpec("VERDICT_WAIT", "How long the webhook waits for the output guard's verdict.", default="20s",
                infra=False),
    SettingSpec("APPLICATIONINSIGHTS_CONNECTION_STRING", "Application Insights: structured logs, heartbeats and "
                "metrics go there through OpenTelemetry (empty: logs stay with the host)."),
    SettingSpec("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "ClientId=<identity>;Authorization=AAD when the "
                "resource accepts only Entra ID ingestion."),
    SettingSpec("FEEDBACK_SIGNING_KEY", "Key that signs the false alarm / expected actions of alert cards and emails "
                "(HMAC-SHA256; at least 32 characters; the postdeploy hook creates it in Key Vault). Empty: alerts "
                "carry no feedback actions and POST /api/feedback refuses every token.", secret=True),
    SettingSpec("FEEDBACK_BASE_URL", "Where feedback links point (https://<app host>; a loopback http:// URL "
                "locally). Default: https:// and WEBSITE_HOSTNAME.", infra=False),
    SettingSpec("FEEDBACK_TOKEN_TTL", "How long a feedback link in an alert stays valid.", default="7d", infra=False),
    SettingSpec("WEBSITE_HOSTNAME", "The app's host name; set by the platform in Azure, read for the feedback "
                "links' default base URL.", infra=False),
    SettingSpec("STATE_TABLE_PREFIX", "Prefix of the Table Storage tables holding state.",
                default="autopilot", infra=False),
    SettingSpec("DEVOPS_API_URL", "Azure DevOps REST base URL for the devops alert channel (work items; the "
                "sandbox points it at its emulator).", default="https://dev.azure.com", infra=False),
    SettingSpec("CLAIM_TIMEOUT", "How long a batch claim without a run id is left to its tick before "
                "another tick reconciles it with ADF. Must be longer than a tick may spend starting one run "
                "with the adapter's retries (11 minutes with the defaults); a shorter one is a config error.",
                default="15m", infra=False),
)


@dataclass(frozen=True)
class Channels:
    teams_webhook_url: str | None = None
    acs_endpoint: str | None = None
    acs_sender: str | None = None
    smtp: SmtpSettings | None = None
    email_to: tuple[str, ...] = ()
    cooldown: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class FeedbackSettings:
    signing_key: str = field(repr=False)
    base_url: str
    token_ttl: timedelta


@dataclass(frozen=True)
class PowerBISettings:
    api_url: str = "https://api.powerbi.com/v1.0/myorg"
    default_workspace: str = ""
    daily_limit: int = 8


@dataclass(frozen=True)
class Settings:
    app_storage: StorageTarget
    data_storage: StorageTarget
    pipelines_config: str
    upstream_schedule: Schedule
    factory: FactoryRef | None
    client_id: str | None
    table_prefix: str
    claim_timeout: timedelta
    output_container: str = "outputs"
    followup_schedule: Schedule | None = None
    channels: Channels = Channels()
    powerbi: PowerBISettings = PowerBISettings()
    log_analytics_workspace: str | None = None
    webhook_auth: WebhookAuth | None = None
    verdict_wait: timedelta = timedelta(seconds=20)
    log_analytics_endpoint: str = "https://api.loganalytics.io"
    appinsights_connection_string: str | None = None
    appinsights_entra_auth: bool = False
    devops_api_url: str = "https://dev.azure.com"
    feedback: FeedbackSettings | None = None
    synapse: SynapseRef | None = None
    fabric: FabricRef | None = None


def _storage(env: Mapping[str, str], name: str, client_id: str | None) -> StorageTarget | None:
    if env.get(name):
        return StorageTarget(connection_string=env[name])
    if env.get(f"{name}__accountName"):
        return StorageTarget(account_name=env[f"{name}__accountName"],
                             client_id=env.get(f"{name}__clientId") or client_id)
    return None


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read app settings. Raises ConfigError naming every missing or invalid setting."""
    env = dict(os.environ if env is None else env)
    problems: list[str] = []
    defaults = {s.name: s.default for s in SETTINGS if s.default is not None}

    def get(name: str) -> str:
        return env.get(name) or defaults.get(name, "")

    client_id = env.get("AZURE_CLIENT_ID") or None
    app_storage = _storage(env, "AzureWebJobsStorage", client_id)
    if app_storage is None:
        problems.append("AzureWebJobsStorage: not set; set a connection string, or "
                        "AzureWebJobsStorage__accountName for managed identity")
    data_storage = _storage(env, "DATA_STORAGE", client_id) or app_storage
    schedule = None
    try:
        schedule = Schedule.parse(get("UPSTREAM_SCHEDULE"))
    except Invalid as exc:
        problems.append(f"UPSTREAM_SCHEDULE: {exc}")
    claim_timeout = _duration(get, "CLAIM_TIMEOUT", problems)
    prefix = get("STATE_TABLE_PREFIX")
    if not prefix.isalnum() or not prefix[:1].isalpha() or len(prefix) > 40:
        problems.append(f"STATE_TABLE_PREFIX: {prefix!r} must be letters and digits, starting with a "
                        "letter, at most 40 characters (it prefixes Table Storage table names)")
    factory_names = ("ADF_SUBSCRIPTION_ID", "ADF_RESOURCE_GROUP", "ADF_FACTORY_NAME")
    factory = None
    if all(env.get(n) for n in factory_names):
        timeout = _duration(get, "ADF_REQUEST_TIMEOUT", problems)
        retry_wait = _duration(get, "ADF_RETRY_WAIT", problems)
        if timeout.total_seconds() < 1:
            problems.append(f"ADF_REQUEST_TIMEOUT: {timeout} is too short for an ARM request; use at least 1s")
        factory = FactoryRef(env["ADF_SUBSCRIPTION_ID"], env["ADF_RESOURCE_GROUP"],
                             env["ADF_FACTORY_NAME"], get("ADF_ENDPOINT").rstrip("/"), client_id,
                             request_timeout=timeout.total_seconds(), retry_wait=retry_wait.total_seconds())
    elif any(env.get(n) for n in factory_names):
        missing = [n for n in factory_names if not env.get(n)]
        problems.append(f"{', '.join(missing)}: not set; the Data Factory needs all of "
                        f"{', '.join(factory_names)}")
    followup = None
    try:
        followup = Schedule.parse(get("FOLLOWUP_SCHEDULE"))
    except Invalid as exc:
        problems.append(f"FOLLOWUP_SCHEDULE: {exc}")
    channels = _channels(env, get, problems)
    powerbi = _powerbi(get, problems)
    webhook_auth = _webhook_auth(env, problems)
    verdict_wait = _duration(get, "VERDICT_WAIT", problems)
    workspace = env.get("LOG_ANALYTICS_WORKSPACE_ID", "")
    if workspace and not _GUID.match(workspace):
        problems.append(f"LOG_ANALYTICS_WORKSPACE_ID: {workspace!r} is not a workspace id (a GUID, the "
                        "workspace's customer id)")
    devops_api = get("DEVOPS_API_URL").rstrip("/")
    if not (devops_api.startswith("https://") or devops_api.startswith(("http://127.0.0.1", "http://localhost"))):
        problems.append("DEVOPS_API_URL: must be an https:// URL (plain http only for a local emulator)")
    feedback = _feedback(env, get, problems)
    synapse, fabric = _engines(env, get, client_id, problems)
    if problems:
        raise ConfigError(problems, "app settings")
    assert app_storage is not None and data_storage is not None and schedule is not None
    return Settings(app_storage, data_storage, get("PIPELINES_CONFIG"), schedule, factory, client_id,
                    prefix, claim_timeout, get("OUTPUT_CONTAINER"), followup, channels, powerbi,
                    workspace or None, webhook_auth, verdict_wait, get("LOG_ANALYTICS_ENDPOINT").rstrip("/"),
                    env.get("APPLICATIONINSIGHTS_CONNECTION_STRING") or None,
                    "Authorization=AAD" in env.get("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", ""),
                    devops_api, feedback, synapse, fabric)


_WORKSPACE_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$")


def _engines(env: Mapping[str, str], get: Callable[[str], str], client_id: str | None,
             problems: list[str]) -> tuple[SynapseRef | None, FabricRef | None]:
    """The Synapse workspace and the Fabric workspace, when set (the pipelines config says who needs them)."""
    synapse = None
    name, endpoint = env.get("SYNAPSE_WORKSPACE", ""), env.get("SYNAPSE_ENDPOINT", "").rstrip("/")
    if name and not _WORKSPACE_NAME.match(name):
        problems.append(f"SYNAPSE_WORKSPACE: {name!r} is not a workspace name (lowercase letters, digits and "
                        "hyphens, at most 50)")
    elif name or endpoint:
        if not name:   # the workspace named by its endpoint's host
            name = endpoint.split("://", 1)[-1].split(".", 1)[0].split(":", 1)[0]
        synapse = SynapseRef(endpoint or f"https://{name}.dev.azuresynapse.net", name, client_id)
    fabric = None
    workspace = env.get("FABRIC_WORKSPACE_ID", "")
    if workspace and not _GUID.match(workspace):
        problems.append(f"FABRIC_WORKSPACE_ID: {workspace!r} is not a workspace id (a GUID, from the workspace's "
                        "URL: .../groups/<id>)")
    elif workspace:
        fabric = FabricRef(workspace, get("FABRIC_API_URL").rstrip("/"), client_id)
    return synapse, fabric


def _configured(value: str | None) -> str | None:
    """Empty, or a Key Vault reference the platform did not resolve, means "not configured"."""
    if not value or value.startswith("@Microsoft.KeyVault("):
        return None
    return value


def _channels(env: Mapping[str, str], get: Callable[[str], str], problems: list[str]) -> Channels:
    teams = _configured(env.get("TEAMS_WEBHOOK_URL"))
    if teams is not None and not (teams.startswith("https://") or teams.startswith("http://127.0.0.1")):
        problems.append("TEAMS_WEBHOOK_URL: must be an https:// Workflows webhook URL")
        teams = None
    smtp = None
    if env.get("SMTP_HOST"):
        port = get("SMTP_PORT")
        if not port.isdigit() or not 0 < int(port) < 65536:
            problems.append(f"SMTP_PORT: {port!r} is not a port number")
            port = "587"
        tls = get("SMTP_TLS")
        if tls not in ("auto", "starttls", "implicit"):
            problems.append(f"SMTP_TLS: {tls!r} must be auto, starttls or implicit")
        if not env.get("SMTP_SENDER"):
            problems.append("SMTP_SENDER: needed with SMTP_HOST (the From address)")
        smtp = SmtpSettings(env["SMTP_HOST"], int(port), env.get("SMTP_USER") or None,
                            _configured(env.get("SMTP_PASSWORD")), tls, env.get("SMTP_SENDER", ""))
    acs = env.get("ACS_EMAIL_ENDPOINT") or None
    if acs and not env.get("ACS_EMAIL_SENDER"):
        problems.append("ACS_EMAIL_SENDER: needed with ACS_EMAIL_ENDPOINT (a verified sender address)")
    email_to = tuple(a.strip() for a in env.get("ALERT_EMAIL_TO", "").split(",") if a.strip())
    bad = [a for a in email_to if "@" not in a]
    if bad:
        problems.append(f"ALERT_EMAIL_TO: {', '.join(bad)} do not look like email addresses")
    cooldown = _duration(get, "ALERT_COOLDOWN", problems)
    return Channels(teams, acs, env.get("ACS_EMAIL_SENDER") or None, smtp, email_to, cooldown)


def _duration(get: Callable[[str], str], name: str, problems: list[str]) -> timedelta:
    """A duration setting; a bad one is a problem (and the settings are refused, so 0 is never used)."""
    try:
        return parse_duration(get(name))
    except Invalid as exc:
        problems.append(f"{name}: {exc}")
        return timedelta(0)


def _powerbi(get: Callable[[str], str], problems: list[str]) -> PowerBISettings:
    limit = get("POWERBI_DAILY_LIMIT")
    if not limit.isdigit() or int(limit) < 1:
        problems.append(f"POWERBI_DAILY_LIMIT: {limit!r} must be a whole number of 1 or more")
        limit = "8"
    return PowerBISettings(get("POWERBI_API_URL").rstrip("/"), get("POWERBI_WORKSPACE_ID"), int(limit))


def _webhook_auth(env: Mapping[str, str], problems: list[str]) -> WebhookAuth | None:
    audience = env.get("WEBHOOK_AUTH_AUDIENCE", "")
    if not audience:
        return None
    tenant = env.get("WEBHOOK_AUTH_TENANT_ID", "")
    principals = tuple(p.strip() for p in env.get("WEBHOOK_ALLOWED_PRINCIPALS", "").split(",") if p.strip())
    if not tenant:
        problems.append("WEBHOOK_AUTH_TENANT_ID: needed with WEBHOOK_AUTH_AUDIENCE")
    if not principals:
        problems.append("WEBHOOK_ALLOWED_PRINCIPALS: needed with WEBHOOK_AUTH_AUDIENCE (who may call)")
    jwks = env.get("WEBHOOK_JWKS_URL") or f"https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys"
    return WebhookAuth(audience, tenant, principals, jwks)


def _feedback(env: Mapping[str, str], get: Callable[[str], str], problems: list[str]) -> FeedbackSettings | None:
    key = _configured(env.get("FEEDBACK_SIGNING_KEY"))
    ttl = _duration(get, "FEEDBACK_TOKEN_TTL", problems)
    if key is None:
        return None
    if len(key) < 32:
        problems.append("FEEDBACK_SIGNING_KEY: too short to sign with; use at least 32 random characters "
                        "(e.g. `openssl rand -base64 48`)")
    base = (env.get("FEEDBACK_BASE_URL") or (f"https://{env['WEBSITE_HOSTNAME']}" if env.get("WEBSITE_HOSTNAME")
                                                else "")).rstrip("/")
    loopback = re.match(r"^http://(127\.0\.0\.1|localhost)(:\d+)?$", base)
    if not base:
        problems.append("FEEDBACK_BASE_URL: not set, and no WEBSITE_HOSTNAME to default to; set the app's "
                        "https:// URL, where the feedback links of alerts point")
    elif not (re.match(r"^https://[A-Za-z0-9.-]+(:\d+)?$", base) or loopback):
        problems.append(f"FEEDBACK_BASE_URL: {base!r} must be https://<host> (no path), or a loopback http:// URL")
    if ttl <= timedelta(0) or ttl > timedelta(days=90):
        problems.append("FEEDBACK_TOKEN_TTL: must be more than 0 and at most 90d")
    return FeedbackSettings(key, base, ttl)
