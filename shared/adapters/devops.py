"""Azure DevOps work items over the REST API (``_apis/wit``, api-version 7.1): the WorkItems port.

The bearer token comes from the function's managed identity for Azure DevOps' resource
(``499b84ac-1321-427f-aa17-267ca6975798``), or an injected provider, and never reaches a log line or an
error message. Answers map onto ``shared.errors``: 429 → Throttled (Retry-After kept), 5xx and transport
failures → Unavailable, 401/403 and a sign-in page (Azure DevOps answers 203 with HTML to an identity it
does not know) → Rejected, other 4xx → Rejected, 404 → NotFound.

Which calls repeat: reads (the WIQL search) and the state update (setting a field to the same value twice
is harmless) retry 429 and 5xx; creating an item and adding a comment retry only a 429, which did
nothing. A create whose answer was lost is found again by its tag, by the caller.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from shared.adapters import retry
from shared.adapters.http import retry_after
from shared.adapters.powerbi import ManagedIdentityToken
from shared.errors import ConfigError, ExternalError, NotFound, Rejected, Throttled, Unauthenticated, Unavailable

log = logging.getLogger(__name__)

DEVOPS_API = "https://dev.azure.com"
DEVOPS_SCOPE = "499b84ac-1321-427f-aa17-267ca6975798/.default"   # Azure DevOps' resource, any organization
API_VERSION = "7.1"
COMMENTS_API_VERSION = "7.1-preview.4"                        # the comments API is still a preview
JSON_PATCH = "application/json-patch+json"
TokenProvider = Callable[[], str]


def check_endpoint(url: str) -> str:
    """https only; plain http for the sandbox's emulator on loopback. A token must not travel elsewhere."""
    parts = urlsplit(url)
    if parts.hostname and (parts.scheme == "https" or (
            parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1"))):
        return url.rstrip("/")
    raise ConfigError(["DEVOPS_API_URL must be an https URL (plain http only for a local emulator on loopback)"],
                      "Azure DevOps adapter")


def wiql_string(value: str) -> str:
    """``value`` as a WIQL string literal (single quotes, doubled inside)."""
    return "'" + value.replace("'", "''") + "'"


class DevOpsWorkItems:
    """WorkItems over ``{base_url}/{organization}/{project}/_apis/wit/…``."""

    def __init__(self, *, base_url: str = DEVOPS_API, client_id: str | None = None,
                 token_provider: TokenProvider | None = None, timeout: tuple[float, float] = (5.0, 30.0),
                 retries: int = 3, max_retry_wait: float = 30.0, sleep: Callable[[float], None] = time.sleep) -> None:
        self._base = check_endpoint(base_url)
        self._token = token_provider or ManagedIdentityToken(DEVOPS_SCOPE, client_id)
        self._timeout = timeout
        self._retries = max(0, retries)
        self._max_retry_wait = max_retry_wait
        self._sleep = sleep
        self._session: Any = None

    # -- the port ----------------------------------------------------------------------------------

    def find_by_tag(self, organization: str, project: str, tag: str) -> list[int]:
        # WIQL, not SQL: the tag enters only as an escaped string literal.
        query = ("SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project "  # noqa: S608
                 f"AND [System.Tags] CONTAINS {wiql_string(tag)} ORDER BY [System.Id]")
        body = self._call("POST", self._url(organization, project, "wiql"), f"search for tag {tag}",
                          json_body={"query": query}, idempotent=True)
        items = body.get("workItems")
        if not isinstance(items, list):
            raise Unavailable(f"search for tag {tag}: the answer has no 'workItems' list")
        return sorted(int(i["id"]) for i in items if isinstance(i, dict) and str(i.get("id", "")).isdigit())

    def create(self, organization: str, project: str, work_item_type: str,
               document: Sequence[Mapping[str, Any]]) -> int:
        what = f"create a {work_item_type} in {organization}/{project}"
        body = self._call("POST", self._url(organization, project, f"workitems/${quote(work_item_type, safe='')}"),
                          what, json_body=list(document), content_type=JSON_PATCH, idempotent=False)
        item = body.get("id")
        if not isinstance(item, int):
            raise ExternalError(f"{what}: Azure DevOps answered without a work item id")
        return item

    def comment(self, organization: str, project: str, work_item_id: int, text: str) -> None:
        self._call("POST", self._url(organization, project, f"workItems/{int(work_item_id)}/comments",
                                     COMMENTS_API_VERSION),
                   f"comment on work item {work_item_id}", json_body={"text": text}, idempotent=False)

    def update(self, organization: str, project: str, work_item_id: int,
               document: Sequence[Mapping[str, Any]]) -> None:
        self._call("PATCH", self._url(organization, project, f"workitems/{int(work_item_id)}"),
                   f"update work item {work_item_id}", json_body=list(document), content_type=JSON_PATCH,
                   idempotent=True)

    # -- plumbing ----------------------------------------------------------------------------------

    def _url(self, organization: str, project: str, tail: str, version: str = API_VERSION) -> str:
        return (f"{self._base}/{quote(organization, safe='')}/{quote(project, safe='')}/_apis/wit/{tail}"
                f"?api-version={version}")

    def _requests(self) -> Any:
        if self._session is None:
            from shared.adapters.http import session

            self._session = session()
        return self._session

    def _call(self, method: str, url: str, what: str, *, json_body: Any, idempotent: bool,
              content_type: str = "application/json") -> dict[str, Any]:
        import json

        import requests

        def attempt() -> dict[str, Any]:
            try:
                token = self._token()
            except Exception as exc:
                # Credential errors can be long; their type is enough and never carries the token.
                raise Unauthenticated(f"{what}: no token for Azure DevOps ({type(exc).__name__})") from exc
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json",
                       "Content-Type": content_type}
            try:
                response = self._requests().request(method, url, headers=headers, data=json.dumps(json_body),
                                                    timeout=self._timeout, allow_redirects=False)
            except requests.RequestException as exc:
                raise Unavailable(f"{what}: cannot reach Azure DevOps ({type(exc).__name__})") from exc
            return answer(response, what)

        def wait_for(exc: Exception, tries: int) -> float | None:
            if isinstance(exc, Throttled):
                return exc.retry_after if exc.retry_after is not None else min(2.0 ** tries, 30.0)
            if idempotent and isinstance(exc, Unavailable):
                return min(0.5 * 2.0 ** tries, 30.0)
            return None

        budget = retry.Budget(self._retries, max_wait=self._max_retry_wait)
        return retry.call(attempt, budget=budget, wait_for=wait_for, sleep=self._sleep,
                          what=f"Azure DevOps {what}", log=log)


def answer(response: Any, what: str) -> dict[str, Any]:
    """The JSON object of a 2xx answer; otherwise the error it maps to (never quoting request headers)."""
    status = int(response.status_code)
    if status == 203 or (200 <= status < 300 and "json" not in response.headers.get("Content-Type", "json")):
        raise Rejected(f"{what}: Azure DevOps answered with a sign-in page: the app's identity is not a "
                       "user of the organization (add it, see the README)", status=status)
    if 200 <= status < 300:
        try:
            body = response.json() if response.content else {}
        except ValueError as exc:
            raise Unavailable(f"{what}: the answer is not JSON", status=status) from exc
        return body if isinstance(body, dict) else {}
    detail = _error_text(response) or f"HTTP {status}"
    if status == 429:
        raise Throttled(f"{what}: throttled by Azure DevOps ({detail})", status=429,
                        retry_after=retry_after(response.headers))
    if status >= 500:
        raise Unavailable(f"{what}: Azure DevOps error {status} ({detail})", status=status)
    if status == 404:
        raise NotFound(f"{what}: not found ({detail})", status=404)
    if status in (401, 403):
        raise Rejected(f"{what}: the app's identity may not do this in Azure DevOps ({detail}); see the README "
                       "for the access it needs", status=status)
    raise Rejected(f"{what}: refused with {status} ({detail})", status=status)


def _error_text(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return (response.text or "").strip()[:300]
    if isinstance(body, dict):
        return f"{body.get('typeKey', '')}: {body.get('message', '')}".strip(": ")[:300]
    return ""
