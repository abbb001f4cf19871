"""SynapseRunner, the real azure-synapse-artifacts SDK, against the Synapse emulator over a real socket,
and against the documented example responses."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sandbox.azurite import free_port
from sandbox.synapse_emulator import SynapseEmulator
from shared.adapters.synapse import SynapseRunner, workspace_endpoint
from shared.core.models import RunStatus
from shared.errors import ConfigError, NotFound, Rejected, Throttled, Unavailable
from tests.integration.adf_fixture import TEST_PIPELINES
from tests.integration.canned_server import CannedServer

BATCH = "scores:2026/11/21"
EXAMPLES = json.loads((Path(__file__).parent / "fixtures" / "synapse_examples.json").read_text())


@pytest.fixture
def synapse() -> Iterator[SynapseEmulator]:
    with SynapseEmulator(TEST_PIPELINES, page_size=5) as emu:
        emu.configure(queue_delay=0.0)
        yield emu


def runner_for(url: str, **knobs: float) -> SynapseRunner:
    options = {"retries": 3, "backoff": 0.05, "max_wait": 3.0, "connect_timeout": 2.0, "read_timeout": 5.0}
    return SynapseRunner(url, **{**options, **knobs})  # type: ignore[arg-type]


@pytest.fixture
def runner(synapse: SynapseEmulator) -> Iterator[SynapseRunner]:
    adapter = runner_for(synapse.url)
    yield adapter
    adapter.close()


def window() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(minutes=5), now + timedelta(minutes=5)


def test_a_started_run_reads_back_with_status_times_and_parameters_as_text(
        synapse: SynapseEmulator, runner: SynapseRunner) -> None:
    run_id = runner.start_run("copy_job", {"batchId": BATCH, "files": ["raw/a.csv"], "count": 2})
    synapse.wait_finished(run_id)

    run = runner.get_run(run_id)

    assert (run.run_id, run.pipeline, run.status) == (run_id, "copy_job", RunStatus.SUCCEEDED)
    assert dict(run.parameters) == {"batchId": BATCH, "files": '["raw/a.csv"]', "count": "2"}
    assert run.run_start is not None and run.run_end is not None and run.run_end >= run.run_start


def test_query_runs_follows_every_page_and_keeps_only_the_named_pipeline(
        synapse: SynapseEmulator, runner: SynapseRunner) -> None:
    started = {runner.start_run("copy_job", {"batchId": f"b{i}"}) for i in range(12)}
    runner.start_run("other_job", {"batchId": "x"})

    runs = runner.query_runs("copy_job", *window())

    assert {r.run_id for r in runs} == started
    assert synapse.calls("queryPipelineRuns") == 3          # 12 runs at 5 a page


def test_a_429_is_waited_out_for_its_retry_after_and_the_run_starts_once(
        synapse: SynapseEmulator, runner: SynapseRunner) -> None:
    synapse.fail_next("createRun", status=429, retry_after=1)
    began = time.monotonic()

    run_id = runner.start_run("copy_job", {"batchId": BATCH})

    assert time.monotonic() - began >= 0.95
    assert synapse.calls("createRun") == 2
    assert [r["runId"] for r in synapse.runs(batch_id=BATCH)] == [run_id]


def test_throttling_longer_than_the_wait_budget_raises_throttled_with_its_retry_after(
        synapse: SynapseEmulator, runner: SynapseRunner) -> None:
    synapse.fail_next("createRun", status=429, retry_after=30, count=5)

    with pytest.raises(Throttled) as caught:
        runner.start_run("copy_job", {"batchId": BATCH})

    assert caught.value.retry_after == 30 and caught.value.__cause__ is not None
    assert synapse.runs() == []


def test_a_500_after_the_run_was_created_is_not_retried_and_reconciliation_finds_the_run_by_batch_id(
        synapse: SynapseEmulator, runner: SynapseRunner) -> None:
    synapse.fail_next("createRun", status=500, when="after")

    with pytest.raises(Unavailable) as caught:
        runner.start_run("copy_job", {"batchId": BATCH})

    assert caught.value.status == 500 and synapse.calls("createRun") == 1
    found = [r for r in runner.query_runs("copy_job", *window()) if r.parameters.get("batchId") == BATCH]
    assert [r.run_id for r in found] == [r["runId"] for r in synapse.runs(batch_id=BATCH)]


def test_a_503_before_the_run_was_created_is_not_retried_and_reconciliation_finds_nothing(
        synapse: SynapseEmulator, runner: SynapseRunner) -> None:
    synapse.fail_next("createRun", status=503)

    with pytest.raises(Unavailable):
        runner.start_run("copy_job", {"batchId": BATCH})

    assert synapse.calls("createRun") == 1
    assert [r for r in runner.query_runs("copy_job", *window()) if r.parameters.get("batchId") == BATCH] == []


def test_a_lost_answer_to_create_run_is_unavailable_without_a_retry_and_the_run_exists(
        synapse: SynapseEmulator) -> None:
    impatient = runner_for(synapse.url, read_timeout=0.5)
    synapse.slow_next("createRun", seconds=2)

    with pytest.raises(Unavailable, match="may have taken effect"):
        impatient.start_run("copy_job", {"batchId": BATCH})

    assert synapse.calls("createRun") == 1 and len(synapse.runs(batch_id=BATCH)) == 1
    impatient.close()


def test_reads_retry_through_5xx_and_429(synapse: SynapseEmulator, runner: SynapseRunner) -> None:
    run_id = runner.start_run("copy_job", {"batchId": BATCH})
    synapse.fail_next("getRun", status=503)
    synapse.fail_next("getRun", status=429, retry_after=0.1)
    synapse.fail_next("queryPipelineRuns", status=500, count=2)

    assert runner.get_run(run_id).run_id == run_id
    assert [r.run_id for r in runner.query_runs("copy_job", *window())] == [run_id]
    assert synapse.calls("getRun") == 3 and synapse.calls("queryPipelineRuns") == 3


def test_an_unknown_run_is_not_found_and_an_unknown_pipeline_too(synapse: SynapseEmulator,
                                                                 runner: SynapseRunner) -> None:
    with pytest.raises(NotFound, match="PipelineRunNotFound"):
        runner.get_run("0b7c2f7e-0000-4000-8000-000000000000")
    with pytest.raises(NotFound, match="no_such_pipeline"):
        runner.start_run("no_such_pipeline", {"batchId": BATCH})
    assert synapse.runs() == []


def test_a_run_missing_a_required_parameter_is_rejected(runner: SynapseRunner) -> None:
    with pytest.raises(Rejected, match="batchId") as caught:
        runner.start_run("copy_job", {"files": []})
    assert caught.value.status == 400


def test_a_failed_run_names_its_failed_activity_and_error(synapse: SynapseEmulator,
                                                          runner: SynapseRunner) -> None:
    synapse.fail_pipeline("copy_job", "disk on fire", activity="Transform")
    run_id = runner.start_run("copy_job", {"batchId": BATCH})
    synapse.wait_finished(run_id)

    run = runner.get_run(run_id)
    activities = runner.query_activity_runs(run_id)

    assert run.status is RunStatus.FAILED
    assert run.message == "Operation on target Transform failed: disk on fire"
    assert [(a["activity"], a["status"], a["error"]) for a in activities] == [
        ("Extract", "Succeeded", ""), ("Transform", "Failed", "disk on fire")]


def test_a_cancelled_run_ends_cancelled(synapse: SynapseEmulator, runner: SynapseRunner) -> None:
    synapse.configure(run_duration=10)
    run_id = runner.start_run("copy_job", {"batchId": BATCH})

    runner.cancel_run(run_id)
    runner.cancel_run(run_id)

    assert synapse.wait_finished(run_id, timeout=3)["status"] == "Cancelled"
    assert runner.get_run(run_id).status is RunStatus.CANCELLED


def test_a_refused_connection_is_unavailable_quickly() -> None:
    runner = SynapseRunner(f"http://127.0.0.1:{free_port()}", retries=2, backoff=0.05)
    began = time.monotonic()

    with pytest.raises(Unavailable, match="Synapse is unreachable"):
        runner.start_run("copy_job", {"batchId": BATCH})

    assert time.monotonic() - began < 2.0


def test_plain_http_to_anything_but_this_machine_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"dev\.azuresynapse\.net"):
        SynapseRunner("http://myworkspace.dev.azuresynapse.net")
    assert workspace_endpoint("myworkspace") == "https://myworkspace.dev.azuresynapse.net"


def _raw(url: str, body: Any, auth: bool = True) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"} | ({"Authorization": "Bearer test"} if auth else {})
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_emulator_answers_create_run_with_202_and_refuses_a_missing_token_or_a_wrong_api_version(
        synapse: SynapseEmulator) -> None:
    base = f"{synapse.url}/pipelines/copy_job/createRun"

    assert _raw(f"{base}?api-version=2020-12-01", {"batchId": BATCH}, auth=False)[0] == 401
    status, body = _raw(f"{base}?api-version=2018-06-01", {"batchId": BATCH})
    assert (status, body["error"]["code"]) == (400, "InvalidApiVersionParameter")
    status, body = _raw(f"{base}?api-version=2020-12-01", {"batchId": BATCH})
    assert status == 202 and set(body) == {"runId"}
    assert len(synapse.runs()) == 1


def test_the_documented_example_responses_read_as_runs_activities_and_a_throttle() -> None:
    run_id = EXAMPLES["getRun"]["runId"]
    replies = {
        ("POST", "/pipelines/score_batch/createRun"): (202, EXAMPLES["createRun"], {}),
        ("GET", f"/pipelineruns/{run_id}"): (200, EXAMPLES["getRun"], {}),
        ("POST", "/queryPipelineRuns"): (200, EXAMPLES["queryPipelineRuns"], {}),
        ("POST", f"/pipelines/score_batch/pipelineruns/{run_id}/queryActivityruns"):
            (200, EXAMPLES["queryActivityruns"], {}),
        ("POST", "/pipelines/throttled/createRun"): (429, EXAMPLES["throttled"], {"Retry-After": "120"}),
    }
    with CannedServer(replies) as server:
        runner = runner_for(server.url)

        assert runner.start_run("score_batch", {"batchId": BATCH}) == run_id
        run = runner.get_run(run_id)
        runs = runner.query_runs("score_batch", datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC))
        activities = runner.query_activity_runs(run_id)
        with pytest.raises(Throttled, match="TooManyRequests") as caught:
            runner.start_run("throttled", {"batchId": BATCH})

    assert server.requests[0]["body"] == {"batchId": BATCH}
    assert "api-version=2020-12-01" in server.requests[0]["path"]
    assert (run.status, run.pipeline, run.parameters["batchId"]) == (RunStatus.SUCCEEDED, "score_batch", BATCH)
    assert run.run_start == datetime(2026, 11, 21, 6, 0, 4, 123456, tzinfo=UTC)
    assert [(r.parameters["batchId"], r.status, r.run_end) for r in runs] == [
        ("scores:2026/11/21", RunStatus.SUCCEEDED, run.run_end), ("scores:2026/11/22", RunStatus.IN_PROGRESS, None)]
    assert [(a["activity"], a["status"], a["error"]) for a in activities] == [
        ("ListBatch", "Succeeded", ""), ("Score", "Failed", "model file missing")]
    assert caught.value.retry_after == 120
