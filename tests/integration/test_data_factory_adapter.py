"""DataFactoryRunner, the real azure-mgmt-datafactory SDK, against the ADF emulator over a real socket."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import ClientAuthenticationError

from sandbox.adf_emulator import ADFEmulator
from sandbox.azurite import free_port
from sandbox.local_factory import FACTORY_NAME, RESOURCE_GROUP, SUBSCRIPTION_ID
from shared.adapters.data_factory import DataFactoryRunner
from shared.connections import FactoryRef
from shared.core.models import RunStatus
from shared.errors import ConfigError, NotFound, Rejected, Throttled, Unavailable
from tests.integration.adf_fixture import TEST_PIPELINES, runner_for

BATCH = "scores:2026/11/21"


def window() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(minutes=5), now + timedelta(minutes=5)


def test_a_started_run_reads_back_with_status_times_and_parameters_as_text(
        emulator: ADFEmulator, runner: DataFactoryRunner) -> None:
    run_id = runner.start_run("copy_job", {"batchId": BATCH, "files": ["raw/a.csv", "raw/b.csv"], "count": 2})
    emulator.wait_finished(run_id)

    run = runner.get_run(run_id)

    assert (run.run_id, run.pipeline, run.status) == (run_id, "copy_job", RunStatus.SUCCEEDED)
    assert dict(run.parameters) == {"batchId": BATCH, "files": '["raw/a.csv", "raw/b.csv"]', "count": "2"}
    assert run.run_start is not None and run.run_end is not None
    assert run.run_start.utcoffset() == timedelta(0) and run.run_end >= run.run_start
    assert abs(run.run_start - datetime.now(UTC)) < timedelta(minutes=1)


def test_query_runs_follows_every_page_and_keeps_only_the_named_pipeline(
        emulator: ADFEmulator, runner: DataFactoryRunner) -> None:
    started = {runner.start_run("copy_job", {"batchId": f"b{i}"}) for i in range(12)}
    runner.start_run("other_job", {"batchId": "x"})
    since, until = window()

    runs = runner.query_runs("copy_job", since, until)

    assert {r.run_id for r in runs} == started
    assert all(r.pipeline == "copy_job" for r in runs)
    assert emulator.calls("queryPipelineRuns") == 3      # 12 runs at 5 a page


def test_query_runs_outside_the_window_finds_nothing(emulator: ADFEmulator,
                                                     runner: DataFactoryRunner) -> None:
    runner.start_run("copy_job", {"batchId": BATCH})
    long_ago = datetime.now(UTC) - timedelta(days=3)

    assert runner.query_runs("copy_job", long_ago, long_ago + timedelta(hours=1)) == []


def test_a_429_is_waited_out_for_its_retry_after_and_the_run_starts_once(
        emulator: ADFEmulator, runner: DataFactoryRunner) -> None:
    emulator.fail_next("createRun", status=429, retry_after=1)
    began = time.monotonic()

    run_id = runner.start_run("copy_job", {"batchId": BATCH})

    assert time.monotonic() - began >= 0.95
    assert emulator.calls("createRun") == 2
    assert [r["runId"] for r in emulator.runs(batch_id=BATCH)] == [run_id]


def test_throttling_longer_than_the_wait_budget_raises_throttled_at_once_with_its_retry_after(
        emulator: ADFEmulator, runner: DataFactoryRunner) -> None:
    emulator.fail_next("createRun", status=429, retry_after=30, count=5)
    began = time.monotonic()

    with pytest.raises(Throttled) as caught:
        runner.start_run("copy_job", {"batchId": BATCH})

    assert caught.value.retry_after == 30
    assert caught.value.__cause__ is not None
    assert time.monotonic() - began < 1.0
    assert emulator.runs() == []


def test_a_500_after_the_run_was_created_is_not_retried_and_the_run_is_found_by_query(
        emulator: ADFEmulator, runner: DataFactoryRunner) -> None:
    emulator.fail_next("createRun", status=500, when="after")

    with pytest.raises(Unavailable) as caught:
        runner.start_run("copy_job", {"batchId": BATCH})

    assert caught.value.status == 500
    assert emulator.calls("createRun") == 1
    since, until = window()
    found = [r for r in runner.query_runs("copy_job", since, until) if r.parameters.get("batchId") == BATCH]
    assert len(found) == 1 and len(emulator.runs(batch_id=BATCH)) == 1


def test_a_503_on_create_run_is_not_retried_because_the_adapter_cannot_know_whether_it_took_effect(
        emulator: ADFEmulator, runner: DataFactoryRunner) -> None:
    emulator.fail_next("createRun", status=503, when="before")

    with pytest.raises(Unavailable):
        runner.start_run("copy_job", {"batchId": BATCH})

    assert emulator.calls("createRun") == 1
    assert emulator.runs() == []


def test_a_lost_answer_to_create_run_is_unavailable_without_a_retry_and_the_run_exists(
        emulator: ADFEmulator) -> None:
    impatient = runner_for(emulator, read_timeout=0.5)
    emulator.slow_next("createRun", seconds=2)
    began = time.monotonic()

    with pytest.raises(Unavailable, match="may have taken effect"):
        impatient.start_run("copy_job", {"batchId": BATCH})

    assert time.monotonic() - began < 1.5
    assert emulator.calls("createRun") == 1
    assert len(emulator.runs(batch_id=BATCH)) == 1
    impatient.close()


def test_reads_retry_through_5xx_and_429(emulator: ADFEmulator, runner: DataFactoryRunner) -> None:
    run_id = runner.start_run("copy_job", {"batchId": BATCH})
    emulator.fail_next("getRun", status=503)
    emulator.fail_next("getRun", status=429, retry_after=0.1)
    emulator.fail_next("queryPipelineRuns", status=500, count=2)

    assert runner.get_run(run_id).run_id == run_id
    assert [r.run_id for r in runner.query_runs("copy_job", *window())] == [run_id]
    assert emulator.calls("getRun") == 3
    assert emulator.calls("queryPipelineRuns") == 3


def test_reads_that_keep_failing_raise_unavailable_after_the_retries(
        emulator: ADFEmulator, runner: DataFactoryRunner) -> None:
    run_id = runner.start_run("copy_job", {"batchId": BATCH})
    emulator.fail_next("getRun", status=500, count=10)

    with pytest.raises(Unavailable):
        runner.get_run(run_id)

    assert emulator.calls("getRun") == 4                  # the first try and 3 retries


def test_an_unknown_run_is_not_found(runner: DataFactoryRunner) -> None:
    with pytest.raises(NotFound) as caught:
        runner.get_run("0b7c2f7e-0000-4000-8000-000000000000")
    assert caught.value.status == 404 and "PipelineRunNotFound" in str(caught.value)


def test_an_unknown_pipeline_is_not_found(emulator: ADFEmulator, runner: DataFactoryRunner) -> None:
    with pytest.raises(NotFound, match="no_such_pipeline"):
        runner.start_run("no_such_pipeline", {"batchId": BATCH})
    assert emulator.runs() == []


def test_a_factory_that_does_not_exist_is_not_found(emulator: ADFEmulator) -> None:
    ref = FactoryRef(emulator.subscription_id, emulator.resource_group, "adf-elsewhere", emulator.url)
    with pytest.raises(NotFound, match="adf-elsewhere"):
        DataFactoryRunner(ref, retries=0).start_run("copy_job", {"batchId": BATCH})


def test_a_run_missing_a_required_parameter_is_rejected(emulator: ADFEmulator,
                                                        runner: DataFactoryRunner) -> None:
    with pytest.raises(Rejected, match="batchId") as caught:
        runner.start_run("copy_job", {"files": []})
    assert caught.value.status == 400
    assert emulator.calls("createRun") == 1


def test_parameters_that_are_not_json_are_rejected_before_any_call(
        emulator: ADFEmulator, runner: DataFactoryRunner) -> None:
    with pytest.raises(Rejected, match="not JSON"):
        runner.start_run("copy_job", {"batchId": BATCH, "when": datetime.now(UTC)})
    assert emulator.requests == []


def test_a_refused_connection_is_unavailable_quickly() -> None:
    port = free_port()                                   # nothing listens there any more
    ref = FactoryRef("sub", "rg", "factory", f"http://127.0.0.1:{port}")
    runner = DataFactoryRunner(ref, retries=2, backoff=0.05)
    began = time.monotonic()

    with pytest.raises(Unavailable, match="unreachable") as caught:
        runner.start_run("copy_job", {"batchId": BATCH})

    assert time.monotonic() - began < 2.0
    assert caught.value.__cause__ is not None


def test_a_create_run_refused_before_it_was_sent_is_retried_and_starts_the_run_once() -> None:
    port = free_port()
    late: list[ADFEmulator] = []

    def factory_comes_up(seconds: float) -> None:   # the runner's back-off: the factory starts meanwhile
        if not late:
            late.append(ADFEmulator(TEST_PIPELINES, port=port).start())

    runner = DataFactoryRunner(FactoryRef(SUBSCRIPTION_ID, RESOURCE_GROUP, FACTORY_NAME, f"http://127.0.0.1:{port}"),
                               retries=2, sleep=factory_comes_up)
    try:
        run_id = runner.start_run("copy_job", {"batchId": BATCH})
        assert [r["runId"] for r in late[0].runs()] == [run_id]
        assert late[0].calls("createRun") == 1
    finally:
        runner.close()
        for emulator in late:
            emulator.stop()


def test_a_credential_that_cannot_get_a_token_is_rejected_with_the_identity_named() -> None:
    class NoIdentity:
        def get_token(self, *scopes: str, **kwargs: object) -> object:
            raise ClientAuthenticationError("ManagedIdentityCredential: no identity is assigned")

    ref = FactoryRef("sub", "rg", "factory", f"https://127.0.0.1:{free_port()}")
    runner = DataFactoryRunner(ref, credential=NoIdentity(), retries=0)  # type: ignore[arg-type]

    with pytest.raises(Rejected, match="managed identity") as caught:
        runner.start_run("copy_job", {"batchId": BATCH})
    assert isinstance(caught.value.__cause__, ClientAuthenticationError)


def test_a_failed_run_names_its_failed_activity_and_error(emulator: ADFEmulator,
                                                          runner: DataFactoryRunner) -> None:
    emulator.fail_pipeline("copy_job", "disk on fire", activity="Transform")
    run_id = runner.start_run("copy_job", {"batchId": BATCH})
    emulator.wait_finished(run_id)

    run = runner.get_run(run_id)
    activities = runner.query_activity_runs(run_id)

    assert run.status is RunStatus.FAILED
    assert run.message == "Operation on target Transform failed: disk on fire"
    assert [(a["activity"], a["status"], a["error"]) for a in activities] == [
        ("Extract", "Succeeded", ""), ("Transform", "Failed", "disk on fire")]
    assert activities[0]["type"] == "Copy" and activities[0]["start"] <= activities[1]["start"]


def test_activity_runs_of_an_unknown_run_are_not_found(runner: DataFactoryRunner) -> None:
    with pytest.raises(NotFound):
        runner.query_activity_runs("0b7c2f7e-0000-4000-8000-000000000001")


def test_a_cancelled_run_ends_cancelled(emulator: ADFEmulator, runner: DataFactoryRunner) -> None:
    emulator.configure(run_duration=10)
    run_id = runner.start_run("copy_job", {"batchId": BATCH})

    runner.cancel_run(run_id)
    runner.cancel_run(run_id)                            # twice is harmless

    assert emulator.wait_finished(run_id, timeout=3)["status"] == "Cancelled"
    assert runner.get_run(run_id).status is RunStatus.CANCELLED


def test_plain_http_to_anything_but_this_machine_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="ADF_ENDPOINT"):
        DataFactoryRunner(FactoryRef("sub", "rg", "factory", "http://management.example.net"))


def test_the_emulator_refuses_a_request_without_a_bearer_token(emulator: ADFEmulator) -> None:
    url = f"{emulator.url}{emulator.factory_id}/pipelines/copy_job/createRun?api-version=2018-06-01"
    request = urllib.request.Request(url, data=json.dumps({"batchId": BATCH}).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)

    assert caught.value.code == 401
    assert json.loads(caught.value.read())["error"]["code"] == "AuthenticationFailed"
    assert emulator.runs() == []
