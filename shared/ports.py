"""The ports: what services need from the outside world, as Protocols.

Adapters in ``shared/adapters`` implement them against Azure; in-memory fakes live with the tests.
Errors raised through a port are from ``shared.errors``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

from shared.core.metrics import MetricPoint
from shared.core.models import Alert, BlobInfo, Message, PipelineRun
from shared.core.profile import Profile
from shared.core.spec import Contract


class Clock(Protocol):
    def now(self) -> datetime:
        """Timezone-aware UTC now."""
        ...


class BlobStore(Protocol):
    def list_blobs(self, container: str, prefix: str) -> Iterator[BlobInfo]:
        """Every blob whose name starts with ``prefix`` (one listing, paged lazily)."""
        ...

    def get_blob_info(self, container: str, name: str) -> BlobInfo:
        """Raises NotFound."""
        ...

    def read_bytes(self, container: str, name: str, offset: int = 0, length: int | None = None) -> bytes:
        """A byte range of the blob (the whole blob by default). Raises NotFound."""
        ...

    def write_bytes(self, container: str, name: str, data: bytes, *, content_type: str = "") -> BlobInfo:
        """Create or replace the blob."""
        ...


@dataclass(frozen=True)
class Entity:
    """One row of state. ``etag`` is set on entities read from the store."""

    table: str
    partition: str
    row: str
    data: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    etag: str | None = None


class StateStore(Protocol):
    """Small tables of state with optimistic concurrency (Azure Table Storage semantics)."""

    def get(self, table: str, partition: str, row: str) -> Entity | None:
        ...

    def insert(self, entity: Entity) -> Entity:
        """Create the entity; raises Conflict if it exists. Returns it with its ETag."""
        ...

    def replace(self, entity: Entity) -> Entity:
        """Replace the entity if its ETag still matches (raises Conflict otherwise; NotFound if gone)."""
        ...

    def upsert(self, entity: Entity) -> Entity:
        """Create or replace unconditionally (for data no one competes for)."""
        ...

    def delete(self, entity: Entity) -> None:
        """Delete the entity (if its ETag is set, only while it still matches); gone already is fine."""
        ...

    def query(self, table: str, partition: str, row_from: str = "", row_to: str = "") -> Iterable[Entity]:
        """Entities of one partition, row keys in [row_from, row_to) (open ends when empty)."""
        ...

    def scan(self, table: str, row_from: str = "", row_to: str = "", *, since: tuple[str, str] | None = None
             ) -> Iterable[Entity]:
        """Entities of every partition, row keys in [row_from, row_to), and, with ``since`` = (property,
        ISO time), only those whose property is at least that time: one filtered query of the whole
        table, for read-only views (``autopilot status``) that would otherwise query it per partition."""
        ...


class Profiler(Protocol):
    def profile(self, container: str, name: str, contract: Contract, size: int | None = None) -> Profile:
        """Profile one blob in a streaming pass (``size``: the blob's size, when the caller has it).

        Data problems are findings in the profile; only a failing read of the blob raises (NotFound,
        Unavailable)."""
        ...


class PipelineRunner(Protocol):
    def start_run(self, pipeline: str, parameters: Mapping[str, Any], *,
                  before_retry: Callable[[], None] | None = None) -> str:
        """Start a run; returns its run id. Raises Rejected, Throttled or Unavailable. ``before_retry``
        runs before every repeat of the request (it raises Superseded when the caller lost its claim)."""
        ...

    @property
    def worst_case_start_seconds(self) -> float:
        """The longest one start_run can take with its retries (a claim must outlive it)."""
        ...

    def get_run(self, run_id: str) -> PipelineRun:
        ...

    def query_runs(self, pipeline: str, since: datetime, until: datetime) -> list[PipelineRun]:
        """Runs of ``pipeline`` last updated in [since, until], every page."""
        ...

    def query_activity_runs(self, run_id: str) -> list[dict[str, Any]]:
        """The run's activities, oldest first: ``activity`` (its name), ``type``, ``status``, ``error`` (the
        message), ``error_code``, ``output`` (the activity's output object: run page links, Copy row
        counts), ``start``, ``end`` — for failure diagnosis (``shared.core.activity_runs``)."""
        ...


@runtime_checkable
class StartedRunFinder(Protocol):
    """A runner whose runs do not report their parameters (Fabric): a run a lost start answer created is
    found by time, not by the batch id. The caller keeps at most one unresolved start per pipeline."""

    def find_started_run(self, pipeline: str, *, claimed_at: datetime,
                         known_run_ids: Collection[str] = ()) -> PipelineRun | None:
        """The earliest run of ``pipeline`` that started in the window of a start attempted at ``claimed_at``
        and is not in ``known_run_ids``; None when the start took no effect."""
        ...


@dataclass(frozen=True)
class RefreshState:
    """One Power BI refresh as the refresh history reports it."""

    request_id: str
    status: str                    # Unknown (in progress), NotStarted, Completed, Failed, Cancelled, Disabled
    start: datetime | None = None
    end: datetime | None = None
    error: str = ""

    @property
    def in_progress(self) -> bool:
        return self.status in ("Unknown", "NotStarted")


class DatasetRefresher(Protocol):
    """Power BI semantic model (dataset) refreshes."""

    def latest_refresh(self, workspace: str, dataset: str) -> RefreshState | None:
        """The newest entry of the refresh history (None when there is none)."""
        ...

    def start_refresh(self, workspace: str, dataset: str, options: Mapping[str, Any] | None = None) -> str:
        """Request a refresh; returns the request id (from the Location / RequestId header).

        Raises Conflict when a refresh is already running, Throttled (with retry_after) on 429,
        Rejected for other 4xx, Unavailable for 5xx or transport errors.
        """
        ...

    def get_refresh(self, workspace: str, dataset: str, request_id: str) -> RefreshState:
        """Raises NotFound when the history has no such request."""
        ...


class Notifier(Protocol):
    """One delivery channel. ``send`` raises ExternalError unless the channel accepted the message
    (a non-2xx answer or an error body is a failed delivery)."""

    channel: str

    def send(self, message: Message) -> None:
        ...


class TokenVerifier(Protocol):
    def verify(self, authorization: str | None) -> str:
        """The caller's principal id; raises Rejected (401/403) or Unavailable."""
        ...


class WorkQueue(Protocol):
    def send(self, message: str, delay: timedelta = ...) -> None:
        """Put a message on the queue, invisible for ``delay``."""
        ...


class AlertSink(Protocol):
    def emit(self, alert: Alert) -> None:
        """Put the alert on the durable alerts queue."""
        ...

    def requeue(self, message: str, delay: timedelta) -> None:
        """Put a raw alert message back on the queue, invisible for ``delay``."""
        ...


class Metrics(Protocol):
    """Numbers for Azure Monitor (``customMetrics``). Best effort: never raises, never blocks for long."""

    def record(self, points: Sequence[MetricPoint]) -> None:
        ...


class WorkItems(Protocol):
    """Azure DevOps work items (the ``devops`` alert channel). Raises Throttled, Unavailable, Rejected
    (4xx: a wrong project, type, area path or state; the identity lacks access) or Unauthenticated."""

    def find_by_tag(self, organization: str, project: str, tag: str) -> list[int]:
        """Ids of the project's work items carrying ``tag``, oldest first."""
        ...

    def create(self, organization: str, project: str, work_item_type: str,
               document: Sequence[Mapping[str, Any]]) -> int:
        """Create a work item from a JSON Patch document; returns its id. Never repeated after a
        request that may have reached the service (the caller finds the item by its tag instead)."""
        ...

    def comment(self, organization: str, project: str, work_item_id: int, text: str) -> None:
        ...

    def update(self, organization: str, project: str, work_item_id: int,
               document: Sequence[Mapping[str, Any]]) -> None:
        """Apply a JSON Patch document (e.g. a new System.State)."""
        ...
