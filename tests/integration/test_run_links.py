"""Links to where the work ran and Copy row counts, end to end over real sockets: the ADF emulator runs
``train_and_publish``, the real ``DataFactoryRunner`` reads its activity runs (output and error as ADF
gives them), and the webhook's worker turns them into run_failed links, error lines and copy_mismatch."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox.adf_emulator import ADFEmulator
from sandbox.pipelines import PIPELINES
from sandbox.pipelines.train_and_publish import batch_logs, run_page_url
from shared.adapters.data_factory import DataFactoryRunner
from shared.core.models import Alert, Link
from shared.core.spec import PipelinesConfig
from shared.core.typed import coerce
from shared.services import pipeline_events
from shared.services.deps import Deps
from tests.fakes import FixedClock, ListAlertSink, ListQueue, MemoryBlobStore, MemoryStateStore, RecordingMetrics
from tests.integration.adf_fixture import runner_for

BATCH = "publish:2026/11/21"


@pytest.fixture
def factory() -> Iterator[tuple[ADFEmulator, DataFactoryRunner]]:
    with ADFEmulator({"train_and_publish": PIPELINES["train_and_publish"]}) as emu:
        emu.configure(queue_delay=0.0)
        adapter = runner_for(emu)
        yield emu, adapter
        adapter.close()


def decide(factory: tuple[ADFEmulator, DataFactoryRunner], parameters: dict[str, Any]) -> tuple[
        str, list[Alert], RecordingMetrics]:
    emu, runner = factory
    config, problems = coerce(PipelinesConfig, {"datasets": [{
        "name": "publish", "upstream": {"container": "upstream"}, "pipeline": {"name": "train_and_publish"}}]})
    assert config is not None, problems
    clock = FixedClock(datetime.now(UTC))
    alerts, queue, recorded = ListAlertSink(), ListQueue(), RecordingMetrics()
    deps = Deps(config, clock, MemoryBlobStore(clock), MemoryStateStore(), runner, alerts,
                verdict_wait=timedelta(0), events_queue=queue, metrics=recorded,
                run_links=lambda run_id: (Link("Open the run in ADF", f"https://adf.azure.com/{run_id}"),))
    run_id = runner.start_run("train_and_publish", {"batchId": BATCH, **parameters})
    finished = emu.wait_finished(run_id)
    event = {"factory": emu.factory_name, "pipeline": "train_and_publish", "runId": run_id,
             "status": finished["status"], "batchId": BATCH}
    pipeline_events.accept(deps, json.dumps(event).encode(), "application/json", clock.now())
    for message in queue.drain():
        pipeline_events.process(deps, message, clock.now())
    return run_id, alerts.alerts, recorded


def test_a_failing_notebook_gives_run_failed_its_databricks_run_page_and_error_lines(
        factory: tuple[ADFEmulator, DataFactoryRunner]) -> None:
    run_id, alerts, recorded = decide(factory, {"notebookFails": "true"})
    [failed] = alerts
    assert failed.code == "run_failed" and "in activity TrainModel" in failed.message
    assert [link.url for link in failed.links] == [f"https://adf.azure.com/{run_id}", run_page_url(run_id)]
    assert failed.links[1].title == "TrainModel: Databricks run"
    assert failed.facts["error_code"] == "3204"
    assert failed.facts["error_lines"].splitlines() == [
        "Notebook failed: ValueError: feature f2 has 40% nulls (cell 7)", f"Run page: {run_page_url(run_id)}",
        "ValueError: feature f2 has 40% nulls (cell 7)"]
    assert [d["outcome"] for _, d in recorded.values("autopilot.runs")] == ["failed"]


def test_a_failure_injected_by_the_emulators_knob_still_carries_the_run_page(
        factory: tuple[ADFEmulator, DataFactoryRunner]) -> None:
    factory[0].fail_pipeline("train_and_publish", "cluster terminated", activity="TrainModel")
    run_id, alerts, _ = decide(factory, {})
    [failed] = alerts
    assert failed.message.endswith("in activity TrainModel: cluster terminated")
    assert run_page_url(run_id) in [link.url for link in failed.links]


def test_a_copy_that_wrote_fewer_rows_than_it_read_raises_copy_mismatch_with_both_counts(
        factory: tuple[ADFEmulator, DataFactoryRunner]) -> None:
    _, alerts, _ = decide(factory, {"rowsRead": 10_000, "rowsCopied": 9_200})
    [mismatch] = alerts
    assert mismatch.code == "copy_mismatch" and mismatch.severity.value == "fail"
    assert (mismatch.facts["rows_read"], mismatch.facts["rows_copied"], mismatch.facts["activity"]) == (
        "10000", "9200", "CopyToSql")
    assert "read 10,000 rows and wrote 9,200; 800 rows are unaccounted for" in mismatch.message


def test_a_faithful_run_raises_nothing_and_its_batch_logs_are_in_the_activity_output(
        factory: tuple[ADFEmulator, DataFactoryRunner]) -> None:
    run_id, alerts, _ = decide(factory, {"rowsRead": 500})
    assert alerts == []
    [custom] = [a for a in factory[1].query_activity_runs(run_id) if a["activity"] == "ScoreOnBatch"]
    assert custom["output"]["outputs"] == batch_logs(run_id)
