"""In-memory fakes of the ports, with the same semantics the adapters promise (ETags, Conflict)."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from shared.core.metrics import MetricPoint
from shared.core.models import Alert, BlobInfo, Message, PipelineRun, RunStatus
from shared.errors import Conflict, NotFound, Rejected, Unavailable
from shared.ports import Entity


class FixedClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.at = start or datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at

    def advance(self, **kwargs: float) -> datetime:
        self.at += timedelta(**kwargs)
        return self.at


class MemoryBlobStore:
    def __init__(self, clock: FixedClock | None = None) -> None:
        self.blobs: dict[tuple[str, str], tuple[bytes, BlobInfo]] = {}
        self.list_calls: list[tuple[str, str]] = []
        self.clock = clock or FixedClock()

    def put(self, container: str, name: str, data: bytes = b"x", at: datetime | None = None) -> BlobInfo:
        info = BlobInfo(name, len(data), at or self.clock.now(), uuid.uuid4().hex)
        self.blobs[(container, name)] = (data, info)
        return info

    def list_blobs(self, container: str, prefix: str) -> Iterator[BlobInfo]:
        self.list_calls.append((container, prefix))
        for (c, name), (_, info) in sorted(self.blobs.items()):
            if c == container and name.startswith(prefix):
                yield info

    def get_blob_info(self, container: str, name: str) -> BlobInfo:
        if (container, name) not in self.blobs:
            raise NotFound(f"{container}/{name}")
        return self.blobs[(container, name)][1]

    def read_bytes(self, container: str, name: str, offset: int = 0, length: int | None = None) -> bytes:
        if (container, name) not in self.blobs:
            raise NotFound(f"{container}/{name}")
        data = self.blobs[(container, name)][0]
        return data[offset:] if length is None else data[offset:offset + length]

    def write_bytes(self, container: str, name: str, data: bytes, *, content_type: str = "") -> BlobInfo:
        return self.put(container, name, data)


class MemoryStateStore:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], Entity] = {}
        self._lock = threading.Lock()

    def get(self, table: str, partition: str, row: str) -> Entity | None:
        return self.rows.get((table, partition, row))

    def _stored(self, entity: Entity) -> Entity:
        stored = replace(entity, data=MappingProxyType(dict(entity.data)), etag=uuid.uuid4().hex)
        self.rows[(entity.table, entity.partition, entity.row)] = stored
        return stored

    def insert(self, entity: Entity) -> Entity:
        with self._lock:
            if (entity.table, entity.partition, entity.row) in self.rows:
                raise Conflict("exists")
            return self._stored(entity)

    def replace(self, entity: Entity) -> Entity:
        with self._lock:
            current = self.rows.get((entity.table, entity.partition, entity.row))
            if current is None:
                raise NotFound("gone")
            if current.etag != entity.etag:
                raise Conflict("etag mismatch")
            return self._stored(entity)

    def upsert(self, entity: Entity) -> Entity:
        with self._lock:
            return self._stored(entity)

    def delete(self, entity: Entity) -> None:
        with self._lock:
            key = (entity.table, entity.partition, entity.row)
            current = self.rows.get(key)
            if current is None:
                return
            if entity.etag and current.etag != entity.etag:
                raise Conflict("etag mismatch")
            del self.rows[key]

    def query(self, table: str, partition: str, row_from: str = "", row_to: str = "") -> Iterable[Entity]:
        return [e for (t, p, r), e in sorted(self.rows.items())
                if t == table and p == partition and r >= row_from and (not row_to or r < row_to)]

    def scan(self, table: str, row_from: str = "", row_to: str = "", *, since: tuple[str, str] | None = None
             ) -> Iterable[Entity]:
        return [e for (t, _, r), e in sorted(self.rows.items())
                if t == table and r >= row_from and (not row_to or r < row_to)
                and (since is None or str(e.data.get(since[0], "")) >= since[1])]


class RecordingRunner:
    """A factory that remembers every run; can be told to fail the next calls."""

    def __init__(self, clock: FixedClock | None = None) -> None:
        self.runs: dict[str, PipelineRun] = {}
        self.fail_next: list[Exception] = []
        self.lose_answer_next = 0   # create the run, then answer 500 (the nasty case)
        self.activities: dict[str, list[dict[str, Any]]] = {}
        self.known_pipelines: set[str] | None = None
        self.clock = clock or FixedClock()
        self._ids = itertools.count(1)

    def start_run(self, pipeline: str, parameters: Mapping[str, Any], *,
                  before_retry: Callable[[], None] | None = None) -> str:
        if self.fail_next:
            raise self.fail_next.pop(0)
        if self.known_pipelines is not None and pipeline not in self.known_pipelines:
            raise Rejected(f"pipeline {pipeline} not found", status=404)
        run_id = f"00000000-0000-4000-8000-{next(self._ids):012d}"   # a GUID, as ADF's run ids are
        self.runs[run_id] = PipelineRun(run_id, pipeline, RunStatus.IN_PROGRESS,
                                        MappingProxyType({k: str(v) for k, v in parameters.items()}),
                                        self.clock.now())
        if self.lose_answer_next:
            self.lose_answer_next -= 1
            raise Unavailable("500 after the run was created", status=500)
        return run_id

    def finish(self, run_id: str, status: RunStatus = RunStatus.SUCCEEDED) -> None:
        self.runs[run_id] = replace(self.runs[run_id], status=status, run_end=self.clock.now())

    def get_run(self, run_id: str) -> PipelineRun:
        if run_id not in self.runs:
            raise NotFound(run_id)
        return self.runs[run_id]

    def query_runs(self, pipeline: str, since: datetime, until: datetime) -> list[PipelineRun]:
        return [r for r in self.runs.values() if r.pipeline == pipeline]

    def query_activity_runs(self, run_id: str) -> list[dict[str, Any]]:
        return list(self.activities.get(run_id, []))

    def runs_for(self, batch_id: str) -> list[PipelineRun]:
        return [r for r in self.runs.values() if batch_id in r.parameters.values()]


class ListAlertSink:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []
        self.requeued: list[tuple[str, timedelta]] = []

    def emit(self, alert: Alert) -> None:
        self.alerts.append(alert)

    def requeue(self, message: str, delay: timedelta) -> None:
        self.requeued.append((message, delay))

    def codes(self) -> list[str]:
        return [a.code for a in self.alerts]


class RecordingNotifier:
    """A channel that remembers what it was sent; ``down`` makes it refuse like an outage."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.sent: list[Message] = []
        self.down = False

    def send(self, message: Message) -> None:
        if self.down:
            raise Unavailable(f"{self.channel} is down", status=503)
        self.sent.append(message)


class ListQueue:
    """A work queue that keeps its messages (with their delays) for the test to deliver."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, timedelta]] = []

    def send(self, message: str, delay: timedelta = timedelta(0)) -> None:
        self.messages.append((message, delay))

    def drain(self) -> list[str]:
        out = [m for m, _ in self.messages]
        self.messages.clear()
        return out


class RecordingMetrics:
    """The Metrics port that remembers every point; ``values(name)`` gives (value, dimensions) pairs."""

    def __init__(self) -> None:
        self.points: list[MetricPoint] = []

    def record(self, points: Sequence[MetricPoint]) -> None:
        self.points.extend(points)

    def values(self, name: str) -> list[tuple[float, dict[str, str]]]:
        return [(p.value, dict(p.dimensions)) for p in self.points if p.name == name]


class MemoryWorkItems:
    """Azure DevOps work items in memory (the WorkItems port). Knobs: ``down`` (every call 503),
    ``fail_next`` (errors for the next calls), ``lose_answer_next`` (create the item, then answer 500),
    ``crash_after_create`` (create the item, then raise as a worker that died would)."""

    def __init__(self) -> None:
        self.items: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[str]] = {}
        self.calls: list[str] = []
        self.down = False
        self.fail_next: list[Exception] = []
        self.lose_answer_next = 0
        self.crash_after_create = 0
        self.before_create: Callable[[], None] | None = None   # runs once, inside the next create
        self._ids = itertools.count(1)

    def _gate(self, call: str) -> None:
        self.calls.append(call)
        if self.down:
            raise Unavailable("Azure DevOps is down", status=503)
        if self.fail_next:
            raise self.fail_next.pop(0)

    def find_by_tag(self, organization: str, project: str, tag: str) -> list[int]:
        self._gate("find")
        return sorted(i for i, item in self.items.items() if (item["organization"], item["project"]) ==
                      (organization, project) and tag in [t.strip() for t in item["fields"]["System.Tags"].split(";")])

    def create(self, organization: str, project: str, work_item_type: str,
               document: Sequence[Mapping[str, Any]]) -> int:
        self._gate("create")
        if self.before_create is not None:
            hook, self.before_create = self.before_create, None
            hook()
        item = next(self._ids)
        fields = {op["path"].removeprefix("/fields/"): op["value"] for op in document}
        fields.setdefault("System.State", "New")
        self.items[item] = {"organization": organization, "project": project, "type": work_item_type,
                            "fields": fields}
        if self.lose_answer_next:
            self.lose_answer_next -= 1
            raise Unavailable("500 after the work item was created", status=500)
        if self.crash_after_create:
            self.crash_after_create -= 1
            raise RuntimeError("the worker died after creating the work item")
        return item

    def comment(self, organization: str, project: str, work_item_id: int, text: str) -> None:
        self._gate("comment")
        if work_item_id not in self.items:
            raise NotFound(f"work item {work_item_id}")
        self.comments.setdefault(work_item_id, []).append(text)

    def update(self, organization: str, project: str, work_item_id: int,
               document: Sequence[Mapping[str, Any]]) -> None:
        self._gate("update")
        if work_item_id not in self.items:
            raise NotFound(f"work item {work_item_id}")
        for op in document:
            self.items[work_item_id]["fields"][op["path"].removeprefix("/fields/")] = op["value"]

    def state(self, work_item_id: int) -> str:
        return str(self.items[work_item_id]["fields"]["System.State"])
