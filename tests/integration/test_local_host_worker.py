"""The local host indexes and invokes through Microsoft's worker library, so functions get what Azure
gives them: SDK-type blob bindings as a reference, plain bindings as bytes, the worker's own types."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import azure.functions as func
import azurefunctions.extensions.bindings.blob as blob_types
import pytest
from azure.storage.blob import BlobClient as StorageBlobClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from sandbox.azurite import Azurite
from sandbox.host import LocalHost
from sandbox.host.worker import Worker

RECEIVED: list[tuple[str, Any]] = []
LOCK = threading.Lock()


def received(function: str) -> list[Any]:
    with LOCK:
        return [value for name, value in RECEIVED if name == function]


app = func.FunctionApp()


@app.function_name("by_reference")
@app.blob_trigger(arg_name="client", path="%SDK_CONTAINER%/{name}", connection="DATA_STORAGE")
def by_reference(client: blob_types.BlobClient) -> None:
    with LOCK:
        RECEIVED.append(("by_reference", {"type": type(client), "container": client.container_name,
                                          "name": client.blob_name, "content": client.download_blob().readall()}))


@app.function_name("by_content")
@app.blob_trigger(arg_name="stream", path="%PLAIN_CONTAINER%/{name}", connection="DATA_STORAGE")
def by_content(stream: func.InputStream) -> None:
    with LOCK:
        RECEIVED.append(("by_content", {"type": type(stream), "name": stream.name, "data": stream.read()}))


@app.function_name("message")
@app.queue_trigger(arg_name="msg", queue_name="%TYPES_QUEUE%", connection="AzureWebJobsStorage")
def message(msg: func.QueueMessage) -> None:
    with LOCK:
        RECEIVED.append(("message", {"type": type(msg), "body": msg.get_body(), "count": msg.dequeue_count}))


@app.function_name("clock")
@app.timer_trigger(arg_name="timer", schedule="0 0 0 1 1 *", use_monitor=False)
def clock(timer: func.TimerRequest, context: func.Context) -> None:
    with LOCK:
        RECEIVED.append(("clock", {"type": type(timer), "past_due": timer.past_due,
                                   "invocation_id": context.invocation_id, "name": context.function_name}))


@pytest.fixture
def settings(azurite: Azurite, unique: str) -> dict[str, str]:
    with LOCK:
        RECEIVED.clear()
    return {"AzureWebJobsStorage": azurite.connection_string, "DATA_STORAGE": azurite.connection_string,
            "SDK_CONTAINER": f"sdk-{unique}", "PLAIN_CONTAINER": f"plain-{unique}", "TYPES_QUEUE": f"types-{unique}"}


@pytest.fixture
def host(settings: dict[str, str]) -> Iterator[LocalHost]:
    running = LocalHost(app, settings, poll_interval=0.1).start()
    yield running
    running.stop()


def upload(settings: dict[str, str], container: str, name: str, data: bytes) -> None:
    service = BlobServiceClient.from_connection_string(settings["DATA_STORAGE"], retry_total=1)
    client = service.get_container_client(container)
    if not client.exists():
        client.create_container()
    client.upload_blob(name, data, overwrite=True)


def test_the_worker_reports_the_output_guard_as_an_sdk_type_binding_and_nothing_else() -> None:
    import function_app

    worker = Worker(function_app.app, ".")
    try:
        functions = {f.name: f for f in worker.start()}
    finally:
        worker.stop()

    guard = functions["output_guard"]
    assert guard.deferred
    assert guard.trigger["type"] == "blobTrigger"
    assert str(guard.trigger["properties"]["SupportsDeferredBinding"]).lower() == "true"
    assert [name for name, f in functions.items() if f.deferred] == ["output_guard"]


def test_an_sdk_type_blob_binding_gets_a_blob_client_and_the_host_sends_no_content(
        host: LocalHost, settings: dict[str, str]) -> None:
    upload(settings, settings["SDK_CONTAINER"], "2026/11/29/part-0.csv", b"id\n1\n2\n")

    [invocation] = host.wait_for("by_reference", timeout=10)

    [seen] = received("by_reference")
    assert invocation.succeeded
    assert issubclass(seen["type"], StorageBlobClient)
    assert (seen["container"], seen["name"]) == (settings["SDK_CONTAINER"], "2026/11/29/part-0.csv")
    assert seen["content"] == b"id\n1\n2\n"   # the client reads the blob itself
    assert invocation.detail["sent_bytes"] == 0


def test_a_plain_blob_binding_gets_the_whole_content_as_azure_sends_it(
        host: LocalHost, settings: dict[str, str]) -> None:
    upload(settings, settings["PLAIN_CONTAINER"], "a.csv", b"x\n" * 1000)

    [invocation] = host.wait_for("by_content", timeout=10)

    [seen] = received("by_content")
    assert issubclass(seen["type"], func.InputStream)
    assert seen["name"] == f"{settings['PLAIN_CONTAINER']}/a.csv"
    assert seen["data"] == b"x\n" * 1000
    assert invocation.detail["sent_bytes"] == 2000


def test_queue_and_timer_functions_get_the_worker_s_own_types_and_context(
        host: LocalHost, settings: dict[str, str]) -> None:
    QueueClient.from_connection_string(settings["AzureWebJobsStorage"], settings["TYPES_QUEUE"], retry_total=1,
                                       message_encode_policy=TextBase64EncodePolicy()).send_message("héllo")
    host.wait_for("message", timeout=10)
    fired = host.fire_timer("clock", past_due=True)

    [queued] = received("message")
    [ticked] = received("clock")
    assert issubclass(queued["type"], func.QueueMessage)
    assert (queued["body"], queued["count"]) == ("héllo".encode(), 1)
    assert issubclass(ticked["type"], func.TimerRequest)
    assert ticked["past_due"] is True
    assert (ticked["invocation_id"], ticked["name"]) == (fired.id, "clock")


def test_a_function_whose_parameters_do_not_match_its_bindings_is_refused_at_indexing(
        settings: dict[str, str]) -> None:
    from shared.errors import ConfigError

    other = func.FunctionApp()

    @other.function_name("mismatch")
    @other.queue_trigger(arg_name="msg", queue_name="q-items", connection="AzureWebJobsStorage")
    def mismatch(message: func.QueueMessage) -> None:
        raise AssertionError("never runs")

    with pytest.raises(ConfigError, match="mismatch"):
        LocalHost(other, settings).start()
