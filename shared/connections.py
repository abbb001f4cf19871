"""How to reach the systems the app talks to: the connection types the adapters take.

Built by the app-settings reader (``shared.settings``) and by tests and the sandbox; adapters import
these, never the settings reader (import-linter keeps it so).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StorageTarget:
    """How to reach one storage account: a connection string, or an account name + identity."""

    connection_string: str | None = None
    account_name: str | None = None
    client_id: str | None = None

    def endpoint(self, service: str) -> str:
        return f"https://{self.account_name}.{service}.core.windows.net"


@dataclass(frozen=True)
class FactoryRef:
    subscription_id: str
    resource_group: str
    factory_name: str
    endpoint: str
    client_id: str | None = None
    request_timeout: float = 30.0       # seconds one ARM request may take (connecting: at most 10 of them)
    retry_wait: float = 60.0            # seconds one call may sleep in all between retries


@dataclass(frozen=True)
class SynapseRef:
    """A Synapse workspace's development endpoint (https://<workspace>.dev.azuresynapse.net)."""

    endpoint: str
    workspace: str                      # its name: what a pipeline's Web activity reports as the workspace
    client_id: str | None = None


@dataclass(frozen=True)
class FabricRef:
    """A Fabric workspace and the Fabric REST API that runs its Data pipelines."""

    workspace_id: str
    api_url: str
    client_id: str | None = None


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    user: str | None
    password: str | None
    tls: str
    sender: str


@dataclass(frozen=True)
class WebhookAuth:
    audience: str
    tenant_id: str
    allowed_principals: tuple[str, ...]
    jwks_url: str
