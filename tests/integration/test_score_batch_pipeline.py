"""The demo pipeline score_batch, started through the SDK, run by the ADF emulator against Azurite."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator

import pytest
from azure.storage.blob import BlobServiceClient

from sandbox.adf_emulator import ADFEmulator
from sandbox.azurite import Azurite
from sandbox.pipelines import PIPELINES
from shared.adapters.data_factory import DataFactoryRunner
from shared.core.models import RunStatus
from tests.integration.adf_fixture import runner_for

UPSTREAM = "raw/scores/2026/11/21"
FILES = {
    f"{UPSTREAM}/part-0.csv": "id,ts,f1,f2,f3,region\n1,2026-11-21T05:00:00Z,0.5,0.1,2.0,eu\n"
                              "2,2026-11-21T05:01:00Z,-1.0,2.0,0.0,us\n",
    f"{UPSTREAM}/part-1.csv": "\ufeffts,id,f3,f2,f1\n2026-11-21T05:02:00Z,3,1,1,1\n"
                              "2026-11-21T05:03:00Z,4,x,1,1\n2026-11-21T05:04:00Z,not-an-id,1,1,1\n",
}


def expected_score(f1: float, f2: float, f3: float) -> float:
    return 1 / (1 + math.exp(-(-0.1 + 1.2 * f1 - 0.8 * f2 + 0.5 * f3)))


@pytest.fixture
def storage(azurite: Azurite) -> Iterator[BlobServiceClient]:
    service = BlobServiceClient.from_connection_string(azurite.connection_string, retry_total=1)
    upstream = service.get_container_client("upstream")
    if not upstream.exists():
        upstream.create_container()
    for name, text in FILES.items():
        upstream.upload_blob(name, text.encode(), overwrite=True)
    yield service
    service.close()


@pytest.fixture
def factory(azurite: Azurite) -> Iterator[tuple[ADFEmulator, DataFactoryRunner]]:
    with ADFEmulator(PIPELINES, config={"DATA_STORAGE": azurite.connection_string}) as emu:
        emu.configure(queue_delay=0.0)
        runner = runner_for(emu)
        yield emu, runner
        runner.close()


def test_score_batch_writes_the_scored_csv_where_the_contract_says(
        storage: BlobServiceClient, factory: tuple[ADFEmulator, DataFactoryRunner]) -> None:
    emulator, runner = factory
    run_id = runner.start_run("score_batch", {"batchId": "scores:2026/11/21", "dataset": "scores",
                                              "prefix": UPSTREAM + "/", "files": sorted(FILES)})
    emulator.wait_finished(run_id, timeout=20)

    assert runner.get_run(run_id).status is RunStatus.SUCCEEDED
    blob = storage.get_blob_client("outputs", "scores/2026/11/21/scores-2026-11-21.csv")
    rows = list(csv.DictReader(io.StringIO(blob.download_blob().readall().decode())))
    assert [r["id"] for r in rows] == ["1", "2", "3", "4"]           # the row without an id is dropped
    assert list(rows[0]) == ["id", "ts", "score", "label"]
    assert rows[0]["ts"] == "2026-11-21T05:00:00Z"
    assert float(rows[0]["score"]) == pytest.approx(expected_score(0.5, 0.1, 2.0), abs=1e-6)
    assert float(rows[2]["score"]) == pytest.approx(expected_score(1, 1, 1), abs=1e-6)
    assert [r["label"] for r in rows] == ["high", "low", "high", ""]
    assert rows[3]["score"] == ""                                     # f3 is not a number: no score
    metadata = blob.get_blob_properties().metadata
    assert metadata["run_id"] == run_id and metadata["batch_id"] == "scores:2026/11/21"
    score_activity = next(a for a in runner.query_activity_runs(run_id) if a["activity"] == "ScoreRows")
    assert score_activity["status"] == "Succeeded"


def test_files_that_are_json_text_are_read_as_a_list(
        storage: BlobServiceClient, factory: tuple[ADFEmulator, DataFactoryRunner]) -> None:
    emulator, runner = factory
    run_id = runner.start_run("score_batch", {"batchId": "scores:2026/11/22",
                                              "files": '["' + sorted(FILES)[0] + '"]'})

    assert emulator.wait_finished(run_id, timeout=20)["status"] == "Succeeded"
    blob = storage.get_blob_client("outputs", "scores/2026/11/22/scores-2026-11-22.csv")
    lines = blob.download_blob().readall().decode().splitlines()
    assert lines[0] == "id,ts,score,label"
    assert [line.split(",")[0] for line in lines[1:]] == ["1", "2"]


def test_a_missing_upstream_file_fails_the_run_in_load_upstream_with_the_file_named(
        storage: BlobServiceClient, factory: tuple[ADFEmulator, DataFactoryRunner]) -> None:
    emulator, runner = factory
    run_id = runner.start_run("score_batch", {"batchId": "scores:2026/11/23",
                                              "files": [f"{UPSTREAM}/part-9.csv"]})
    emulator.wait_finished(run_id, timeout=20)

    run = runner.get_run(run_id)
    assert run.status is RunStatus.FAILED
    assert run.message.startswith("Operation on target LoadUpstream failed: reading upstream/")
    assert "part-9.csv" in run.message


def test_a_malformed_files_parameter_fails_the_run_with_a_clear_message(
        storage: BlobServiceClient, factory: tuple[ADFEmulator, DataFactoryRunner]) -> None:
    emulator, runner = factory
    run_id = runner.start_run("score_batch", {"batchId": "scores:2026/11/24", "files": "[not json"})

    finished = emulator.wait_finished(run_id, timeout=20)

    assert finished["status"] == "Failed"
    assert "parameter files is not a JSON list" in finished["message"]
