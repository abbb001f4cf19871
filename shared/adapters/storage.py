"""Azure Storage adapters: blobs (BlobStore), tables (StateStore) and the alerts queue (AlertSink).

Clients are built lazily from a ``StorageTarget``: a connection string (local, sandbox) or an account
name with a managed identity (Azure). SDK errors are mapped onto ``shared.errors``, chained.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from shared.connections import StorageTarget
from shared.core.models import Alert, BlobInfo
from shared.errors import Conflict, ExternalError, NotFound, Rejected, Throttled, Unavailable
from shared.ports import Entity

# Small, bounded retries: a tick must not hang for minutes on a dead endpoint.
CLIENT_OPTIONS: dict[str, Any] = {"retry_total": 3, "retry_backoff_factor": 0.5, "retry_backoff_max": 8,
                                  "connection_timeout": 10, "read_timeout": 60}


def client_options(overrides: dict[str, Any]) -> dict[str, Any]:
    from shared.adapters.http import azure_transport

    options = {**CLIENT_OPTIONS, **overrides}
    options["transport"] = azure_transport(options.pop("connection_timeout"), options.pop("read_timeout"))
    return options


def credential_for(target: StorageTarget) -> Any:
    from azure.identity import DefaultAzureCredential  # heavy, only in Azure

    return DefaultAzureCredential(managed_identity_client_id=target.client_id)


def sdk_client(cls: Any, target: StorageTarget, service: str, *args: Any, **options: Any) -> Any:
    """An SDK client (``BlobServiceClient``, ``QueueClient``...) for one service of the target: from its
    connection string, or from its endpoint with the managed identity."""
    if target.connection_string:
        return cls.from_connection_string(target.connection_string, *args, **options)
    return cls(target.endpoint(service), *args, credential=credential_for(target), **options)


def map_errors[T](call: Callable[[], T], what: str) -> T:
    """Run an SDK call, translating its errors into the app's error tree."""
    from azure.core import exceptions as az

    try:
        return call()
    except az.ResourceNotFoundError as exc:
        raise NotFound(f"{what}: not found", status=404) from exc
    except (az.ResourceExistsError, az.ResourceModifiedError) as exc:
        raise Conflict(f"{what}: {_reason(exc)}", status=getattr(exc, "status_code", 409)) from exc
    except az.HttpResponseError as exc:
        status = exc.status_code or 0
        if status == 412:
            raise Conflict(f"{what}: changed since it was read", status=412) from exc
        if status == 429:
            raise Throttled(f"{what}: throttled", status=429) from exc
        if status >= 500:
            raise Unavailable(f"{what}: service error {status}", status=status) from exc
        raise Rejected(f"{what}: {_reason(exc)}", status=status) from exc
    except (az.ServiceRequestError, az.ServiceResponseError) as exc:
        raise Unavailable(f"{what}: cannot reach storage ({type(exc).__name__})") from exc
    except az.AzureError as exc:
        raise ExternalError(f"{what}: {_reason(exc)}") from exc


def _reason(exc: Exception) -> str:
    text = getattr(exc, "reason", None) or str(exc).splitlines()[0]
    return str(text)[:300]


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class AzureBlobStore:
    """BlobStore over azure-storage-blob."""

    def __init__(self, target: StorageTarget, **options: Any) -> None:
        self._target = target
        self._options = client_options(options)
        self._client: Any = None
        self._lock = threading.Lock()
        self._containers: set[str] = set()

    def _service(self) -> Any:
        with self._lock:
            if self._client is None:
                from azure.storage.blob import BlobServiceClient

                self._client = sdk_client(BlobServiceClient, self._target, "blob", **self._options)
            return self._client

    def list_blobs(self, container: str, prefix: str) -> Iterator[BlobInfo]:
        pages = map_errors(lambda: self._service().get_container_client(container)
                           .list_blobs(name_starts_with=prefix or None).by_page(), f"list {container}/{prefix}")
        while True:
            page = map_errors(lambda: next(pages, None), f"list {container}/{prefix}")
            if page is None:
                return
            items = map_errors(lambda p=page: list(p), f"list {container}/{prefix}")  # type: ignore[misc]
            for b in items:
                yield BlobInfo(b.name, int(b.size or 0), _utc(b.last_modified), str(b.etag or ""))

    def get_blob_info(self, container: str, name: str) -> BlobInfo:
        props = map_errors(lambda: self._service().get_blob_client(container, name).get_blob_properties(),
                           f"blob {container}/{name}")
        return BlobInfo(name, int(props.size or 0), _utc(props.last_modified), str(props.etag or ""))

    def read_bytes(self, container: str, name: str, offset: int = 0, length: int | None = None) -> bytes:
        def read() -> bytes:
            client = self._service().get_blob_client(container, name)
            data: bytes = client.download_blob(offset=offset or None, length=length).readall()
            return data
        return map_errors(read, f"read {container}/{name}")

    def write_bytes(self, container: str, name: str, data: bytes, *, content_type: str = "") -> BlobInfo:
        def write() -> BlobInfo:
            from azure.storage.blob import ContentSettings

            self._ensure_container(container)
            client = self._service().get_blob_client(container, name)
            settings = ContentSettings(content_type=content_type) if content_type else None
            result = client.upload_blob(data, overwrite=True, content_settings=settings)
            return BlobInfo(name, len(data), _utc(result["last_modified"]), str(result["etag"]))
        return map_errors(write, f"write {container}/{name}")

    def _ensure_container(self, container: str) -> None:
        from azure.core.exceptions import ResourceExistsError

        if container in self._containers:
            return
        try:
            self._service().create_container(container)
        except ResourceExistsError:
            pass
        self._containers.add(container)


_SYSTEM_FIELDS = frozenset({"PartitionKey", "RowKey", "Timestamp"})


class TableStateStore:
    """StateStore over azure-data-tables; tables are created on first use."""

    def __init__(self, target: StorageTarget, **options: Any) -> None:
        self._target = target
        self._options = client_options(options)
        self._client: Any = None
        self._tables: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _table(self, name: str) -> Any:
        with self._lock:
            if name in self._tables:
                return self._tables[name]
            if self._client is None:
                from azure.data.tables import TableServiceClient

                self._client = sdk_client(TableServiceClient, self._target, "table", **self._options)
            client = self._client
        map_errors(lambda: client.create_table_if_not_exists(name), f"table {name}")
        table = client.get_table_client(name)
        with self._lock:
            self._tables[name] = table
        return table

    @staticmethod
    def _entity(table: str, raw: Any) -> Entity:
        data = {k: v for k, v in raw.items() if k not in _SYSTEM_FIELDS}
        return Entity(table, raw["PartitionKey"], raw["RowKey"], MappingProxyType(data),
                      raw.metadata.get("etag"))

    @staticmethod
    def _raw(entity: Entity) -> dict[str, Any]:
        return {**entity.data, "PartitionKey": entity.partition, "RowKey": entity.row}

    def get(self, table: str, partition: str, row: str) -> Entity | None:
        client = self._table(table)
        try:
            raw = map_errors(lambda: client.get_entity(partition, row), f"get {table}/{partition}/{row}")
        except NotFound:
            return None
        return self._entity(table, raw)

    def insert(self, entity: Entity) -> Entity:
        client = self._table(entity.table)
        meta = map_errors(lambda: client.create_entity(self._raw(entity)), self._what("insert", entity))
        return Entity(entity.table, entity.partition, entity.row, entity.data, meta.get("etag"))

    def replace(self, entity: Entity) -> Entity:
        from azure.core import MatchConditions
        from azure.data.tables import UpdateMode

        if entity.etag is None:
            raise ValueError("replace needs the entity's etag; use upsert for unconditional writes")
        client = self._table(entity.table)
        meta = map_errors(lambda: client.update_entity(
            self._raw(entity), mode=UpdateMode.REPLACE, etag=entity.etag,
            match_condition=MatchConditions.IfNotModified), self._what("replace", entity))
        return Entity(entity.table, entity.partition, entity.row, entity.data, meta.get("etag"))

    def upsert(self, entity: Entity) -> Entity:
        from azure.data.tables import UpdateMode

        client = self._table(entity.table)
        meta = map_errors(lambda: client.upsert_entity(self._raw(entity), mode=UpdateMode.REPLACE),
                          self._what("upsert", entity))
        return Entity(entity.table, entity.partition, entity.row, entity.data, meta.get("etag"))

    def delete(self, entity: Entity) -> None:
        from azure.core import MatchConditions

        client = self._table(entity.table)
        kwargs: dict[str, Any] = {}
        if entity.etag:
            kwargs = {"etag": entity.etag, "match_condition": MatchConditions.IfNotModified}
        try:
            map_errors(lambda: client.delete_entity(entity.partition, entity.row, **kwargs),
                       self._what("delete", entity))
        except NotFound:
            pass

    def query(self, table: str, partition: str, row_from: str = "", row_to: str = "") -> Iterable[Entity]:
        client = self._table(table)
        clauses, params = _row_range(row_from, row_to)
        clauses.insert(0, "PartitionKey eq @pk")
        params["pk"] = partition
        rows = map_errors(lambda: list(client.query_entities(" and ".join(clauses), parameters=params)),
                          f"query {table}/{partition}")
        return [self._entity(table, raw) for raw in rows]

    def scan(self, table: str, row_from: str = "", row_to: str = "", *, since: tuple[str, str] | None = None
             ) -> Iterable[Entity]:
        client = self._table(table)
        clauses, params = _row_range(row_from, row_to)
        if since is not None:
            # Times are stored as ISO strings of one shape, so string order is time order.
            prop, at = since
            if not prop.isidentifier():
                raise ValueError(f"not a property name: {prop!r}")
            clauses.append(f"{prop} ge @since")
            params["since"] = at
        if clauses:
            rows = map_errors(lambda: list(client.query_entities(" and ".join(clauses), parameters=params)),
                              f"scan {table}")
        else:
            rows = map_errors(lambda: list(client.list_entities()), f"scan {table}")
        return [self._entity(table, raw) for raw in rows]

    @staticmethod
    def _what(verb: str, entity: Entity) -> str:
        return f"{verb} {entity.table}/{entity.partition}/{entity.row}"


class StorageQueue:
    """A storage queue of text messages, base64-encoded as the Functions host expects (WorkQueue)."""

    def __init__(self, target: StorageTarget, queue: str, **options: Any) -> None:
        self._target = target
        self._queue_name = queue
        self._options = client_options(options)
        self._client: Any = None
        self._lock = threading.Lock()

    def _queue(self) -> Any:
        with self._lock:
            if self._client is None:
                from azure.core.exceptions import ResourceExistsError
                from azure.storage.queue import QueueClient, TextBase64EncodePolicy

                policy = TextBase64EncodePolicy()
                client = sdk_client(QueueClient, self._target, "queue", self._queue_name,
                                    message_encode_policy=policy, **self._options)
                try:
                    map_errors(client.create_queue, f"queue {self._queue_name}")
                except Conflict:
                    pass
                except ExternalError as exc:
                    if not isinstance(exc.__cause__, ResourceExistsError):
                        raise
                self._client = client
            return self._client

    def send(self, message: str, delay: timedelta = timedelta(0)) -> None:
        queue = self._queue()
        seconds = int(delay.total_seconds())
        map_errors(lambda: queue.send_message(message, visibility_timeout=seconds or None),
                   f"send to queue {self._queue_name}")


class QueueAlertSink(StorageQueue):
    """AlertSink: JSON alerts on the alerts queue."""

    def emit(self, alert: Alert) -> None:
        queue = self._queue()
        map_errors(lambda: queue.send_message(alert.to_json()), f"send alert to {self._queue_name}")

    def requeue(self, message: str, delay: timedelta) -> None:
        queue = self._queue()
        map_errors(lambda: queue.send_message(message, visibility_timeout=int(delay.total_seconds())),
                   f"requeue alert on {self._queue_name}")


def _row_range(row_from: str, row_to: str) -> tuple[list[str], dict[str, str]]:
    """The OData clauses (and their parameters) of rows in [row_from, row_to); "" leaves a side open."""
    clauses, params = [], {}
    if row_from:
        clauses.append("RowKey ge @lo")
        params["lo"] = row_from
    if row_to:
        clauses.append("RowKey lt @hi")
        params["hi"] = row_to
    return clauses, params
