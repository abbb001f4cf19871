"""FabricRunner against the Fabric emulator over a real socket, and against the documented example
responses of the Fabric REST job scheduler."""

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
from sandbox.fabric_emulator import WORKSPACE_ID, FabricEmulator, item_id_for
from shared.adapters.fabric import FabricRunner, job_instance_from, parse_time
from shared.core.models import RunStatus
from shared.errors import ConfigError, NotFound, Rejected, Throttled, Unavailable
from tests.integration.adf_fixture import TEST_PIPELINES
from tests.integration.canned_server import CannedServer

BATCH = "scores:2026/11/21"
FIXTURES = Path(__file__).parent / "fixtures" / "fabric_examples.json"


@pytest.fixture
def fabric() -> Iterator[FabricEmulator]:
    with FabricEmulator(TEST_PIPELINES, page_size=5) as emu:
        emu.configure(queue_delay=0.0)
        yield emu


def runner_for(emu: FabricEmulator, **knobs: float) -> FabricRunner:
    options = {"retries": 3, "backoff": 0.05, "max_wait": 3.0, "connect_timeout": 2.0, "read_timeout": 5.0}
    return FabricRunner(emu.workspace_id, emu.items, base_url=f"{emu.url}/v1",
                        **{**options, **knobs})  # type: ignore[arg-type]


@pytest.fixture
def runner(fabric: FabricEmulator) -> FabricRunner:
    return runner_for(fabric)


def window() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(minutes=5), now + timedelta(minutes=5)


def test_a_started_run_is_a_job_instance_that_reads_back_with_its_status_and_times(
        fabric: FabricEmulator, runner: FabricRunner) -> None:
    run_id = runner.start_run("copy_job", {"batchId": BATCH, "files": ["raw/a.csv"]})
    fabric.wait_finished(run_id)

    run = runner.get_run(run_id)

    assert (run.run_id, run.pipeline, run.status) == (run_id, "copy_job", RunStatus.SUCCEEDED)
    assert run.run_start is not None and run.run_end is not None and run.run_end >= run.run_start
    assert dict(run.parameters) == {}                    # Fabric does not report them
    assert fabric.runs(batch_id=BATCH)[0]["parameters"] == {"batchId": BATCH, "files": '["raw/a.csv"]'}


def test_a_run_started_by_another_process_is_found_among_the_configured_items(
        fabric: FabricEmulator, runner: FabricRunner) -> None:
    run_id = runner_for(fabric).start_run("other_job", {"batchId": "x"})
    fabric.wait_finished(run_id)

    assert runner.get_run(run_id).pipeline == "other_job"


def test_query_runs_follows_every_page_and_keeps_only_the_pipelines_item(
        fabric: FabricEmulator, runner: FabricRunner) -> None:
    started = {runner.start_run("copy_job", {"batchId": f"b{i}"}) for i in range(12)}
    runner.start_run("other_job", {"batchId": "x"})

    runs = runner.query_runs("copy_job", *window())

    assert {r.run_id for r in runs} == started
    assert fabric.calls("listRuns") == 3                 # 12 job instances at 5 a page


def test_a_429_is_waited_out_for_its_retry_after_and_the_run_starts_once(
        fabric: FabricEmulator, runner: FabricRunner) -> None:
    fabric.fail_next("createRun", status=429, retry_after=1)
    began = time.monotonic()

    run_id = runner.start_run("copy_job", {"batchId": BATCH})

    assert time.monotonic() - began >= 0.95
    assert fabric.calls("createRun") == 2
    assert [r["runId"] for r in fabric.runs(batch_id=BATCH)] == [run_id]


def test_throttling_longer_than_the_wait_budget_raises_throttled_with_its_retry_after(
        fabric: FabricEmulator, runner: FabricRunner) -> None:
    fabric.fail_next("createRun", status=429, retry_after=30, count=5)

    with pytest.raises(Throttled, match="RequestBlocked") as caught:
        runner.start_run("copy_job", {"batchId": BATCH})

    assert caught.value.retry_after == 30 and fabric.runs() == []


def test_a_500_after_the_run_was_created_is_not_retried_and_reconciliation_finds_that_run_by_its_start_window(
        fabric: FabricEmulator, runner: FabricRunner) -> None:
    other = runner.start_run("copy_job", {"batchId": "scores:2026/11/20"})   # another claim recorded this one
    claimed_at = datetime.now(UTC)
    fabric.fail_next("createRun", status=500, when="after")

    with pytest.raises(Unavailable) as caught:
        runner.start_run("copy_job", {"batchId": BATCH})

    assert caught.value.status == 500 and fabric.calls("createRun") == 2
    found = runner.find_started_run("copy_job", claimed_at=claimed_at, known_run_ids={other})
    assert found is not None
    assert [found.run_id] == [r["runId"] for r in fabric.runs(batch_id=BATCH)]


def test_a_503_before_the_run_was_created_is_not_retried_and_reconciliation_finds_nothing(
        fabric: FabricEmulator, runner: FabricRunner) -> None:
    claimed_at = datetime.now(UTC)
    fabric.fail_next("createRun", status=503)

    with pytest.raises(Unavailable):
        runner.start_run("copy_job", {"batchId": BATCH})

    assert fabric.calls("createRun") == 1
    assert runner.find_started_run("copy_job", claimed_at=claimed_at) is None


def test_a_lost_answer_is_unavailable_without_a_retry_and_reconciliation_finds_the_run(
        fabric: FabricEmulator) -> None:
    impatient = runner_for(fabric, read_timeout=0.5)
    claimed_at = datetime.now(UTC)
    fabric.slow_next("createRun", seconds=2)

    with pytest.raises(Unavailable, match="may have taken effect"):
        impatient.start_run("copy_job", {"batchId": BATCH})

    assert fabric.calls("createRun") == 1
    found = runner_for(fabric).find_started_run("copy_job", claimed_at=claimed_at)
    assert found is not None and [found.run_id] == [r["runId"] for r in fabric.runs(batch_id=BATCH)]


def test_runs_started_long_before_the_claim_are_not_taken_for_its_run(
        fabric: FabricEmulator, runner: FabricRunner) -> None:
    runner.start_run("copy_job", {"batchId": "scores:2026/11/20"})

    assert runner.find_started_run("copy_job", claimed_at=datetime.now(UTC) + timedelta(hours=1)) is None


def test_a_create_run_refused_before_it_was_sent_is_retried_and_starts_the_run_once() -> None:
    port = free_port()
    late: list[FabricEmulator] = []

    def fabric_comes_up(seconds: float) -> None:   # the runner's back-off: the service starts meanwhile
        if not late:
            late.append(FabricEmulator(TEST_PIPELINES, port=port).start())

    items = {name: item_id_for(name) for name in TEST_PIPELINES}
    runner = FabricRunner(WORKSPACE_ID,
                          items, base_url=f"http://127.0.0.1:{port}/v1", retries=2, sleep=fabric_comes_up)
    try:
        run_id = runner.start_run("copy_job", {"batchId": BATCH})
        assert [r["runId"] for r in late[0].runs()] == [run_id]
        assert late[0].calls("createRun") == 1
    finally:
        for emulator in late:
            emulator.stop()


def test_reads_retry_through_5xx_and_429(fabric: FabricEmulator, runner: FabricRunner) -> None:
    run_id = runner.start_run("copy_job", {"batchId": BATCH})
    fabric.fail_next("getRun", status=503)
    fabric.fail_next("getRun", status=429, retry_after=0.1)
    fabric.fail_next("listRuns", status=500, count=2)

    assert runner.get_run(run_id).run_id == run_id
    assert [r.run_id for r in runner.query_runs("copy_job", *window())] == [run_id]
    assert fabric.calls("getRun") == 3 and fabric.calls("listRuns") == 3


def test_an_unknown_run_and_an_unknown_item_are_not_found(fabric: FabricEmulator, runner: FabricRunner) -> None:
    with pytest.raises(NotFound, match="no job instance"):
        runner.get_run("0b7c2f7e-0000-4000-8000-000000000000")
    with pytest.raises(NotFound, match="ItemNotFound"):
        runner.start_run("0b7c2f7e-0000-4000-8000-00000000ffff", {"batchId": BATCH})
    assert fabric.runs() == []


def test_a_run_missing_a_required_parameter_is_rejected(runner: FabricRunner) -> None:
    with pytest.raises(Rejected, match="batchId") as caught:
        runner.start_run("copy_job", {"files": []})
    assert caught.value.status == 400


def test_a_failed_run_carries_its_failure_reason(fabric: FabricEmulator, runner: FabricRunner) -> None:
    fabric.fail_pipeline("copy_job", "disk on fire", activity="Transform")
    run_id = runner.start_run("copy_job", {"batchId": BATCH})
    fabric.wait_finished(run_id)

    run = runner.get_run(run_id)
    activities = runner.query_activity_runs(run_id)

    assert run.status is RunStatus.FAILED
    assert run.message == "Operation on target Transform failed: disk on fire"
    assert [(a["activity"], a["status"], a["error"]) for a in activities] == [("copy_job", "Failed", run.message)]


def test_a_cancelled_run_ends_cancelled(fabric: FabricEmulator, runner: FabricRunner) -> None:
    fabric.configure(run_duration=10)
    run_id = runner.start_run("copy_job", {"batchId": BATCH})

    runner.cancel_run(run_id)
    runner.cancel_run(run_id)

    assert fabric.wait_finished(run_id, timeout=3)["status"] == "Cancelled"
    assert runner.get_run(run_id).status is RunStatus.CANCELLED


def test_plain_http_to_anything_but_this_machine_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Fabric API URL"):
        FabricRunner("ws", {}, base_url="http://api.fabric.microsoft.com/v1")


def _raw(url: str, body: Any, auth: bool = True) -> tuple[int, Any, dict[str, str]]:
    headers = {"Content-Type": "application/json"} | ({"Authorization": "Bearer test"} if auth else {})
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None, dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), dict(exc.headers)


def test_the_emulator_speaks_the_job_scheduler_shapes(fabric: FabricEmulator) -> None:
    jobs = f"{fabric.url}/v1/workspaces/{fabric.workspace_id}/items/{item_id_for('copy_job')}/jobs"
    body = {"executionData": {"parameters": {"batchId": BATCH}}}

    assert _raw(f"{jobs}/instances?jobType=Pipeline", body, auth=False)[0] == 401
    status, error, _ = _raw(f"{jobs}/instances?jobType=DefaultJob", body)
    assert (status, error["errorCode"]) == (400, "InvalidJobType") and "requestId" in error
    status, answer, headers = _raw(f"{jobs}/instances?jobType=Pipeline", body)
    assert (status, answer, headers["Retry-After"]) == (202, None, "60")
    assert job_instance_from(headers["Location"]) == fabric.runs()[0]["runId"]
    assert _raw(f"{jobs}/Pipeline/instances", body)[0] == 202           # the newer path form
    with urllib.request.urlopen(urllib.request.Request(
            headers["Location"], headers={"Authorization": "Bearer test"}), timeout=5) as response:
        instance = json.loads(response.read())
    assert set(instance) == {"id", "itemId", "jobType", "invokeType", "status", "rootActivityId", "startTimeUtc",
                             "endTimeUtc", "failureReason"}
    assert instance["jobType"] == "Pipeline" and not instance["startTimeUtc"].endswith("Z")


def test_the_documented_example_responses_read_as_runs_pages_and_errors() -> None:
    text = FIXTURES.read_text()
    ex = json.loads(text)
    jobs = f"/v1/workspaces/{ex['workspaceId']}/items/{ex['itemId']}/jobs"
    run_id = ex["getInstance"]["id"]
    with CannedServer({}) as server:
        ex = json.loads(text.replace("https://api.fabric.microsoft.com", server.url))
        token = ex["listPage1"]["continuationToken"]
        server.replies.update({
            ("POST", f"{jobs}/instances"): (202, None, ex["runOnDemand"]["headers"]),
            ("GET", f"{jobs}/instances/{run_id}"): (200, ex["getInstance"], {}),
            ("GET", f"{jobs}/instances"): (200, ex["listPage1"], {}),
            ("GET", f"{jobs}/instances?continuationToken={token}"): (200, ex["listPage2"], {}),
            ("POST", "/v1/workspaces/w/items/throttled/jobs/instances"): (429, ex["throttled"], {"Retry-After": "90"}),
            ("POST", "/v1/workspaces/w/items/busy/jobs/instances"): (400, ex["tooManyJobs"], {"Retry-After": "90"}),
            ("GET", "/v1/workspaces/w/items/gone/jobs/instances"): (404, ex["itemNotFound"], {}),
        })
        runner = FabricRunner(ex["workspaceId"], {"score_batch": ex["itemId"]}, base_url=f"{server.url}/v1",
                              retries=1, backoff=0.01, max_wait=1.0)
        other = FabricRunner("w", {}, base_url=f"{server.url}/v1", retries=1, backoff=0.01, max_wait=1.0)

        assert runner.start_run("score_batch", {"batchId": BATCH}) == run_id
        run = runner.get_run(run_id)
        runs = runner.query_runs("score_batch", datetime(2026, 11, 19, tzinfo=UTC), datetime(2026, 11, 22, tzinfo=UTC))
        reconciled = runner.find_started_run("score_batch", claimed_at=datetime(2026, 11, 20, 5, 59, tzinfo=UTC))
        with pytest.raises(Throttled, match="RequestBlocked") as throttled:
            other.start_run("throttled", {"batchId": BATCH})
        with pytest.raises(Throttled, match="TooManyRequestsForJobs"):
            other.start_run("busy", {"batchId": BATCH})
        with pytest.raises(NotFound, match="ItemNotFound"):
            other.query_runs("gone", *window())

    assert server.requests[0]["path"].endswith("/jobs/instances?jobType=Pipeline")
    assert server.requests[0]["body"] == {"executionData": {"parameters": {"batchId": BATCH}}}
    assert (run.pipeline, run.status) == ("score_batch", RunStatus.SUCCEEDED)
    assert run.run_start == datetime(2026, 11, 21, 6, 0, 4, 123456, tzinfo=UTC)
    assert [(r.status, r.message) for r in runs] == [
        (RunStatus.SUCCEEDED, ""), (RunStatus.FAILED, "Operation on target Score failed: model file missing"),
        (RunStatus.CANCELLED, "deduplicated: another instance of this job was already running")]
    # The scheduled (not manual) instance is never taken for a start of ours; the deduplicated manual one is.
    assert reconciled is not None and reconciled.status is RunStatus.CANCELLED
    assert throttled.value.retry_after == 90


def test_fabric_times_without_a_zone_are_utc_and_seven_digits_are_cut_to_six() -> None:
    assert parse_time("2023-04-22T06:35:00.7812154") == datetime(2023, 4, 22, 6, 35, 0, 781215, tzinfo=UTC)
    assert parse_time("2023-04-22T06:35:00") == datetime(2023, 4, 22, 6, 35, tzinfo=UTC)
    assert parse_time(None) is None and parse_time("yesterday") is None
