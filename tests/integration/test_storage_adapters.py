"""Storage adapters against Azurite over real sockets: blobs, queues, a dead endpoint. The table
semantics are the StateStore contract, which the fake shares: see test_state_store_contract.py."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from shared.adapters.storage import AzureBlobStore, QueueAlertSink, TableStateStore
from shared.connections import StorageTarget
from shared.core.models import Alert, Severity
from shared.errors import NotFound, Unavailable

FAST = {"retry_total": 0}


def test_blob_listing_is_by_prefix_with_sizes_and_times(storage: StorageTarget, unique: str) -> None:
    blobs = AzureBlobStore(storage, **FAST)
    blobs.write_bytes(unique, "raw/2026/11/21/a.csv", b"a,b\n1,2\n")
    blobs.write_bytes(unique, "raw/2026/11/21/_SUCCESS", b"")
    blobs.write_bytes(unique, "raw/2026/11/22/a.csv", b"x")
    listed = list(blobs.list_blobs(unique, "raw/2026/11/21/"))
    assert [(b.name, b.size) for b in listed] == [("raw/2026/11/21/_SUCCESS", 0), ("raw/2026/11/21/a.csv", 8)]
    assert all(b.last_modified.tzinfo is not None and b.etag for b in listed)
    assert blobs.read_bytes(unique, "raw/2026/11/21/a.csv", offset=4, length=3) == b"1,2"
    with pytest.raises(NotFound):
        blobs.get_blob_info(unique, "raw/missing.csv")


def test_alerts_land_on_the_queue_base64_encoded_and_read_back(storage: StorageTarget, unique: str) -> None:
    from azure.storage.queue import QueueClient

    sink = QueueAlertSink(storage, unique, **FAST)
    alert = Alert("scores", "upstream_late", Severity.WARN, "No new upstream data.",
                  datetime(2026, 11, 21, tzinfo=UTC), topic="upstream_staleness")
    sink.emit(alert)
    assert storage.connection_string is not None
    queue = QueueClient.from_connection_string(storage.connection_string, unique)
    (message,) = list(queue.receive_messages())
    body = json.loads(base64.b64decode(message.content))
    assert body["code"] == "upstream_late" and body["fingerprint"] == alert.fingerprint
    assert Alert.from_json(base64.b64decode(message.content).decode()) == alert


def test_a_dead_endpoint_is_unavailable_quickly() -> None:
    target = StorageTarget(connection_string=(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        "TableEndpoint=http://127.0.0.1:9/devstoreaccount1;"))
    with pytest.raises(Unavailable):
        TableStateStore(target, retry_total=0, connection_timeout=2).get("t", "p", "r")
