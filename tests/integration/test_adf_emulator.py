"""The ADF emulator's own promises: ARM wire shapes, admin knobs over HTTP, the Web activity, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sandbox.adf_emulator import ADFEmulator
from shared.adapters.data_factory import DataFactoryRunner
from shared.core.models import RunStatus
from shared.errors import Throttled

REPO = Path(__file__).resolve().parents[2]
BATCH = "scores:2026/11/21"


def call(url: str, method: str = "GET", body: Any = None, auth: bool = True) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"} | ({"Authorization": "Bearer test"} if auth else {})
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as exc:
        text = exc.read()
        return exc.code, json.loads(text) if text else None


def arm(emulator: ADFEmulator, rest: str, api_version: str = "2018-06-01") -> str:
    return f"{emulator.url}{emulator.factory_id}{rest}?api-version={api_version}"


class Sink:
    """A webhook receiver standing in for the Functions app's /api/pipeline-events."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.bodies: list[dict[str, Any]] = []
        self.keys: list[str | None] = []
        self.on_post: Any = None
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                sink.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                sink.keys.append(self.headers.get("x-functions-key"))
                if sink.on_post is not None:
                    sink.on_post(sink.bodies[-1])
                self.send_response(sink.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/pipeline-events"


@pytest.fixture
def sink(emulator: ADFEmulator) -> Iterator[Sink]:
    receiver = Sink()
    emulator.configure(webhook_url=receiver.url, webhook_key="sandbox-key")
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def test_create_and_get_speak_the_arm_json_shapes(emulator: ADFEmulator) -> None:
    status, created = call(arm(emulator, "/pipelines/copy_job/createRun"), "POST",
                           {"batchId": BATCH, "files": ["a.csv"]})
    run_id = created["runId"]
    emulator.wait_finished(run_id)

    status, run = call(arm(emulator, f"/pipelineruns/{run_id}"))

    assert status == 200
    assert {"runId", "pipelineName", "status", "parameters", "runStart", "runEnd", "durationInMs", "message",
            "lastUpdated", "invokedBy", "runGroupId", "isLatest"} <= set(run)
    assert run["parameters"] == {"batchId": BATCH, "files": '["a.csv"]'}
    assert run["runStart"].endswith("Z") and len(run["runStart"].split(".")[1]) == 8   # 7 digits and Z
    assert run["invokedBy"]["invokedByType"] == "Manual" and isinstance(run["durationInMs"], int)


def test_query_pages_carry_a_continuation_token_until_the_last(emulator: ADFEmulator) -> None:
    for i in range(7):
        call(arm(emulator, "/pipelines/copy_job/createRun"), "POST", {"batchId": f"b{i}"})
    query = {"lastUpdatedAfter": "2000-01-01T00:00:00Z", "lastUpdatedBefore": "2100-01-01T00:00:00.0000000Z",
             "filters": [{"operand": "PipelineName", "operator": "Equals", "values": ["copy_job"]}]}

    _, first = call(arm(emulator, "/queryPipelineRuns"), "POST", query)
    _, second = call(arm(emulator, "/queryPipelineRuns"), "POST", {**query, "continuationToken":
                                                                   first["continuationToken"]})

    assert len(first["value"]) == 5 and first["continuationToken"]
    assert len(second["value"]) == 2 and second["continuationToken"] is None
    assert len({r["runId"] for r in first["value"] + second["value"]}) == 7


def test_malformed_requests_get_arm_errors_not_crashes(emulator: ADFEmulator) -> None:
    no_window = call(arm(emulator, "/queryPipelineRuns"), "POST", {"filters": []})
    bad_operand = call(arm(emulator, "/queryPipelineRuns"), "POST", {
        "lastUpdatedAfter": "2000-01-01T00:00:00Z", "lastUpdatedBefore": "2100-01-01T00:00:00Z",
        "filters": [{"operand": "Colour", "operator": "Equals", "values": ["red"]}]})
    bad_token = call(arm(emulator, "/queryPipelineRuns"), "POST", {
        "lastUpdatedAfter": "2000-01-01T00:00:00Z", "lastUpdatedBefore": "2100-01-01T00:00:00Z",
        "continuationToken": "garbage"})
    old_api = call(arm(emulator, "/pipelines/copy_job/createRun", api_version="2017-09-01-preview"),
                   "POST", {})
    not_a_guid = call(arm(emulator, "/pipelineruns/not-a-guid"))
    not_json = urllib.request.Request(arm(emulator, "/pipelines/copy_job/createRun"), data=b"{oops",
                                      method="POST", headers={"Authorization": "Bearer test"})

    assert [no_window[0], bad_operand[0], bad_token[0], old_api[0], not_a_guid[0]] == [400] * 5
    assert old_api[1]["error"]["code"] == "InvalidApiVersionParameter"
    assert "lastUpdatedAfter" in no_window[1]["error"]["message"]
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(not_json, timeout=5)
    assert caught.value.code == 400 and "not valid JSON" in caught.value.read().decode()
    assert emulator.runs() == []


def test_faults_set_over_http_reach_the_sdk_as_throttling(emulator: ADFEmulator,
                                                          runner: DataFactoryRunner) -> None:
    status, _ = call(f"{emulator.url}/_emulator/faults", "POST",
                     {"operation": "createRun", "status": 429, "retryAfter": 60, "count": 2})

    assert status == 204
    with pytest.raises(Throttled) as caught:
        runner.start_run("copy_job", {"batchId": BATCH})
    assert caught.value.retry_after == 60


def test_the_inspection_call_counts_runs_per_batch(emulator: ADFEmulator, runner: DataFactoryRunner) -> None:
    first = runner.start_run("copy_job", {"batchId": BATCH})
    runner.start_run("copy_job", {"batchId": "scores:2026/11/22"})
    emulator.wait_finished(first)

    status, listed = call(f"{emulator.url}/_emulator/runs?batchId={BATCH}")

    assert status == 200
    assert [r["runId"] for r in listed["value"]] == [first]
    assert [a["activityName"] for a in listed["value"][0]["activities"]] == ["Extract", "Transform"]


def test_a_pipeline_failed_over_http_fails_until_healed(emulator: ADFEmulator,
                                                        runner: DataFactoryRunner) -> None:
    call(f"{emulator.url}/_emulator/pipelines/copy_job/failure", "POST", {"message": "quota exceeded"})
    failed = runner.start_run("copy_job", {"batchId": BATCH})
    call(f"{emulator.url}/_emulator/pipelines/copy_job/failure", "DELETE")
    healed = runner.start_run("copy_job", {"batchId": BATCH})

    assert emulator.wait_finished(failed)["message"] == "Operation on target Extract failed: quota exceeded"
    assert emulator.wait_finished(healed)["status"] == "Succeeded"


def test_settings_over_http_reject_unknown_names(emulator: ADFEmulator) -> None:
    ok = call(f"{emulator.url}/_emulator/settings", "PUT", {"runDuration": 0.2, "pageSize": 2})
    unknown = call(f"{emulator.url}/_emulator/settings", "PUT", {"runDurration": 1})

    assert ok[0] == 200 and ok[1]["settings"]["run_duration"] == 0.2 and emulator.page_size == 2
    assert unknown[0] == 400 and "runDurration" in unknown[1]["error"]


def test_a_run_ends_with_the_web_activity_posting_the_pipeline_event(
        emulator: ADFEmulator, runner: DataFactoryRunner, sink: Sink) -> None:
    run_id = runner.start_run("copy_job", {"batchId": BATCH})
    emulator.wait_finished(run_id)

    assert sink.bodies == [{"factory": emulator.factory_name, "pipeline": "copy_job", "runId": run_id,
                            "status": "Succeeded", "batchId": BATCH}]
    assert sink.keys == ["sandbox-key"]
    assert runner.query_activity_runs(run_id)[-1]["activity"] == "NotifyAutopilot"


def test_while_the_web_activity_posts_the_run_is_still_in_progress_as_in_adf(
        emulator: ADFEmulator, runner: DataFactoryRunner, sink: Sink) -> None:
    seen: list[RunStatus] = []
    sink.on_post = lambda body: seen.append(runner.get_run(body["runId"]).status)
    run_id = runner.start_run("copy_job", {"batchId": BATCH})

    emulator.wait_finished(run_id)

    assert seen == [RunStatus.IN_PROGRESS]
    assert runner.get_run(run_id).status is RunStatus.SUCCEEDED


def test_a_failed_run_posts_its_error_and_activity(emulator: ADFEmulator, runner: DataFactoryRunner,
                                                   sink: Sink) -> None:
    emulator.fail_pipeline("copy_job", "source table locked", activity="Transform")
    run_id = runner.start_run("copy_job", {"batchId": BATCH})
    emulator.wait_finished(run_id)

    assert sink.bodies[0]["status"] == "Failed"
    assert sink.bodies[0]["error"] == {"message": "source table locked", "activity": "Transform"}
    assert runner.get_run(run_id).status is RunStatus.FAILED
    assert [(a["activity"], a["status"]) for a in runner.query_activity_runs(run_id)] == [
        ("Extract", "Succeeded"), ("Transform", "Failed"), ("NotifyAutopilot", "Succeeded")]


def test_a_failure_injected_without_an_activity_fails_the_first_one_and_still_notifies(
        emulator: ADFEmulator, runner: DataFactoryRunner, sink: Sink) -> None:
    emulator.fail_pipeline("copy_job", "cluster unavailable")
    run_id = runner.start_run("copy_job", {"batchId": BATCH})
    emulator.wait_finished(run_id)

    assert [(a["activity"], a["status"]) for a in runner.query_activity_runs(run_id)] == [
        ("Extract", "Failed"), ("NotifyAutopilot", "Succeeded")]
    assert sink.bodies[0]["error"] == {"message": "cluster unavailable", "activity": "Extract"}


def test_a_webhook_that_answers_500_fails_the_web_activity_and_the_run(
        emulator: ADFEmulator, runner: DataFactoryRunner, sink: Sink) -> None:
    sink.status = 500
    run_id = runner.start_run("copy_job", {"batchId": BATCH})

    finished = emulator.wait_finished(run_id)

    assert finished["status"] == "Failed"
    assert finished["message"].startswith(
        "Operation on target NotifyAutopilot failed: the webhook answered 500")


def test_the_emulator_runs_as_a_module_and_prints_its_url() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATA_STORAGE"}
    env["PYTHONPATH"] = str(REPO)
    process = subprocess.Popen([sys.executable, "-m", "sandbox.adf_emulator", "--factory", "adf-cli"],
                               cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        started = json.loads(process.stdout.readline())
        status, health = call(f"{started['url']}/_emulator/health")
        assert started["factory"] == "adf-cli" and status == 200
        assert health["factoryId"].endswith("/factories/adf-cli")
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
