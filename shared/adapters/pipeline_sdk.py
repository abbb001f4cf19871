"""What the azure-core pipeline runners (Data Factory, Synapse) share: one SDK call with the retry loop
and the error mapping, and reading the SDKs' PipelineRun model (the two SDKs share its shape).

Which failures may be repeated is the caller's ``safe`` flag: createRun is repeated only when it cannot
have taken effect (429, or a request that never left); reads also on 5xx, 408 and lost answers.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from shared.adapters import retry
from shared.adapters.http import retry_after
from shared.core.models import PipelineRun, RunStatus
from shared.errors import NotFound, Rejected, Throttled, Unavailable

if TYPE_CHECKING:
    from azure.core.exceptions import HttpResponseError


MAX_PAGES = 1000          # a service answering more pages than this for one query is misbehaving


def call[T](service: str, what: str, fn: Callable[..., T], *args: Any, safe: bool, budget: retry.Budget,
            sleep: Callable[[float], None], connect_timeout: float, read_timeout: float, log: logging.Logger,
            before_retry: Callable[[], None] | None = None, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` with retries; SDK errors mapped onto ``shared.errors``, chained.

    ``safe``: repeating the call cannot cause a second effect. ``service`` names the system in messages.
    """
    from azure.core.exceptions import AzureError, HttpResponseError, ServiceRequestError, ServiceResponseError

    def wait_for(exc: Exception, attempt: int) -> float | None:
        if isinstance(exc, HttpResponseError):
            status = exc.status_code
            if status is None or not (status == 429 or (safe and (status >= 500 or status == 408))):
                return None
            delay = retry_after(getattr(exc.response, "headers", None))
            return delay if delay is not None else budget.backoff_for(attempt)
        if isinstance(exc, ServiceRequestError):    # the request never left: no run can exist
            return budget.backoff_for(attempt)
        if isinstance(exc, ServiceResponseError):   # sent, answer lost: the call may have taken effect
            return budget.backoff_for(attempt) if safe else None
        return None

    try:
        return retry.call(lambda: fn(*args, connection_timeout=connect_timeout, read_timeout=read_timeout, **kwargs),
                          budget=budget, wait_for=wait_for, sleep=sleep, what=f"{service} {what}", log=log,
                          before_retry=before_retry)
    except HttpResponseError as exc:
        if exc.status_code is None:       # no answer to map: a token that could not be had, an odd body
            raise _unanswered(service, what, exc) from exc
        raise _mapped(service, what, exc, exc.status_code,
                      retry_after(getattr(exc.response, "headers", None))) from exc
    except ServiceRequestError as exc:
        raise Unavailable(f"{what}: {service} is unreachable: {exc.message}") from exc
    except ServiceResponseError as exc:
        raise Unavailable(f"{what}: no answer from {service} ({exc.message}); "
                          "the call may have taken effect") from exc
    except AzureError as exc:
        raise Unavailable(f"{what}: {exc.message}") from exc


def _mapped(service: str, what: str, exc: HttpResponseError, status: int, retry_after: float | None) -> Exception:
    detail = _detail(exc)
    if status == 404:
        return NotFound(f"{what}: not found: {detail}", status=status)
    if status == 429:
        return Throttled(f"{what}: throttled by {service}: {detail}", retry_after=retry_after)
    if status >= 500 or status == 408:
        return Unavailable(f"{what}: {service} answered {status}: {detail}", status=status)
    return Rejected(f"{what}: {service} refused ({status}): {detail}", status=status)


def _unanswered(service: str, what: str, exc: HttpResponseError) -> Exception:
    from azure.core.exceptions import ClientAuthenticationError

    if isinstance(exc, ClientAuthenticationError):
        return Rejected(f"{what}: could not get a token for {service} (check the managed identity "
                        f"and AZURE_CLIENT_ID): {exc.message}")
    return Unavailable(f"{what}: {exc.message}")


def _detail(exc: HttpResponseError) -> str:
    error = exc.error
    if error is not None and (error.code or error.message):
        return f"{error.code}: {error.message}"
    return str(exc.reason or exc.message)


def to_run(run: Any) -> PipelineRun:
    """An SDK PipelineRun model (ADF's or Synapse's) as the app's PipelineRun; parameters as text."""
    parameters = {str(k): v if isinstance(v, str) else json.dumps(v)
                  for k, v in (run.parameters or {}).items()}
    return PipelineRun(run_id=run.run_id or "", pipeline=run.pipeline_name or "",
                       status=RunStatus.of(run.status), parameters=MappingProxyType(parameters),
                       run_start=optional_utc(run.run_start), run_end=optional_utc(run.run_end),
                       message=run.message or "")


def activity(a: Any) -> dict[str, Any]:
    """An SDK ActivityRun model as the port's activity dict (``output``: the activity's output object)."""
    error = a.error if isinstance(a.error, Mapping) else {}
    output = a.output if isinstance(a.output, Mapping) else {}
    return {"activity": a.activity_name or "", "type": a.activity_type or "", "status": a.status or "",
            "error": str(error.get("message") or ""), "error_code": str(error.get("errorCode") or ""),
            "output": dict(output), "start": iso(a.activity_run_start), "end": iso(a.activity_run_end)}


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def optional_utc(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


def iso(value: datetime | None) -> str:
    return "" if value is None else utc(value).isoformat()


def activity_window(run: PipelineRun) -> tuple[datetime, datetime]:
    """The lastUpdated window an activity-run query of ``run`` needs: its run, an hour either side."""
    now = datetime.now(UTC)
    return ((run.run_start or now - timedelta(days=1)) - timedelta(hours=1),
            max(run.run_end or now, now) + timedelta(hours=1))


def json_parameters(pipeline: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The run's parameters as a JSON object, or Rejected before any call."""
    body = dict(parameters)
    try:
        json.dumps(body)
    except (TypeError, ValueError) as exc:
        raise Rejected(f"parameters of pipeline {pipeline} are not JSON: {exc}") from exc
    return body


class SdkRunner[C](ABC):
    """What both azure-core runners keep: the retry budget and timeouts, the SDK client built on first
    use under a lock (thread-safe), ``close``, and one ``_call`` through the retry loop. Subclasses name
    their ``SERVICE`` and build their client in ``_build_client``."""

    SERVICE = ""
    log = logging.getLogger(__name__)

    def __init__(self, endpoint: str, credential: Any, *, retries: int, backoff: float, max_backoff: float,
                 max_wait: float, connect_timeout: float, read_timeout: float,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._endpoint = endpoint
        self._credential = credential
        self._budget = retry.Budget(retries, backoff, max_backoff, max_wait)
        self._connect_timeout, self._read_timeout = connect_timeout, read_timeout
        self._sleep = sleep
        self._client: C | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()  # type: ignore[attr-defined]
                self._client = None

    def _get_client(self) -> C:
        with self._lock:
            if self._client is None:
                self._client = self._build_client()
            return self._client

    @abstractmethod
    def _build_client(self) -> C:
        """Each runner builds its own SDK client."""

    def _all_pages(self, what: str, fetch: Callable[..., Any]) -> list[Any]:
        """Every item of a query answered in pages: ``fetch(token, **timeouts)`` makes the SDK call for
        one page (``value``, ``continuation_token``), passing the timeouts on; each page is called through
        the retry loop."""
        items: list[Any] = []
        token: str | None = None
        for _ in range(MAX_PAGES):
            page = self._call(what, fetch, token, safe=True)
            items.extend(page.value or [])
            if not page.continuation_token or page.continuation_token == token:
                return items
            token = page.continuation_token
        raise Unavailable(f"{what}: more than {MAX_PAGES} pages; giving up")

    def _call[T](self, what: str, fn: Callable[..., T], *args: Any, safe: bool,
                 before_retry: Callable[[], None] | None = None, **kwargs: Any) -> T:
        """Call the SDK with retries. ``safe``: repeating the call cannot cause a second effect."""
        return call(self.SERVICE, what, fn, *args, safe=safe, budget=self._budget, sleep=self._sleep,
                    connect_timeout=self._connect_timeout, read_timeout=self._read_timeout, log=self.log,
                    before_retry=before_retry, **kwargs)
