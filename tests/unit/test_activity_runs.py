"""Links to where the work ran, error lines and Copy row counts, read from ADF's activity runs."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from shared.core import activity_runs
from shared.core.models import Link
from shared.core.spec import PipelinesConfig
from shared.core.typed import coerce
from shared.services import pipeline_events
from shared.services.deps import Deps
from tests.fakes import FixedClock, ListAlertSink, ListQueue, MemoryBlobStore, MemoryStateStore, RecordingRunner

RUN_PAGE = "https://adb-1234567890123456.7.azuredatabricks.net/?o=1234567890123456#job/42/run/7"
STDOUT = "https://batchstore.blob.core.windows.net/adfjobs/0b7c2f7e/output/stdout.txt"
STDERR = "https://batchstore.blob.core.windows.net/adfjobs/0b7c2f7e/output/stderr.txt"


NOTEBOOK_ERROR = "Notebook failed: ValueError: bad column\n  at cell 3"


def notebook(status: str = "Failed", error: str = NOTEBOOK_ERROR) -> dict[str, Any]:
    # The shape ADF's queryActivityruns gives a Databricks notebook activity.
    return {"activity": "TrainModel", "type": "DatabricksNotebook", "status": status, "error": error,
            "error_code": "3204", "output": {"runPageUrl": RUN_PAGE, "effectiveIntegrationRuntime": "AutoResolve",
                                             "executionDuration": 61, "runError": "ValueError: bad column"}}


def custom(status: str = "Failed") -> dict[str, Any]:
    return {"activity": "ScoreOnBatch", "type": "Custom", "status": status, "error": "exit code 1",
            "output": {"exitcode": 1, "outputs": [STDOUT, STDERR], "effectiveIntegrationRuntime": "Default"}}


def copy(read: object, copied: object, skipped: object = None, status: str = "Succeeded") -> dict[str, Any]:
    output: dict[str, Any] = {"dataRead": 1000, "dataWritten": 900, "rowsRead": read, "rowsCopied": copied}
    if skipped is not None:
        output["rowsSkipped"] = skipped
    return {"activity": "CopyToSql", "type": "Copy", "status": status, "error": "", "output": output}


def test_a_databricks_run_page_and_batch_logs_become_titled_links() -> None:
    assert activity_runs.links([notebook(), custom()]) == (
        Link("TrainModel: Databricks run", RUN_PAGE), Link("ScoreOnBatch: Batch stdout", STDOUT),
        Link("ScoreOnBatch: Batch stderr", STDERR))


def test_only_https_urls_are_links_and_each_once() -> None:
    odd = {"activity": "X", "output": {"a": "http://plain.example/x", "b": "javascript:alert(1)", "c": RUN_PAGE,
                                       "d": 7, "e": ["not a url", RUN_PAGE]}}
    assert activity_runs.links([odd, {"activity": "Y", "output": "text"}]) == (
        Link("X: c", RUN_PAGE),)


def test_an_azure_ml_run_url_is_named_as_such() -> None:
    url = "https://ml.azure.com/runs/abc?wsid=/subscriptions/s/resourcegroups/rg/workspaces/w"
    assert activity_runs.links([{"activity": "Retrain", "output": {"runUrl": url}}]) == (
        Link("Retrain: Azure ML run", url),)


def test_error_lines_join_the_message_and_the_notebooks_own_error_without_repeats() -> None:
    assert activity_runs.error_lines(notebook()) == ["Notebook failed: ValueError: bad column", "at cell 3",
                                                     "ValueError: bad column"]


def test_a_copy_that_wrote_fewer_rows_than_it_read_is_a_mismatch_with_both_counts() -> None:
    [found] = activity_runs.copy_mismatches([copy(10_000, 9_200)])
    assert (found.rows_read, found.rows_copied, found.unexplained) == (10_000, 9_200, 800)
    assert found.sentence() == ("Copy activity CopyToSql read 10,000 rows and wrote 9,200; 800 rows are "
                                "unaccounted for.")


def test_skipped_rows_are_a_mismatch_even_when_they_account_for_the_difference() -> None:
    [found] = activity_runs.copy_mismatches([copy(10_000, 9_990, skipped=10)])
    assert found.unexplained == 0 and "skipped 10 incompatible rows" in found.sentence()


def test_a_faithful_copy_a_failed_copy_and_a_binary_copy_are_not_mismatches() -> None:
    binary = {"activity": "CopyFiles", "type": "Copy", "status": "Succeeded", "output": {"filesWritten": 3}}
    assert activity_runs.copy_mismatches([copy(500, 500, skipped=0), copy(500, 10, status="Failed"), binary,
                                          copy("n/a", 5), notebook("Succeeded")]) == []


class World:
    def __init__(self) -> None:
        config, problems = coerce(PipelinesConfig, {"datasets": [{
            "name": "scores", "upstream": {"container": "upstream"}, "pipeline": {"name": "score_batch"}}]})
        assert config is not None, problems
        self.clock = FixedClock()
        self.runner = RecordingRunner(self.clock)
        self.alerts = ListAlertSink()
        self.queue = ListQueue()
        self.deps = Deps(config, self.clock, MemoryBlobStore(self.clock), MemoryStateStore(), self.runner,
                         self.alerts, verdict_wait=timedelta(0), events_queue=self.queue,
                         run_links=lambda run_id: (Link("Open the run in ADF", f"https://adf.azure.com/{run_id}"),))

    def decide(self, activities: list[dict[str, Any]], status: str = "Succeeded") -> str:
        run_id = self.runner.start_run("score_batch", {"batchId": "scores:2026/11/21"})
        self.runner.activities[run_id] = activities
        event = {"factory": "f", "pipeline": "score_batch", "runId": run_id, "status": status,
                 "batchId": "scores:2026/11/21"}
        pipeline_events.accept(self.deps, json.dumps(event).encode(), "application/json", self.clock.now())
        for message in self.queue.drain():
            pipeline_events.process(self.deps, message, self.clock.now())
        return run_id


def test_run_failed_links_the_databricks_run_and_carries_the_error_lines() -> None:
    world = World()
    run_id = world.decide([copy(10, 10), notebook()], status="Failed")
    [failed] = [a for a in world.alerts.alerts if a.code == "run_failed"]
    assert "in activity TrainModel: Notebook failed: ValueError: bad column" in failed.message
    assert [link.url for link in failed.links] == [f"https://adf.azure.com/{run_id}", RUN_PAGE]
    assert failed.facts["error_code"] == "3204"
    assert failed.facts["error_lines"].splitlines() == ["Notebook failed: ValueError: bad column", "at cell 3",
                                                         "ValueError: bad column"]


def test_run_slow_carries_the_links_of_the_runs_activities() -> None:
    world = World()
    for _ in range(6):                    # a history of 10-minute runs
        past = world.runner.start_run("score_batch", {"batchId": "scores:old"})
        world.clock.advance(minutes=10)
        world.runner.finish(past)
    world.clock.advance(days=1)
    run_id = world.runner.start_run("score_batch", {"batchId": "scores:2026/11/21"})
    world.clock.advance(hours=3)
    world.runner.activities[run_id] = [custom(status="Succeeded")]
    event = {"factory": "f", "pipeline": "score_batch", "runId": run_id, "status": "Succeeded",
             "batchId": "scores:2026/11/21"}
    pipeline_events.accept(world.deps, json.dumps(event).encode(), "application/json", world.clock.now())
    for message in world.queue.drain():
        pipeline_events.process(world.deps, message, world.clock.now())
    [slow] = [a for a in world.alerts.alerts if a.code == "run_slow"]
    assert [link.url for link in slow.links][1:] == [STDOUT, STDERR]


def test_a_copy_that_lost_rows_raises_copy_mismatch_with_both_counts_and_one_per_run() -> None:
    world = World()
    run_id = world.decide([copy(10_000, 9_200)])
    [mismatch] = [a for a in world.alerts.alerts if a.code == "copy_mismatch"]
    assert mismatch.severity.value == "fail"
    assert dict(mismatch.facts) == {"run_id": run_id, "batch": "scores:2026/11/21", "activity": "CopyToSql",
                                    "rows_read": "10000", "rows_copied": "9200", "rows_skipped": "0"}
    assert "read 10,000 rows and wrote 9,200" in mismatch.message
    other = world.decide([copy(10_000, 9_990, skipped=10)])
    [skipped] = [a for a in world.alerts.alerts if a.code == "copy_mismatch" and a.facts["run_id"] == other]
    assert skipped.severity.value == "warn" and skipped.fingerprint != mismatch.fingerprint
