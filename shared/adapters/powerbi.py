"""Power BI semantic model (dataset) refreshes over the Power BI REST API: the DatasetRefresher port.

``requests`` and azure-identity are imported lazily. The bearer token comes from the function's managed
identity (or an injected provider) and never reaches a log line or an error message. Answers map onto
``shared.errors``: 429 and the daily refresh limit → Throttled, a refresh already running → Conflict,
other 4xx → Rejected, 5xx and transport failures → Unavailable.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from shared.adapters import retry
from shared.adapters.http import json_object, retry_after
from shared.errors import (
    ConfigError,
    Conflict,
    ExternalError,
    NotFound,
    Rejected,
    Throttled,
    Unauthenticated,
    Unavailable,
)
from shared.ports import RefreshState

log = logging.getLogger(__name__)

POWERBI_API = "https://api.powerbi.com/v1.0/myorg"
POWERBI_SCOPE = "https://analysis.windows.net/powerbi/api/.default"
HISTORY_DEFAULT_TOP = 60          # what the service returns when $top is not given
IN_PROGRESS = ("Unknown", "NotStarted")
TokenProvider = Callable[[], str]

# Power BI answers both of these with a 400 (a 409 for enhanced refreshes), told apart by the message:
#   "Invalid dataset refresh request. Another refresh request is already executing"
#   "Invalid dataset refresh request. Number of refresh requests in last 24 hours exceeded limit"
_RUNNING_HINTS = ("already executing", "already in progress", "already running", "in progress")
_DAILY_LIMIT_HINTS = ("exceeded limit", "number of refresh requests")


class ManagedIdentityToken:
    """A token provider over DefaultAzureCredential, cached until a few minutes before it expires."""

    def __init__(self, scope: str = POWERBI_SCOPE, client_id: str | None = None) -> None:
        self._scope = scope
        self._client_id = client_id
        self._credential: Any = None
        self._token = ""
        self._expires_on = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            if not self._token or time.time() > self._expires_on - 300:
                if self._credential is None:
                    from azure.identity import DefaultAzureCredential

                    self._credential = DefaultAzureCredential(managed_identity_client_id=self._client_id)
                access = self._credential.get_token(self._scope)
                self._token, self._expires_on = access.token, float(access.expires_on)
            return self._token


class PowerBIRefresher:
    """DatasetRefresher over ``{base_url}/groups/{workspace}/datasets/{dataset}/refreshes``.

    Reads (history, execution details) are retried a few times on 429/5xx/transport errors when the
    wait is short; a refresh request (POST) is never retried here, because a lost answer may still
    have started a refresh: the caller checks the history first.
    """

    def __init__(self, *, base_url: str = POWERBI_API, client_id: str | None = None,
                 token_provider: TokenProvider | None = None, timeout: tuple[float, float] = (5.0, 30.0),
                 read_retries: int = 2, max_retry_wait: float = 5.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._base = check_endpoint(base_url, "Power BI API URL").rstrip("/")
        self._token = token_provider or ManagedIdentityToken(POWERBI_SCOPE, client_id)
        self._timeout = timeout
        self._read_retries = max(0, read_retries)
        self._max_retry_wait = max_retry_wait
        self._sleep = sleep
        self._local = threading.local()

    # -- the port ----------------------------------------------------------------------------------

    def latest_refresh(self, workspace: str, dataset: str) -> RefreshState | None:
        entries = self._history(workspace, dataset, top=1)
        return entries[0] if entries else None

    def start_refresh(self, workspace: str, dataset: str, options: Mapping[str, Any] | None = None) -> str:
        body = dict(options or {})
        if "notifyOption" in body and len(body) > 1:
            raise Rejected("Power BI refresh options: notifyOption applies only to a standard refresh; "
                           "remove it when enhanced options (type, commitMode, objects, …) are given")
        what = f"refresh of dataset {dataset} in workspace {workspace}"
        response = self._call("POST", self._refreshes(workspace, dataset), what, json_body=body, retries=0)
        headers = response.headers
        request_id = request_id_from(headers.get("Location", ""), headers.get("RequestId", ""))
        if not request_id:
            raise ExternalError(f"{what}: Power BI accepted the request but named no request id",
                                status=response.status_code)
        # The use case logs "power bi refresh requested" with the app's dataset an operator looks for.
        log.debug("refresh answered", extra={"workspace": workspace, "powerbi_dataset": dataset,
                                                      "request_id": request_id, "enhanced": bool(body)})
        return request_id

    def get_refresh(self, workspace: str, dataset: str, request_id: str) -> RefreshState:
        what = f"refresh {request_id} of dataset {dataset}"
        url = f"{self._refreshes(workspace, dataset)}/{quote(request_id, safe='')}"
        try:
            response = self._call("GET", url, what)
        except (NotFound, Rejected) as exc:
            if exc.status in (401, 403):
                raise
            # Execution details exist for enhanced refreshes only; a standard one is found in the history.
            for state in self._history(workspace, dataset, top=HISTORY_DEFAULT_TOP):
                if state.request_id == request_id:
                    return state
            raise NotFound(f"{what}: not in the refresh history", status=404) from exc
        return state_from_details(request_id, response.status_code, json_object(response, what))

    # -- plumbing ----------------------------------------------------------------------------------

    def _refreshes(self, workspace: str, dataset: str) -> str:
        return f"{self._base}/groups/{quote(workspace, safe='')}/datasets/{quote(dataset, safe='')}/refreshes"

    def _history(self, workspace: str, dataset: str, top: int) -> list[RefreshState]:
        what = f"refresh history of dataset {dataset}"
        response = self._call("GET", self._refreshes(workspace, dataset), what, params={"$top": str(top)})
        entries = json_object(response, what).get("value")
        if not isinstance(entries, list):
            raise Unavailable(f"{what}: the answer has no 'value' list", status=response.status_code)
        return [state_from_history(e) for e in entries if isinstance(e, dict)]

    def _session(self) -> Any:
        session = getattr(self._local, "session", None)
        if session is None:
            from shared.adapters.http import session as new_session

            session = self._local.session = new_session()
        return session

    def _call(self, method: str, url: str, what: str, *, json_body: Any = None,
              params: Mapping[str, str] | None = None, retries: int | None = None) -> Any:
        import requests

        def attempt() -> Any:
            try:
                token = self._token()
            except Exception as exc:
                # Credential errors can be long; their type is enough and never carries the token.
                raise Unauthenticated(f"{what}: no token for Power BI ({type(exc).__name__})") from exc
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            try:
                response = self._session().request(method, url, headers=headers, params=params,
                                                   json=json_body if method == "POST" else None,
                                                   timeout=self._timeout, allow_redirects=False)
            except requests.RequestException as exc:
                raise Unavailable(f"{what}: cannot reach Power BI ({type(exc).__name__})") from exc
            if 200 <= response.status_code < 300:
                return response
            raise error_for(response, what)

        def wait_for(exc: Exception, tries: int) -> float | None:
            if isinstance(exc, Unauthenticated) or not isinstance(exc, ExternalError):
                return None
            wait = _retry_wait(exc, tries)
            return wait if wait is not None and wait <= self._max_retry_wait else None

        count = self._read_retries if retries is None else retries
        budget = retry.Budget(count, max_wait=self._max_retry_wait * max(count, 1))
        return retry.call(attempt, budget=budget, wait_for=wait_for, sleep=self._sleep, what=f"Power BI {what}",
                          log=log)


def _retry_wait(error: ExternalError, tries: int) -> float | None:
    if isinstance(error, Throttled):
        return error.retry_after if error.status == 429 else None     # the daily limit is not retried
    if isinstance(error, Unavailable):
        return 0.5 * 2.0 ** tries
    return None


def error_for(response: Any, what: str) -> ExternalError:
    """Map a non-2xx Power BI answer onto the error tree (the message never includes request headers)."""
    status = int(response.status_code)
    code, message = _error_text(response)
    detail = f"{code}: {message}" if code and message else (code or message or f"HTTP {status}")
    lowered = detail.lower()
    if status == 429:
        return Throttled(f"{what}: throttled by Power BI ({detail})", status=429,
                         retry_after=retry_after(response.headers))
    if status in (400, 409) and any(h in lowered for h in _DAILY_LIMIT_HINTS):
        return Throttled(f"{what}: the dataset's daily refresh limit is reached ({detail})",
                         status=status, retry_after=None)
    if status == 409 or (status == 400 and any(h in lowered for h in _RUNNING_HINTS)):
        return Conflict(f"{what}: a refresh is already in progress ({detail})", status=status)
    if status == 404:
        return NotFound(f"{what}: not found ({detail})", status=404)
    if status >= 500:
        return Unavailable(f"{what}: Power BI error {status} ({detail})", status=status)
    return Rejected(f"{what}: refused with {status} ({detail})", status=status)


def _error_text(response: Any) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        text = (response.text or "").strip()
        return "", text[:300]
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("code") or "")[:100], str(error.get("message") or "")[:300]
        if isinstance(body.get("message"), str):
            return "", body["message"][:300]
    return "", ""


def request_id_from(location: str, request_id_header: str) -> str:
    """The refresh's id: the last segment of ``…/refreshes/{id}`` in Location, else the RequestId header."""
    path = urlsplit(location).path if location else ""
    _, sep, tail = path.rstrip("/").rpartition("/refreshes/")
    if sep and tail and "/" not in tail:
        return tail
    return request_id_header.strip()


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _normal_status(raw: Any, in_progress: bool = False) -> str:
    status = str(raw or "Unknown")
    if status in ("InProgress", "Running", "Queued"):
        return "Unknown"
    if status == "TimedOut":
        return "Failed"
    if in_progress and status not in IN_PROGRESS:
        return "Unknown"
    return status


def _service_exception(raw: Any) -> str:
    if not isinstance(raw, str) or not raw:
        return ""
    try:
        parsed = json.loads(raw)
    except ValueError:
        return raw[:1000]
    if isinstance(parsed, dict):
        code = parsed.get("errorCode") or parsed.get("code") or ""
        text = parsed.get("errorDescription") or parsed.get("message") or ""
        return (f"{code}: {text}" if code and text else str(code or text or raw))[:1000]
    return raw[:1000]


def state_from_history(entry: Mapping[str, Any]) -> RefreshState:
    """One entry of GET …/refreshes (the refresh history)."""
    status = _normal_status(entry.get("status"))
    error = _service_exception(entry.get("serviceExceptionJson"))
    if status == "Failed" and not error:
        error = "the refresh failed without an error description"
    return RefreshState(str(entry.get("requestId") or entry.get("id") or ""), status,
                        parse_time(entry.get("startTime")), parse_time(entry.get("endTime")), error)


def state_from_details(request_id: str, http_status: int, body: Mapping[str, Any]) -> RefreshState:
    """The answer of GET …/refreshes/{id} (execution details; 202 while the refresh still runs)."""
    status = _normal_status(body.get("status"), in_progress=http_status == 202)
    raw_messages = body.get("messages")
    messages = raw_messages if isinstance(raw_messages, list) else []
    errors = [f"{m.get('code') or 'Error'}: {m.get('message') or ''}".rstrip(": ")
              for m in messages if isinstance(m, dict) and str(m.get("type", "Error")) == "Error"]
    error = "; ".join(errors)[:1000] or _service_exception(body.get("serviceExceptionJson"))
    if status == "Failed" and not error:
        error = str(body.get("extendedStatus") or "the refresh failed without an error description")
    return RefreshState(request_id, status, parse_time(body.get("startTime")),
                        parse_time(body.get("endTime")), error)


def check_endpoint(url: str, what: str) -> str:
    """Refuse an endpoint a bearer token must not travel to: https only, plain http for loopback only."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1"):
        return url
    raise ConfigError([f"{what} must be an https URL (plain http only for a local emulator on loopback)"],
                      "Power BI adapter")
