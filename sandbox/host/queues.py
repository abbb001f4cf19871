"""Queue triggers on Azurite queues, with the Functions host's delivery rules.

A message is received under a processing lease, decoded from base64 (the host's default message
encoding) and sent to the worker as the host sends it (see ``payloads.queue``). Success deletes it.
A failure makes it visible again after ``visibilityTimeout``; once it has been dequeued
``maxDequeueCount`` times it is moved to ``<queue>-poison`` with its content unchanged. A message
that is not base64 cannot be delivered at all and goes to the poison queue at once. Messages of one
batch run one after another.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueClient
from azure.storage.queue import QueueMessage as StorageMessage

from sandbox.host import payloads
from sandbox.host.bindings import Function, HostOptions
from sandbox.host.invocations import Invocation
from sandbox.host.payloads import Payload
from sandbox.host.polling import Poller

log = logging.getLogger("sandbox.host")
PROCESSING_LEASE = 300   # seconds a message stays invisible while its function runs

Invoke = Callable[[Function, Payload, dict[str, Any]], Invocation]


def storage_client_options() -> dict[str, Any]:
    # Few, quick retries: a stopped Azurite should cost a poll round, not the SDK's ~80 s of retries.
    return {"retry_total": 2, "retry_backoff_factor": 0.2, "connection_timeout": 5, "read_timeout": 30}


class QueuePoller(Poller):
    def __init__(self, function: Function, options: HostOptions, invoke: Invoke,
                 min_interval: float) -> None:
        super().__init__(min_interval, options.max_polling_interval)
        self.function = function
        self.options = options
        self.name = f"queue:{function.name}"
        self._invoke = invoke
        queue, connection = function.extra["queue"], function.extra["connection"]
        self.queue = QueueClient.from_connection_string(connection, queue, **storage_client_options())
        self.poison = QueueClient.from_connection_string(connection, f"{queue}-poison",
                                                         **storage_client_options())

    def prepare(self) -> None:
        """Create the queue if it is missing (so producers can send before the first poll)."""
        with contextlib.suppress(ResourceExistsError):
            self.queue.create_queue()

    def poll_once(self) -> bool:
        messages = list(self.queue.receive_messages(max_messages=self.options.batch_size,
                                                    visibility_timeout=PROCESSING_LEASE))
        for index, message in enumerate(messages):
            if self.stopping:   # hand the rest back at once rather than after the lease
                for rest in messages[index:]:
                    self.queue.update_message(rest, pop_receipt=rest.pop_receipt, visibility_timeout=0)
                break
            self._handle(message)
        return bool(messages)

    def _handle(self, message: StorageMessage) -> None:
        detail = {"queue": self.queue.queue_name, "message_id": message.id,
                  "dequeue_count": message.dequeue_count}
        try:
            body = base64.b64decode(str(message.content), validate=True)
        except (binascii.Error, ValueError):
            log.error("%s: message %s is not base64 (the host's message encoding); moved to %s",
                      self.name, message.id, self.poison.queue_name, extra=detail)
            self._to_poison(message)
            return
        dequeue_count = int(message.dequeue_count or 1)
        if dequeue_count > self.options.max_dequeue_count:   # a crash left it over the limit
            self._to_poison(message)
            return
        payload = payloads.queue(self.function.arg_name, body, message_id=message.id,
                                 dequeue_count=dequeue_count, inserted=message.inserted_on,
                                 expires=message.expires_on, next_visible=message.next_visible_on,
                                 pop_receipt=str(message.pop_receipt or ""))
        record = self._invoke(self.function, payload, detail)
        if record.succeeded:
            self.queue.delete_message(message.id, message.pop_receipt)
        elif dequeue_count >= self.options.max_dequeue_count:
            log.warning("%s: message %s failed %d times; moved to %s", self.name, message.id,
                        dequeue_count, self.poison.queue_name, extra=detail)
            self._to_poison(message)
        else:
            self.queue.update_message(message, pop_receipt=message.pop_receipt,
                                      visibility_timeout=int(self.options.visibility_timeout))

    def _to_poison(self, message: StorageMessage) -> None:
        with contextlib.suppress(ResourceExistsError):
            self.poison.create_queue()
        self.poison.send_message(message.content)
        self.queue.delete_message(message.id, message.pop_receipt)
