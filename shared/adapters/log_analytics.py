"""Run durations from Log Analytics: the ``ADFPipelineRun`` table a factory's diagnostic settings fill.

``LogAnalyticsDurations`` is the ``Deps.durations`` callable: (run start, seconds) of the successful runs
of one pipeline that started in a window, oldest first. ADF logs one row per status change of a run
(Queued, InProgress, then Succeeded / Failed / Cancelled), and diagnostic delivery may repeat a row, so
the query keeps each run's newest row before it asks for success. The pipeline name is untrusted text:
it enters the KQL only as an escaped string literal. azure-monitor-query is imported lazily.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from shared.adapters import retry
from shared.adapters.http import NoCredential, default_credential, emulator_auth_policy, is_local_emulator
from shared.adapters.http import retry_after as retry_after_of
from shared.errors import ConfigError, ExternalError, Rejected, Throttled, Unavailable

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.core.exceptions import HttpResponseError
    from azure.monitor.query import LogsQueryClient, LogsQueryResult, LogsTable

log = logging.getLogger(__name__)

PUBLIC_ENDPOINT = "https://api.loganalytics.io"
TABLE = "ADFPipelineRun"
MAX_RUNS = 10_000                 # the newest ones; a 30-day window of five-minute runs is ~8,600
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t"}


def kql_string(value: str) -> str:
    """``value`` as a double-quoted KQL string literal.

    KQL documents escapes for the quote, backslash, tab and newline only, so any other control
    character is refused rather than guessed at (no ADF pipeline name can contain one).
    """
    bad = sorted({f"U+{ord(c):04X}" for c in value if c not in _ESCAPES and unicodedata.category(c) == "Cc"})
    if bad:
        raise Rejected(f"pipeline name {value!r} contains control characters {', '.join(bad)}; "
                       "it cannot be queried in Log Analytics")
    return '"' + "".join(_ESCAPES.get(c, c) for c in value) + '"'


def kql_datetime(value: datetime) -> str:
    return f"datetime({_utc(value).strftime('%Y-%m-%dT%H:%M:%S.%fZ')})"


def durations_query(pipeline: str, since: datetime, until: datetime) -> str:
    """The KQL: each run's newest row, the successful ones that started in [since, until]."""
    return "\n".join([
        TABLE,
        f"| where PipelineName == {kql_string(pipeline)}",
        "| summarize arg_max(TimeGenerated, Status, Start, End) by RunId",
        f'| where Status == "Succeeded" and Start between ({kql_datetime(since)} .. {kql_datetime(until)})',
        "| project RunId, Start, End",
        f"| top {MAX_RUNS} by Start desc",
    ])


class LogAnalyticsDurations:
    """Durations of successful runs of a pipeline, read from one Log Analytics workspace.

    ``endpoint`` defaults to the public cloud; plain http is accepted only for the local emulator, which
    gets a dummy bearer token (the SDK refuses to send real ones over http). ``timeout`` bounds one
    query on the server (``Prefer: wait``) and on the socket; ``retries``, ``backoff`` and ``max_wait``
    (the most one call sleeps in total, Retry-After included) are knobs so tests can make them small.
    The defaults keep a failing lookup near 20 s, inside the webhook's answer time. Thread-safe; the SDK
    client is built on first use.
    """

    def __init__(self, workspace_id: str, *, client_id: str | None = None, endpoint: str | None = None,
                 credential: TokenCredential | None = None, timeout: float = 10.0, retries: int = 1,
                 backoff: float = 1.0, max_wait: float = 5.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        problems = []
        try:
            uuid.UUID(workspace_id)
        except (ValueError, TypeError, AttributeError):
            problems.append(f"LOG_ANALYTICS_WORKSPACE_ID: {workspace_id!r} must be the workspace (customer) "
                            "id, a GUID")
        base = (endpoint or PUBLIC_ENDPOINT).rstrip("/")
        if urlsplit(base).scheme != "https" and not is_local_emulator(base):
            problems.append(f"Log Analytics endpoint {base!r} must be an https URL (plain http is allowed "
                            "only for a local emulator on 127.0.0.1 or localhost)")
        if problems:
            raise ConfigError(problems, "app settings")
        self.workspace_id = workspace_id
        self._endpoint = base
        self._client_id = client_id
        self._credential = credential
        self._timeout = timeout
        self._budget = retry.Budget(retries, backoff, max_backoff=backoff * 2 ** max(retries, 0),
                                    max_wait=max_wait)
        self._sleep = sleep
        self._client: LogsQueryClient | None = None
        self._lock = threading.Lock()

    def __call__(self, pipeline: str, since: datetime, until: datetime) -> list[tuple[datetime, float]]:
        """(start, seconds) of each successful run of ``pipeline`` started in [since, until], oldest first.

        Raises Throttled, Unavailable (also for a partial result: a baseline from part of the history
        would be biased) or Rejected.
        """
        query = durations_query(pipeline, since, until)
        what = f"durations of {pipeline}"
        result = self._query(what, query, (_utc(since), _utc(until)))
        out: list[tuple[datetime, float]] = []
        skipped = 0
        for table in result.tables[:1]:
            for start, end in _rows(what, table, ("Start", "End")):
                start_at, end_at = _as_utc(start), _as_utc(end)
                if start_at is None or end_at is None or end_at < start_at:
                    skipped += 1        # no usable end: a row the query should not have let through
                    continue
                out.append((start_at, (end_at - start_at).total_seconds()))
        if skipped:
            log.warning("Log Analytics rows without a usable start and end skipped",
                        extra={"pipeline": pipeline, "skipped": skipped})
        return sorted(out, key=lambda d: d[0])

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # --- the SDK client and the retry loop ----------------------------------------------------------

    def _get_client(self) -> LogsQueryClient:
        with self._lock:
            if self._client is None:
                self._client = self._build_client()
            return self._client

    def _build_client(self) -> LogsQueryClient:
        from azure.monitor.query import LogsQueryClient

        # Our own loop decides every retry, within max_wait: azure-core's would sleep out any Retry-After.
        options: dict[str, Any] = {"retry_total": 0, "endpoint": self._endpoint}
        if is_local_emulator(self._endpoint):
            options["authentication_policy"] = emulator_auth_policy()
            credential: Any = NoCredential()
        else:
            credential = self._credential or default_credential(self._client_id)
        from shared.adapters.http import azure_transport

        return LogsQueryClient(credential, transport=azure_transport(), **options)

    def _query(self, what: str, query: str, timespan: tuple[datetime, datetime]) -> LogsQueryResult:
        from azure.core.exceptions import (
            AzureError,
            HttpResponseError,
            ServiceRequestError,
            ServiceResponseError,
        )
        from azure.monitor.query import LogsQueryPartialResult

        client = self._get_client()

        def wait_for(exc: Exception, attempt: int) -> float | None:
            if isinstance(exc, HttpResponseError):
                status = exc.status_code
                if status is None or not (status == 429 or status >= 500 or status == 408):
                    return None
                delay = retry_after_of(getattr(exc.response, "headers", None))
                return delay if delay is not None else self._budget.backoff_for(attempt)
            if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
                return self._budget.backoff_for(attempt)
            return None

        try:
            result = retry.call(lambda: client.query_workspace(
                self.workspace_id, query, timespan=timespan, server_timeout=max(1, int(self._timeout)),
                connection_timeout=min(10.0, self._timeout), read_timeout=self._timeout),
                budget=self._budget, wait_for=wait_for, sleep=self._sleep, what=f"Log Analytics {what}", log=log)
        except HttpResponseError as exc:
            if exc.status_code is None:
                raise _unanswered(what, exc) from exc
            raise _mapped(what, exc, exc.status_code,
                          retry_after_of(getattr(exc.response, "headers", None))) from exc
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise _unreachable(what, exc) from exc
        except AzureError as exc:
            raise Unavailable(f"{what}: {exc.message}") from exc
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise Unavailable(f"{what}: Log Analytics answered with a malformed result: {exc!r}") from exc
        if isinstance(result, LogsQueryPartialResult):
            error = result.partial_error
            raise Unavailable(f"{what}: Log Analytics returned a partial result "
                              f"({getattr(error, 'code', '')}: {getattr(error, 'message', '')})")
        return result


def _rows(what: str, table: LogsTable, names: Sequence[str]) -> list[list[Any]]:
    """The named columns of every row; a table without them is a malformed answer."""
    columns = list(table.columns)
    missing = [n for n in names if n not in columns]
    if missing:
        raise Unavailable(f"{what}: Log Analytics answered without columns {missing} (got {columns})")
    index = [columns.index(n) for n in names]
    out = []
    for row in table.rows:
        values = list(row)
        if len(values) == len(columns):
            out.append([values[i] for i in index])
    return out


def _as_utc(value: Any) -> datetime | None:
    if isinstance(value, str):       # the SDK hands back the text when it could not parse a datetime
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return _utc(value) if isinstance(value, datetime) else None


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _unreachable(what: str, failure: Exception) -> ExternalError:
    from azure.core.exceptions import ServiceRequestError

    if isinstance(failure, ServiceRequestError):
        return Unavailable(f"{what}: Log Analytics is unreachable: {failure}")
    return Unavailable(f"{what}: no answer from Log Analytics: {failure}")


def _mapped(what: str, exc: HttpResponseError, status: int, retry_after: float | None) -> ExternalError:
    detail = _detail(exc)
    if status == 429:
        return Throttled(f"{what}: throttled by Log Analytics: {detail}", retry_after=retry_after)
    if status >= 500 or status == 408:
        return Unavailable(f"{what}: Log Analytics answered {status}: {detail}", status=status)
    return Rejected(f"{what}: Log Analytics refused the query ({status}): {detail}", status=status)


def _unanswered(what: str, exc: HttpResponseError) -> ExternalError:
    from azure.core.exceptions import ClientAuthenticationError

    # The SDK re-raises every HttpResponseError as a plain one; the original is its context.
    if isinstance(exc, ClientAuthenticationError) or isinstance(exc.__context__, ClientAuthenticationError):
        return Rejected(f"{what}: could not get a token for Log Analytics (check the managed identity, "
                        f"AZURE_CLIENT_ID and its Log Analytics Reader role): {exc.message}")
    return Unavailable(f"{what}: {exc.message}")


def _detail(exc: HttpResponseError) -> str:
    model = exc.model               # the SDK puts a LogsQueryError (code, innermost message) here ...
    code, message = getattr(model, "code", None), getattr(model, "message", None)
    if not (code or message):       # ... except for the statuses it maps itself (401, 404, 409)
        try:
            error = json.loads(exc.response.text())["error"] if exc.response is not None else {}
            code, message = error.get("code"), error.get("message")
        except (ValueError, TypeError, KeyError, AttributeError):
            pass
    if isinstance(code, str) and isinstance(message, str) and (code or message):
        return f"{code}: {message}"
    return str(exc.reason or exc.message)

