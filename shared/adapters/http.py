"""HTTP sessions for the SDK clients and our own requests calls.

``requests`` re-reads the environment on every call (proxy variables, ~/.netrc, CA bundle paths):
about 20 file-system and environment lookups per request, measurable on a busy webhook. These
sessions read the environment once instead: a CA bundle named by REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE
is pinned on the session, and only when proxy variables are set does a session keep reading the
environment per call (so NO_PROXY keeps its exact meaning).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

_PROXY_KEYS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def _env(key: str) -> str:
    return os.environ.get(key) or os.environ.get(key.lower()) or ""


def proxies_configured() -> bool:
    return any(_env(k) for k in _PROXY_KEYS)


def configure(session: Any) -> Any:
    """Read the environment once into ``session``."""
    session.trust_env = proxies_configured()
    bundle = _env("REQUESTS_CA_BUNDLE") or _env("CURL_CA_BUNDLE")
    if bundle and not session.trust_env:
        session.verify = bundle
    return session


def session() -> Any:
    import requests

    return configure(requests.Session())


def azure_transport(connection_timeout: float = 10, read_timeout: float = 60) -> Any:
    """A transport for azure-core clients (pass as ``transport=``; it carries the timeouts)."""
    from azure.core.pipeline.transport import RequestsTransport

    class _Transport(RequestsTransport):  # type: ignore[misc]
        def _init_session(self, session: Any) -> None:
            super()._init_session(session)
            configure(session)

    return _Transport(use_env_settings=proxies_configured(), connection_timeout=connection_timeout,
                      read_timeout=read_timeout)


def is_local_emulator(endpoint: str) -> bool:
    """Only the sandbox's emulators may be reached over plain http (and get a dummy bearer token)."""
    from urllib.parse import urlsplit

    parts = urlsplit(endpoint)
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")


class NoCredential:
    """Stands where an SDK wants a credential when ``emulator_auth_policy`` sets the header itself."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        raise RuntimeError("a local emulator needs no token")


def emulator_auth_policy() -> Any:
    """The SDKs refuse bearer tokens over http; the emulators only check that one is present."""
    from azure.core.pipeline import PipelineRequest
    from azure.core.pipeline.policies import SansIOHTTPPolicy

    class EmulatorBearer(SansIOHTTPPolicy):  # type: ignore[type-arg]
        def on_request(self, request: PipelineRequest[Any]) -> None:
            request.http_request.headers["Authorization"] = "Bearer sandbox-emulator"

    return EmulatorBearer()


def default_credential(client_id: str | None) -> Any:
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(managed_identity_client_id=client_id)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds (a number of seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds a response asks us to wait: Azure's retry-after-ms headers first, then Retry-After."""
    lowered = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        try:
            return max(0.0, float(lowered[name]) / 1000)
        except (KeyError, ValueError):
            continue
    return parse_retry_after(lowered.get("retry-after"))


def json_object(response: Any, what: str) -> dict[str, Any]:
    """A response's JSON object body; an answer that is not one is Unavailable (a proxy's page, a cut body)."""
    from shared.errors import Unavailable

    try:
        body = response.json()
    except ValueError as exc:
        raise Unavailable(f"{what}: the answer is not JSON", status=response.status_code) from exc
    if not isinstance(body, dict):
        raise Unavailable(f"{what}: the answer is not a JSON object", status=response.status_code)
    return body
