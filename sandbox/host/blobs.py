"""Blob triggers on Azurite containers, with the Functions host's receipts and poison handling.

Each poll lists the container (under the path's literal prefix) and delivers every blob whose
(name, ETag) has no receipt yet: a new blob once, a changed blob (new ETag) again. For an SDK-type
binding only a reference goes to the worker (the function reads the blob itself); for a plain binding
the host downloads the whole blob and sends its bytes, as the Azure host does. Receipts are
blobs in the app storage's ``azure-webjobs-hosts`` container, as the host keeps them, so a restarted
host does not deliver again. A receipt is written after the function succeeds (at-least-once).
After ``maxDequeueCount`` failures of the same version the host gives up: a message goes to the
``webjobs-blobtrigger-poison`` queue and a receipt marks the version done. Failure counts live in
memory, so a restart gives a failing blob a fresh set of attempts.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import BlobProperties, BlobServiceClient
from azure.storage.queue import QueueClient

from sandbox.host import payloads
from sandbox.host.bindings import DEFAULT_CONNECTION, Function, HostOptions
from sandbox.host.invocations import Invocation
from sandbox.host.payloads import Payload
from sandbox.host.polling import Poller
from sandbox.host.queues import storage_client_options

log = logging.getLogger("sandbox.host")
RECEIPTS_CONTAINER = "azure-webjobs-hosts"
POISON_QUEUE = "webjobs-blobtrigger-poison"

Invoke = Callable[[Function, Payload, dict[str, Any]], Invocation]


class BlobPoller(Poller):
    def __init__(self, function: Function, options: HostOptions, invoke: Invoke, host_storage: str,
                 host_id: str, interval: float) -> None:
        super().__init__(interval, interval)
        self.function = function
        self.options = options
        self.name = f"blob:{function.name}"
        self._invoke = invoke
        self._host_id = host_id
        self.container_name: str = function.extra["container"]
        data = BlobServiceClient.from_connection_string(function.extra["connection"],
                                                        **storage_client_options())
        self.container = data.get_container_client(self.container_name)
        host = BlobServiceClient.from_connection_string(host_storage, **storage_client_options())
        self.receipts = host.get_container_client(RECEIPTS_CONTAINER)
        self.poison = QueueClient.from_connection_string(host_storage, POISON_QUEUE,
                                                         **storage_client_options())
        self._done: set[tuple[str, str]] = set()
        self._failures: Counter[tuple[str, str]] = Counter()

    def prepare(self) -> None:
        with contextlib.suppress(ResourceExistsError):
            self.receipts.create_container()

    def poll_once(self) -> bool:
        try:
            listing = [b for b in self.container.list_blobs(name_starts_with=self.function.extra["prefix"]
                                                            or None)
                       if self.function.extra["pattern"].fullmatch(b.name)]
        except ResourceNotFoundError:   # the container does not exist yet: nothing to deliver
            return False
        delivered = False
        for blob in sorted(listing, key=lambda b: (b.last_modified, b.name)):
            if self.stopping:
                break
            key = (blob.name, str(blob.etag))
            if key in self._done:
                continue
            if self.receipts.get_blob_client(self._receipt_name(key)).exists():
                self._done.add(key)
                continue
            delivered = self._deliver(blob, key) or delivered
        return delivered

    def _receipt_name(self, key: tuple[str, str]) -> str:
        name, etag = key
        return (f"blobreceipts/{self._host_id}/{self.function.name}/{etag.strip(chr(34))}/"
                f"{self.container_name}/{name}")

    def _deliver(self, blob: BlobProperties, key: tuple[str, str]) -> bool:
        client = self.container.get_blob_client(blob.name)
        content: bytes | None = None
        if not self.function.deferred:   # a plain binding: the host loads the whole blob, as Azure does
            try:
                content = client.download_blob(etag=blob.etag,
                                               match_condition=MatchConditions.IfNotModified).readall()
            except (ResourceModifiedError, ResourceNotFoundError):
                return False   # changed or deleted since listed; the next poll sees its new state
        detail = {"blob": f"{self.container_name}/{blob.name}", "etag": blob.etag,
                  "attempt": self._failures[key] + 1, "sent_bytes": len(content) if content is not None else 0}
        found = self.function.extra["pattern"].fullmatch(blob.name)
        properties = {"ContentLength": blob.size, "ETag": blob.etag, "LastModified": str(blob.last_modified),
                      "ContentType": blob.content_settings.content_type, "BlobType": "BlockBlob"}
        payload = payloads.blob(self.function.arg_name,
                                connection=str(self.function.binding.get("connection") or DEFAULT_CONNECTION),
                                container=self.container_name, name=blob.name, uri=client.url,
                                properties=properties, metadata=dict(blob.metadata or {}),
                                path_parameters=found.groupdict() if found else {}, content=content)
        record = self._invoke(self.function, payload, detail)
        if record.succeeded:
            self._write_receipt(key, "succeeded")
            return True
        self._failures[key] += 1
        if self._failures[key] >= self.options.max_dequeue_count:
            log.warning("%s: blob %s failed %d times; poison message written to %s", self.name,
                        detail["blob"], self._failures[key], POISON_QUEUE, extra=detail)
            self._write_poison(blob)
            self._write_receipt(key, "poisoned")
            del self._failures[key]
        return True

    def _write_receipt(self, key: tuple[str, str], outcome: str) -> None:
        self.receipts.upload_blob(self._receipt_name(key), b"", overwrite=True,
                                  metadata={"function": self.function.name, "outcome": outcome})
        self._done.add(key)

    def _write_poison(self, blob: BlobProperties) -> None:
        # The shape the Functions host writes (WebJobs BlobTriggerMessage), base64 as its queues are.
        message = {"Type": "BlobTrigger", "FunctionId": f"Host.Functions.{self.function.name}",
                   "BlobType": "BlockBlob", "ContainerName": self.container_name,
                   "BlobName": blob.name, "ETag": blob.etag}
        with contextlib.suppress(ResourceExistsError):
            self.poison.create_queue()
        self.poison.send_message(base64.b64encode(json.dumps(message).encode("utf-8")).decode("ascii"))
