"""The sandbox Functions host runs a real FunctionApp against Azurite and a real HTTP port."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import azure.functions as func
import pytest
import requests
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerClient
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from sandbox.azurite import Azurite
from sandbox.host import LocalHost
from sandbox.host.blobs import POISON_QUEUE
from shared.errors import ConfigError

SEEN: list[tuple[str, Any]] = []   # what the test functions received, in order
SEEN_LOCK = threading.Lock()
FAIL_MARKER = b"please-fail"


def seen(function: str) -> list[Any]:
    with SEEN_LOCK:
        return [value for name, value in SEEN if name == function]


def record(function: str, value: Any) -> None:
    with SEEN_LOCK:
        SEEN.append((function, value))


timers = func.Blueprint()


@timers.function_name("tick")
@timers.timer_trigger(arg_name="timer", schedule="%TICK_SCHEDULE%", use_monitor=False)
def tick(timer: func.TimerRequest) -> None:
    record("tick", {"past_due": timer.past_due, "greeting": os.environ.get("GREETING")})


work = func.Blueprint()


@work.function_name("work")
@work.queue_trigger(arg_name="msg", queue_name="%WORK_QUEUE%", connection="AzureWebJobsStorage")
def handle_work(msg: func.QueueMessage) -> None:
    record("work", {"body": msg.get_body(), "dequeue_count": msg.dequeue_count, "id": msg.id,
                    "inserted": msg.insertion_time})
    if msg.get_body() == FAIL_MARKER:
        raise RuntimeError("the marker message always fails")


outputs = func.Blueprint()


@outputs.function_name("on_output")
@outputs.blob_trigger(arg_name="blob", path="%OUTPUT_CONTAINER%/{name}", connection="DATA_STORAGE")
def on_output(blob: func.InputStream) -> None:
    data = blob.read()
    record("on_output", {"name": blob.name, "length": blob.length, "uri": blob.uri, "data": data})
    if data == FAIL_MARKER:
        raise ValueError("this output is unreadable")


web = func.Blueprint()


@web.function_name("secure")
@web.route(route="secure/{item:int}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def secure(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps({"item": req.route_params["item"]}), mimetype="application/json")


@web.function_name("echo")
@web.route(route="echo/{name}", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
def echo(req: func.HttpRequest) -> func.HttpResponse:
    reply = {"name": req.route_params["name"], "mode": req.params.get("mode"), "body": req.get_json(),
             "header": req.headers.get("x-trace"), "method": req.method, "url": req.url}
    return func.HttpResponse(json.dumps(reply), status_code=201, headers={"x-echo": "yes"},
                             mimetype="application/json")


@web.function_name("broken")
@web.route(route="broken", auth_level=func.AuthLevel.ANONYMOUS)
def broken(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("secret internal detail")


IN_FLIGHT = {"now": 0, "most": 0}


@web.function_name("slow")
@web.route(route="slow", auth_level=func.AuthLevel.ANONYMOUS)
def slow(req: func.HttpRequest) -> func.HttpResponse:
    with SEEN_LOCK:
        IN_FLIGHT["now"] += 1
        IN_FLIGHT["most"] = max(IN_FLIGHT["most"], IN_FLIGHT["now"])
    time.sleep(0.2)
    with SEEN_LOCK:
        IN_FLIGHT["now"] -= 1
    return func.HttpResponse("done")


app = func.FunctionApp()
for blueprint in (timers, work, outputs, web):
    app.register_functions(blueprint)

HOST_JSON = {"version": "2.0", "extensions": {"queues": {"maxDequeueCount": 3,
                                                         "visibilityTimeout": "00:00:00",
                                                         "maxPollingInterval": "00:00:00.2"}}}
KEY = "test-host-key-not-a-secret"


@pytest.fixture
def settings(azurite: Azurite, unique: str) -> dict[str, str]:
    with SEEN_LOCK:
        SEEN.clear()
    connection = azurite.connection_string
    return {"AzureWebJobsStorage": connection, "DATA_STORAGE": connection,
            "TICK_SCHEDULE": "0 0 * * * *", "WORK_QUEUE": f"work-{unique}",
            "OUTPUT_CONTAINER": f"outputs-{unique}", "GREETING": f"hello-{unique}"}


def start_host(settings: dict[str, str], **options: Any) -> LocalHost:
    options = {"host_json": HOST_JSON, "keys": {"default": KEY}, "poll_interval": 0.1,
               "function_keys": {"secure": {"default": "secure-only-key"},
                                 "echo": {"default": "echo-only-key"}},
               **options}
    return LocalHost(app, settings, **options).start()


@pytest.fixture
def host(settings: dict[str, str]) -> Iterator[LocalHost]:
    running = start_host(settings)
    yield running
    running.stop()


def queue(settings: dict[str, str], name: str) -> QueueClient:
    return QueueClient.from_connection_string(settings["AzureWebJobsStorage"], name, retry_total=1,
                                              message_encode_policy=TextBase64EncodePolicy())


def container(settings: dict[str, str]) -> ContainerClient:
    service = BlobServiceClient.from_connection_string(settings["DATA_STORAGE"], retry_total=1)
    client = service.get_container_client(settings["OUTPUT_CONTAINER"])
    if not client.exists():
        client.create_container()
    return client


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except ResourceNotFoundError:   # the queue is created by the host a moment later
            pass
        time.sleep(0.05)
    return False


def quiet_period(seconds: float = 0.6) -> None:
    """Give pollers several rounds to (wrongly) deliver again before asserting they did not."""
    time.sleep(seconds)


# -- timers --------------------------------------------------------------------------------------

def test_fire_timer_runs_the_timer_function_now_and_passes_past_due(host: LocalHost) -> None:
    first = host.fire_timer("tick")
    second = host.fire_timer("tick", past_due=True)

    assert first.succeeded
    assert second.succeeded
    assert [s["past_due"] for s in seen("tick")] == [False, True]


def test_an_hourly_timer_fires_every_second_at_a_speed_of_3600(settings: dict[str, str]) -> None:
    running = start_host(settings, speed=3600)
    try:
        fired = running.wait_for("tick", count=2, timeout=5)
    finally:
        running.stop()

    scheduled = [inv.detail["scheduled"] for inv in fired[:2]]
    assert all(s.endswith(":00:00+00:00") for s in scheduled)   # on the hour, as "0 0 * * * *" says
    gap = (fired[1].started - fired[0].started).total_seconds()
    assert 0.5 < gap < 2.0   # one virtual hour is one real second


def test_setting_expressions_resolve_and_settings_reach_the_app_only_while_the_host_runs(
        settings: dict[str, str]) -> None:
    assert "GREETING" not in os.environ
    running = start_host(settings)
    try:
        running.fire_timer("tick")
        names = {f.name: f for f in running.functions}
    finally:
        running.stop()

    assert seen("tick")[0]["greeting"] == settings["GREETING"]
    assert names["work"].binding["queueName"] == settings["WORK_QUEUE"]
    assert names["on_output"].binding["path"] == f"{settings['OUTPUT_CONTAINER']}/{{name}}"
    assert "GREETING" not in os.environ


def test_a_missing_setting_is_a_startup_error_naming_the_function_and_the_setting(
        settings: dict[str, str]) -> None:
    del settings["WORK_QUEUE"]
    before = {t.name for t in threading.enumerate()}

    with pytest.raises(ConfigError) as raised:
        start_host(settings)

    assert "function work" in str(raised.value)
    assert "'WORK_QUEUE'" in str(raised.value)
    assert {t.name for t in threading.enumerate()} == before
    assert "GREETING" not in os.environ


def test_every_binding_problem_is_reported_at_once(settings: dict[str, str]) -> None:
    settings["TICK_SCHEDULE"] = "0 0 * * * * *"       # seven fields: the Functions host takes five or six
    settings["AzureWebJobsStorage"] = ""
    with pytest.raises(ConfigError) as raised:
        start_host(settings)

    message = str(raised.value)
    assert "function tick" in message
    assert "has 7 fields" in message
    assert "function work" in message
    assert "AzureWebJobsStorage" in message


def test_a_binding_the_host_cannot_serve_is_a_startup_error(settings: dict[str, str]) -> None:
    other = func.FunctionApp()

    @other.function_name("forward")
    @other.queue_trigger(arg_name="msg", queue_name="in-items", connection="AzureWebJobsStorage")
    @other.queue_output(arg_name="out", queue_name="out-items", connection="AzureWebJobsStorage")
    def forward(msg: func.QueueMessage, out: func.Out[str]) -> None:
        out.set(msg.get_body().decode())

    with pytest.raises(ConfigError, match="function forward: queue binding 'out' is not supported"):
        LocalHost(other, settings).start()


# -- queues --------------------------------------------------------------------------------------

def test_a_queue_message_is_delivered_once_then_deleted(host: LocalHost, settings: dict[str, str]) -> None:
    work_queue = queue(settings, settings["WORK_QUEUE"])
    sent = work_queue.send_message("batch-42 is ready")

    host.wait_for("work", timeout=5)
    quiet_period()

    [delivered] = seen("work")
    assert delivered["body"] == b"batch-42 is ready"
    assert delivered["id"] == sent.id
    assert delivered["dequeue_count"] == 1
    assert delivered["inserted"] is not None
    assert list(work_queue.peek_messages()) == []


def test_a_failing_message_is_retried_to_max_dequeue_count_then_moved_to_the_poison_queue(
        host: LocalHost, settings: dict[str, str]) -> None:
    work_queue = queue(settings, settings["WORK_QUEUE"])
    work_queue.send_message(FAIL_MARKER.decode())

    failures = host.wait_for("work", count=3, timeout=8, succeeded=False)
    quiet_period()

    assert [f["dequeue_count"] for f in seen("work")] == [1, 2, 3]
    assert all("marker message always fails" in (f.error or "") for f in failures)
    poison = [m.content for m in queue(settings, f"{settings['WORK_QUEUE']}-poison").peek_messages()]
    assert poison == [base64.b64encode(FAIL_MARKER).decode()]   # content moved unchanged
    assert list(work_queue.peek_messages()) == []


def test_a_message_that_is_not_base64_goes_straight_to_the_poison_queue(
        host: LocalHost, settings: dict[str, str]) -> None:
    raw = QueueClient.from_connection_string(settings["AzureWebJobsStorage"], settings["WORK_QUEUE"],
                                             retry_total=1)
    raw.send_message("not base64 at all!")
    poison = QueueClient.from_connection_string(settings["AzureWebJobsStorage"],
                                                f"{settings['WORK_QUEUE']}-poison", retry_total=1)

    assert wait_until(lambda: bool(list(poison.peek_messages())), timeout=5)

    assert [m.content for m in poison.peek_messages()] == ["not base64 at all!"]
    assert seen("work") == []


# -- blobs ---------------------------------------------------------------------------------------

def test_a_new_blob_is_delivered_once_and_a_changed_blob_again(
        host: LocalHost, settings: dict[str, str]) -> None:
    outputs_container = container(settings)
    outputs_container.upload_blob("2026/11/scores.csv", b"id,score\n1,0.5\n")

    host.wait_for("on_output", timeout=5)
    quiet_period()
    assert len(seen("on_output")) == 1
    first = seen("on_output")[0]
    assert first["name"] == f"{settings['OUTPUT_CONTAINER']}/2026/11/scores.csv"
    assert first["data"] == b"id,score\n1,0.5\n"
    assert first["length"] == len(first["data"])
    assert first["uri"].endswith("/2026/11/scores.csv")

    outputs_container.upload_blob("2026/11/scores.csv", b"id,score\n1,0.7\n", overwrite=True)
    host.wait_for("on_output", count=2, timeout=5)
    quiet_period()

    assert [s["data"] for s in seen("on_output")] == [b"id,score\n1,0.5\n", b"id,score\n1,0.7\n"]


def test_a_restarted_host_does_not_deliver_blobs_it_has_receipts_for(settings: dict[str, str]) -> None:
    outputs_container = container(settings)
    outputs_container.upload_blob("first.csv", b"a\n1\n")
    with start_host(settings) as first_run:
        first_run.wait_for("on_output", timeout=5)

    with start_host(settings) as second_run:
        outputs_container.upload_blob("second.csv", b"a\n2\n")
        second_run.wait_for("on_output", timeout=5)
        quiet_period()
        delivered = [inv.detail["blob"] for inv in second_run.invocations]

    assert delivered == [f"{settings['OUTPUT_CONTAINER']}/second.csv"]
    assert [s["data"] for s in seen("on_output")] == [b"a\n1\n", b"a\n2\n"]


def test_a_blob_that_keeps_failing_is_poisoned_after_max_dequeue_count_attempts(
        host: LocalHost, settings: dict[str, str]) -> None:
    container(settings).upload_blob("broken.csv", FAIL_MARKER)

    host.wait_for("on_output", count=3, timeout=8, succeeded=False)
    quiet_period()

    assert len(seen("on_output")) == 3
    poison = QueueClient.from_connection_string(settings["AzureWebJobsStorage"], POISON_QUEUE,
                                                retry_total=1)
    messages = [json.loads(base64.b64decode(m.content)) for m in poison.peek_messages(max_messages=32)]
    ours = [m for m in messages if m["ContainerName"] == settings["OUTPUT_CONTAINER"]]
    assert [(m["BlobName"], m["FunctionId"]) for m in ours] == [("broken.csv", "Host.Functions.on_output")]


# -- HTTP ----------------------------------------------------------------------------------------

def test_a_function_level_route_answers_401_without_a_valid_key_and_200_with_one(host: LocalHost) -> None:
    url = f"{host.url}/secure/7"

    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, headers={"x-functions-key": "wrong"}, timeout=5).status_code == 401
    with_header = requests.get(url, headers={"x-functions-key": KEY}, timeout=5)
    with_code = requests.get(url, params={"code": KEY}, timeout=5)

    assert with_header.status_code == 200
    assert with_header.json() == {"item": "7"}
    assert with_header.headers["Content-Type"].startswith("application/json")
    assert with_code.status_code == 200
    assert requests.get(f"{host.url}/secure/seven", params={"code": KEY}, timeout=5).status_code == 404


def test_a_function_key_opens_its_own_function_only(host: LocalHost) -> None:
    url = f"{host.url}/secure/7"

    assert requests.get(url, headers={"x-functions-key": "secure-only-key"}, timeout=5).status_code == 200
    assert requests.get(url, headers={"x-functions-key": "echo-only-key"}, timeout=5).status_code == 401


def test_an_anonymous_route_gets_the_request_as_the_azure_host_passes_it(host: LocalHost) -> None:
    reply = requests.post(f"{host.url}/echo/orders?mode=full", json={"rows": 3},
                          headers={"x-trace": "abc"}, timeout=5)

    assert reply.status_code == 201
    assert reply.headers["x-echo"] == "yes"
    assert reply.json() == {"name": "orders", "mode": "full", "body": {"rows": 3}, "header": "abc",
                            "method": "POST", "url": f"{host.url}/echo/orders?mode=full"}
    assert requests.get(f"{host.url}/echo/orders", timeout=5).status_code == 404   # POST only


def test_a_chunked_request_body_reaches_the_function_whole(host: LocalHost) -> None:
    reply = requests.post(f"{host.url}/echo/chunks", data=iter([b'{"rows"', b": 3}"]), timeout=5)

    assert reply.status_code == 201
    assert reply.json()["body"] == {"rows": 3}


def test_a_function_that_raises_answers_500_without_its_details(host: LocalHost) -> None:
    reply = requests.get(f"{host.url}/broken", timeout=5)

    assert reply.status_code == 500
    assert "secret" not in reply.text
    [failed] = host.wait_for("broken", timeout=1)
    assert not failed.succeeded
    assert "secret internal detail" in (failed.error or "")


def test_stop_leaves_no_threads_behind_and_frees_the_port(settings: dict[str, str]) -> None:
    before = {t.name for t in threading.enumerate()}
    running = start_host(settings, speed=3600)
    requests.get(f"{running.url}/secure/1", params={"code": KEY}, timeout=5)
    url = running.url
    assert any(t.name.startswith("sandbox-") for t in threading.enumerate())

    running.stop()

    assert {t.name for t in threading.enumerate()} == before
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/secure/1", timeout=2)


def test_a_function_disabled_by_app_setting_is_neither_routed_nor_triggered(settings: dict[str, str]) -> None:
    settings = {**settings, "AzureWebJobs.echo.Disabled": "true", "AzureWebJobs.work.Disabled": "1"}
    running = start_host(settings)
    try:
        assert {f.name for f in running.functions} >= {"secure", "tick", "on_output"}
        assert not {"echo", "work"} & {f.name for f in running.functions}
        assert requests.post(f"{running.url}/echo/x", json={}, timeout=5).status_code == 404
        assert requests.get(f"{running.url}/secure/1", params={"code": KEY}, timeout=5).status_code == 200
    finally:
        running.stop()


def _concurrent_slow_calls(running: LocalHost, callers: int) -> int:
    IN_FLIGHT.update(now=0, most=0)
    threads = [threading.Thread(target=requests.get, args=(f"{running.url}/slow",), kwargs={"timeout": 10})
               for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return IN_FLIGHT["most"]


def test_http_functions_run_on_a_pool_of_python_threadpool_thread_count_threads(
        settings: dict[str, str]) -> None:
    running = start_host({**settings, "PYTHON_THREADPOOL_THREAD_COUNT": "2"})
    try:
        assert _concurrent_slow_calls(running, 5) == 2
    finally:
        running.stop()
    running = start_host(settings)   # default: min(32, cores + 4) threads
    try:
        assert _concurrent_slow_calls(running, 3) == 3
    finally:
        running.stop()


@pytest.mark.parametrize("value", ["0", "many", "33"])
def test_a_bad_python_threadpool_thread_count_is_a_startup_error(settings: dict[str, str], value: str) -> None:
    with pytest.raises(ConfigError, match="PYTHON_THREADPOOL_THREAD_COUNT"):
        start_host({**settings, "PYTHON_THREADPOOL_THREAD_COUNT": value})
