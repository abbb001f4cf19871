"""The ports: what services need from the outside world, as Protocols.

Adapters in ``shared/adapters`` implement them against Azure; in-memory fakes live with the tests.
Errors raised through a port are from ``shared.errors``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Protocol

from shared.core.models import Alert, BlobInfo, PipelineRun


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


class PipelineRunner(Protocol):
    def start_run(self, pipeline: str, parameters: Mapping[str, Any]) -> str:
        """Start a run; returns its run id. Raises Rejected, Throttled or Unavailable."""
        ...

    def get_run(self, run_id: str) -> PipelineRun:
        ...

    def query_runs(self, pipeline: str, since: datetime, until: datetime) -> list[PipelineRun]:
        """Runs of ``pipeline`` last updated in [since, until], every page."""
        ...


class AlertSink(Protocol):
    def emit(self, alert: Alert) -> None:
        """Put the alert on the durable alerts queue."""
        ...
