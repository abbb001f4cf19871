"""The Synapse and Fabric emulators' own promises: the same local pipelines and Web activity as the ADF
emulator, the shared knobs over HTTP, and a standalone process that prints where it listens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.fabric_emulator import FabricEmulator
from sandbox.pipelines import PIPELINES
from sandbox.synapse_emulator import SynapseEmulator
from shared.adapters.fabric import FabricRunner
from shared.adapters.synapse import SynapseRunner
from shared.errors import Throttled
from tests.integration.adf_fixture import TEST_PIPELINES
from tests.integration.test_adf_emulator import Sink, call

REPO = Path(__file__).resolve().parents[2]
BATCH = "scores:2026/11/21"


@pytest.fixture
def sink() -> Iterator[Sink]:
    receiver = Sink()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def test_both_emulators_host_the_adf_emulators_local_pipelines_by_default() -> None:
    with SynapseEmulator() as synapse, FabricEmulator() as fabric:
        assert set(synapse.pipelines) == set(fabric.pipelines) == set(PIPELINES)
        assert fabric.items["score_batch"] in fabric.health()["items"].values()


def test_a_synapse_run_ends_with_the_web_activity_naming_the_workspace_and_the_run(sink: Sink) -> None:
    with SynapseEmulator(TEST_PIPELINES, workspace="syn-demo") as synapse:
        synapse.configure(queue_delay=0.0, webhook_url=sink.url, webhook_key="k")
        run_id = SynapseRunner(synapse.url, retries=0).start_run("copy_job", {"batchId": BATCH})
        synapse.wait_finished(run_id)

    assert sink.bodies == [{"factory": "syn-demo", "pipeline": "copy_job", "runId": run_id, "status": "Succeeded",
                            "batchId": BATCH}]


def test_a_fabric_run_ends_with_the_web_activity_naming_the_workspace_and_the_job_instance(sink: Sink) -> None:
    with FabricEmulator(TEST_PIPELINES) as fabric:
        fabric.configure(queue_delay=0.0, webhook_url=sink.url)
        runner = FabricRunner(fabric.workspace_id, fabric.items, base_url=f"{fabric.url}/v1", retries=0)
        fabric.fail_pipeline("copy_job", "disk on fire", activity="Transform")
        run_id = runner.start_run("copy_job", {"batchId": BATCH})
        fabric.wait_finished(run_id)

    assert sink.bodies == [{"factory": fabric.workspace_id, "pipeline": "copy_job", "runId": run_id,
                            "status": "Failed", "batchId": BATCH,
                            "error": {"message": "disk on fire", "activity": "Transform"}}]


def test_faults_set_over_http_reach_the_fabric_runner_as_throttling() -> None:
    with FabricEmulator(TEST_PIPELINES) as fabric:
        status, _ = call(f"{fabric.url}/_emulator/faults", "POST",
                         {"operation": "createRun", "status": 429, "retryAfter": 60, "count": 2})
        unknown, error = call(f"{fabric.url}/_emulator/faults", "POST", {"operation": "queryPipelineRuns"})
        runner = FabricRunner(fabric.workspace_id, fabric.items, base_url=f"{fabric.url}/v1", retries=1,
                              max_wait=1.0)
        with pytest.raises(Throttled) as caught:
            runner.start_run("copy_job", {"batchId": BATCH})

    assert (status, unknown) == (204, 400) and "listRuns" in error["error"]
    assert caught.value.retry_after == 60 and fabric.runs() == []


@pytest.mark.parametrize(("module", "key"), [("sandbox.synapse_emulator", "workspace"),
                                             ("sandbox.fabric_emulator", "workspaceId")])
def test_the_emulators_run_as_modules_and_print_their_url(module: str, key: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATA_STORAGE"}
    env["PYTHONPATH"] = str(REPO)
    process = subprocess.Popen([sys.executable, "-m", module], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        started = json.loads(process.stdout.readline())
        status, health = call(f"{started['url'].removesuffix('/v1')}/_emulator/health")
        assert status == 200 and health[key] == started[key]
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
