"""Microsoft Fabric Data pipelines as the app's ``PipelineRunner``, over the Fabric REST job scheduler.

A run is an on-demand ``Pipeline`` job of the pipeline's item (202 + Location; the run id is the job
instance id). createRun is retried only when it cannot have taken effect (429, a TooManyRequestsForJobs
refusal, or a request that never left); a 5xx or a lost answer raises ``Unavailable``. Reads retry on
429/5xx/408 honouring Retry-After. Errors are Fabric's flat ``{"errorCode", "message"}`` bodies, mapped
onto ``shared.errors``. ``requests`` and azure-identity are imported lazily; the token (scope
https://api.fabric.microsoft.com/.default) never reaches a log line.

Reconciliation differs from ADF and Synapse: a job instance does not report the parameters it was
started with, so a run cannot be found by its batch id. ``find_started_run`` finds it by time instead:
the earliest manual job instance of the item that started within the start attempt's window and that
no other claim has recorded. That is exact as long as one item has at most one start awaiting
reconciliation at a time (the caller's rule; the README's "Synapse and Fabric" note says more).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any
from urllib.parse import quote, urlsplit

from shared.adapters import pipeline_sdk, retry
from shared.adapters.http import is_local_emulator, json_object, retry_after
from shared.core.models import PipelineRun, RunStatus
from shared.errors import ConfigError, ExternalError, NotFound, Rejected, Throttled, Unavailable

log = logging.getLogger(__name__)

FABRIC_API = "https://api.fabric.microsoft.com/v1"
FABRIC_SCOPE = "https://api.fabric.microsoft.com/.default"
MAX_PAGES = 1000
# Fabric job statuses (more "may be added over time": those count as still running).
STATUS = {"NotStarted": RunStatus.QUEUED, "InProgress": RunStatus.IN_PROGRESS, "Completed": RunStatus.SUCCEEDED,
          "Failed": RunStatus.FAILED, "Cancelled": RunStatus.CANCELLED,
          # A deduplicated instance never ran (another instance of the job was running): finished, no outputs.
          "Deduped": RunStatus.CANCELLED}
TokenProvider = Callable[[], str]


class FabricRunner:
    """Runs Data pipelines of one Fabric workspace. Thread-safe.

    ``items`` maps pipeline names (what the config and the webhook say) to item ids; a name that is
    not in it is taken as an item id. ``token_provider`` returns a bearer token (default: the managed
    identity, ``client_id`` for a user-assigned one).
    """

    def __init__(self, workspace_id: str, items: Mapping[str, str], *, base_url: str = FABRIC_API,
                 client_id: str | None = None, token_provider: TokenProvider | None = None, retries: int = 3,
                 backoff: float = 1.0, max_backoff: float = 30.0, max_wait: float = 60.0,
                 connect_timeout: float = 10.0, read_timeout: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        base = base_url.rstrip("/")
        parts = urlsplit(base)
        local = is_local_emulator(base)
        if not (parts.scheme == "https" and parts.hostname) and not local:
            raise ConfigError([f"Fabric API URL {base!r} must be an https URL (plain http is allowed only for a "
                               "local emulator on 127.0.0.1 or localhost)"], "app settings")
        self._base, self._workspace = base, workspace_id
        self._items = dict(items)
        self._names = {item.lower(): name for name, item in self._items.items()}
        if token_provider is None:
            token_provider = _emulator_token if local else _managed_identity_token(client_id)
        self._token: TokenProvider = token_provider
        self._budget = retry.Budget(retries, backoff, max_backoff, max_wait)
        self._timeout = (connect_timeout, read_timeout)
        self._sleep = sleep
        self._run_items: dict[str, str] = {}        # run id → item id, for runs this process started
        self._lock = threading.Lock()
        self._local = threading.local()
        # How long after a claim a job instance it caused can have started: every attempt and wait, plus skew.
        self.start_window = timedelta(seconds=(retries + 1) * (connect_timeout + read_timeout) + max_wait + 300)

    # --- the port -----------------------------------------------------------------------------------

    def start_run(self, pipeline: str, parameters: Mapping[str, Any], *,
                  before_retry: Callable[[], None] | None = None) -> str:
        """Run On Demand Item Job. Raises Rejected, Throttled or Unavailable (the run may then exist:
        reconcile with ``find_started_run``)."""
        body = {"executionData": {"parameters": pipeline_sdk.json_parameters(pipeline, parameters)}}
        item = self._item(pipeline)
        response = self._call("POST", f"{self._jobs(item)}/instances?jobType=Pipeline", f"run {pipeline}",
                              json_body=body, safe=False, before_retry=before_retry)
        run_id = job_instance_from(response.headers.get("Location", ""))
        if response.status_code != 202 or not run_id:
            raise Unavailable(f"run {pipeline}: Fabric answered {response.status_code} without a job instance in "
                              "Location; the run may exist", status=response.status_code)
        with self._lock:
            self._run_items[run_id] = item
            while len(self._run_items) > 1000:                 # a cache, not a record: the oldest go first
                del self._run_items[next(iter(self._run_items))]
        log.debug("job instance started", extra={"pipeline": pipeline, "run_id": run_id, "engine": "fabric"})
        return run_id

    @property
    def worst_case_start_seconds(self) -> float:
        """The longest one start_run can take, retries included (CLAIM_TIMEOUT must exceed it)."""
        connect, read = self._timeout
        return self._budget.worst_case_seconds(connect + read)

    def get_run(self, run_id: str) -> PipelineRun:
        """One job instance. Raises NotFound when no configured item has it."""
        with self._lock:
            known = self._run_items.get(run_id)
        for item in [known] if known else list(dict.fromkeys(self._items.values())):
            try:
                response = self._call("GET", f"{self._jobs(item)}/instances/{quote(run_id, safe='')}",
                                      f"get run {run_id}", safe=True)
            except NotFound:
                continue
            return self.to_run(json_object(response, f"get run {run_id}"))
        raise NotFound(f"get run {run_id}: no job instance of that id in the configured items", status=404)

    def query_runs(self, pipeline: str, since: datetime, until: datetime) -> list[PipelineRun]:
        """Job instances of the pipeline's item last updated (ended, else started) in [since, until].

        Their ``parameters`` are empty: Fabric does not report them (see ``find_started_run``). Fabric
        keeps about the 100 most recent finished instances of an item; older ones are not listed."""
        runs = []
        since, until = pipeline_sdk.utc(since), pipeline_sdk.utc(until)
        for instance in self._list(self._item(pipeline), f"list runs of {pipeline}"):
            run = self.to_run(instance)
            updated = run.run_end or run.run_start
            if updated is None or since <= updated <= until:
                runs.append(run)
        return runs

    def query_activity_runs(self, run_id: str) -> list[dict[str, str]]:
        """The job scheduler has no activity runs: the instance's status and failure reason stand in."""
        run = self.get_run(run_id)
        return [{"activity": run.pipeline, "type": "Pipeline", "status": run.status.value, "error": run.message,
                 "start": pipeline_sdk.iso(run.run_start), "end": pipeline_sdk.iso(run.run_end)}]

    # --- beyond the port ----------------------------------------------------------------------------

    def find_started_run(self, pipeline: str, *, claimed_at: datetime,
                         known_run_ids: Collection[str] = ()) -> PipelineRun | None:
        """The run a lost start answer may have created: the earliest manual job instance of the item that
        started in [claimed_at - 5 min, claimed_at + start_window] and is not in ``known_run_ids`` (the
        runs other claims recorded). None when there is none: the start did not take effect."""
        claimed_at = pipeline_sdk.utc(claimed_at)
        since, until = claimed_at - timedelta(minutes=5), claimed_at + self.start_window
        found = []
        for instance in self._list(self._item(pipeline), f"reconcile a start of {pipeline}"):
            run = self.to_run(instance)
            if run.run_id in known_run_ids or str(instance.get("invokeType") or "Manual") != "Manual":
                continue
            if run.run_start is None or since <= run.run_start <= until:
                found.append(run)
        return min(found, key=lambda r: (r.run_start or claimed_at, r.run_id), default=None)

    def cancel_run(self, run_id: str) -> None:
        """Cancel Item Job Instance (202). Cancelling a finished run is harmless."""
        run = self.get_run(run_id)
        item = self._item(run.pipeline)
        self._call("POST", f"{self._jobs(item)}/instances/{quote(run_id, safe='')}/cancel", f"cancel run {run_id}",
                   safe=True)

    def to_run(self, instance: Mapping[str, Any]) -> PipelineRun:
        """An ItemJobInstance as the app's PipelineRun (the pipeline's name when the item is configured)."""
        item = str(instance.get("itemId") or "")
        status = str(instance.get("status") or "")
        failure = instance.get("failureReason")
        message = ""
        if isinstance(failure, Mapping):
            code, text = str(failure.get("errorCode") or ""), str(failure.get("message") or "")
            message = text or code
        elif status == "Deduped":
            message = "deduplicated: another instance of this job was already running"
        return PipelineRun(run_id=str(instance.get("id") or ""), pipeline=self._names.get(item.lower(), item),
                           status=STATUS.get(status, RunStatus.IN_PROGRESS), parameters=MappingProxyType({}),
                           run_start=parse_time(instance.get("startTimeUtc")),
                           run_end=parse_time(instance.get("endTimeUtc")), message=message)

    # --- plumbing -----------------------------------------------------------------------------------

    def _item(self, pipeline: str) -> str:
        return self._items.get(pipeline, pipeline)

    def _jobs(self, item: str) -> str:
        return f"{self._base}/workspaces/{quote(self._workspace, safe='')}/items/{quote(item, safe='')}/jobs"

    def _list(self, item: str, what: str) -> list[dict[str, Any]]:
        url: str | None = f"{self._jobs(item)}/instances"
        out: dict[str, dict[str, Any]] = {}
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            if url is None:
                return list(out.values())
            page = json_object(self._call("GET", url, what, safe=True), what)
            for instance in page.get("value") or []:
                if isinstance(instance, dict):
                    out.setdefault(str(instance.get("id")), instance)
            token = page.get("continuationToken")
            if not token or token in seen:
                return list(out.values())
            seen.add(str(token))
            next_uri = page.get("continuationUri")
            url = str(next_uri) if next_uri else f"{self._jobs(item)}/instances?continuationToken={quote(str(token))}"
            if urlsplit(url).netloc != urlsplit(self._base).netloc:   # the token travels only to Fabric itself
                raise Unavailable(f"{what}: continuationUri points away from the Fabric API")
        raise Unavailable(f"{what}: more than {MAX_PAGES} pages; giving up")

    def _session(self) -> Any:
        session = getattr(self._local, "session", None)
        if session is None:
            from shared.adapters.http import session as new_session

            session = self._local.session = new_session()
        return session

    def _call(self, method: str, url: str, what: str, *, json_body: Any = None, safe: bool,
              before_retry: Callable[[], None] | None = None) -> Any:
        import requests

        def attempt() -> Any:
            try:
                token = self._token()
            except Exception as exc:  # credential errors can be long; their type says enough
                raise Rejected(f"{what}: could not get a token for Fabric (check the managed identity and "
                               f"AZURE_CLIENT_ID): {type(exc).__name__}") from exc
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            try:
                response = self._session().request(method, url, headers=headers, json=json_body,
                                                   timeout=self._timeout, allow_redirects=False)
            except (requests.ConnectTimeout, requests.ConnectionError) as exc:
                if _never_sent(exc):
                    raise _NotSent(f"{what}: Fabric is unreachable ({type(exc).__name__})") from exc
                raise Unavailable(f"{what}: no answer from Fabric ({type(exc).__name__}); "
                                  "the call may have taken effect") from exc
            except requests.RequestException as exc:
                raise Unavailable(f"{what}: no answer from Fabric ({type(exc).__name__}); "
                                  "the call may have taken effect") from exc
            if 200 <= response.status_code < 300:
                return response
            raise error_for(response, what)

        def wait_for(exc: Exception, tries: int) -> float | None:
            if isinstance(exc, Throttled | _NotSent) or (safe and isinstance(exc, Unavailable)):
                wait = exc.retry_after if isinstance(exc, Throttled) else None
                return wait if wait is not None else self._budget.backoff_for(tries)
            return None

        return retry.call(attempt, budget=self._budget, wait_for=wait_for, sleep=self._sleep, what=f"Fabric {what}",
                          log=log, before_retry=before_retry)


class _NotSent(Unavailable):
    """The request never reached Fabric (connection refused or timed out while connecting)."""


def _never_sent(exc: Exception) -> bool:
    import requests
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason: Any = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)


def error_for(response: Any, what: str) -> ExternalError:
    """A non-2xx Fabric answer mapped onto the error tree (never quoting request headers)."""
    status = int(response.status_code)
    code, message = _error_text(response)
    detail = f"{code}: {message}" if code and message else (code or message or f"HTTP {status}")
    if status == 429 or code == "TooManyRequestsForJobs":      # refused: nothing was started
        return Throttled(f"{what}: throttled by Fabric ({detail})", status=status,
                         retry_after=retry_after(response.headers))
    if status == 404:
        return NotFound(f"{what}: not found ({detail})", status=404)
    if status >= 500 or status == 408:
        return Unavailable(f"{what}: Fabric answered {status} ({detail})", status=status)
    return Rejected(f"{what}: Fabric refused ({status}) ({detail})", status=status)


def _error_text(response: Any) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "", (response.text or "").strip()[:300]
    if not isinstance(body, dict):
        return "", ""
    nested = body.get("error")
    error: dict[str, Any] = nested if isinstance(nested, dict) else body     # flat, or ARM-style
    return str(error.get("errorCode") or error.get("code") or "")[:100], str(error.get("message") or "")[:300]


def job_instance_from(location: str) -> str:
    """The job instance id: the last segment of ``…/jobs/instances/{id}`` in the Location header."""
    _, sep, tail = urlsplit(location).path.rstrip("/").rpartition("/jobs/instances/")
    return tail if sep and tail and "/" not in tail else ""


def parse_time(value: Any) -> datetime | None:
    """Fabric's job times: UTC without a zone designator, up to seven fractional digits."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().removesuffix("Z")
    head, dot, fraction = text.partition(".")
    try:
        parsed = datetime.fromisoformat(f"{head}.{fraction[:6]}" if dot else head)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _emulator_token() -> str:
    return "sandbox-emulator"          # a local emulator only checks that a bearer token is present


def _managed_identity_token(client_id: str | None) -> TokenProvider:
    from shared.adapters.powerbi import ManagedIdentityToken

    return ManagedIdentityToken(FABRIC_SCOPE, client_id)
