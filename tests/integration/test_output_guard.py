"""The output guard on Azurite with the real adapters: reports, verdicts, history, redelivery, poison."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from azure.storage.queue import QueueClient

from shared.adapters.blob_profiler import BlobProfiler
from shared.adapters.storage import AzureBlobStore, QueueAlertSink, TableStateStore
from shared.connections import StorageTarget
from shared.core.spec import PipelinesConfig
from shared.core.typed import coerce
from shared.services import output_guard
from shared.services.deps import Deps, Tables
from shared.services.ledgers import Ledgers
from tests.fakes import FixedClock

GOOD = "id,ts,score,label\n" + "".join(f"{i},2026-11-21T05:00:00Z,0.{i % 10},{i % 2}\n" for i in range(50))


def make_deps(storage: StorageTarget, unique: str) -> Deps:
    config, problems = coerce(PipelinesConfig, {"datasets": [{"name": "scores", "output": {
        "container": unique, "prefix": "scores",
        "contract": {"format": "csv", "columns": {"id": {"type": "integer", "nullable": False},
                                                  "score": {"type": "float", "min": 0, "max": 1}},
                     "rows": {"min": 10}}}}]})
    assert config is not None, problems
    return Deps(config, FixedClock(datetime(2026, 11, 21, 6, tzinfo=UTC)), AzureBlobStore(storage, retry_total=0),
                TableStateStore(storage, retry_total=0), None, QueueAlertSink(storage, f"{unique}alerts"),
                Tables(unique), profiler=BlobProfiler(storage, retry_total=0))


def queued_alerts(storage: StorageTarget, queue: str) -> list[dict[str, object]]:
    assert storage.connection_string is not None
    client = QueueClient.from_connection_string(storage.connection_string, queue)
    return [json.loads(base64.b64decode(m.content)) for m in client.peek_messages(max_messages=32)]


def test_a_good_file_gets_a_report_beside_it_and_a_pass_verdict(storage: StorageTarget, unique: str) -> None:
    deps = make_deps(storage, unique)
    deps.data.write_bytes(unique, "scores/2026/11/21/scores.csv", GOOD.encode())
    outcome = output_guard.validate_blob(deps, unique, "scores/2026/11/21/scores.csv", deps.clock.now())
    assert outcome.status == "pass" and outcome.batch == "2026/11/21"
    report = json.loads(deps.data.read_bytes(unique, outcome.report_blob))
    assert report["status"] == "pass" and report["profile"]["rows"] == 50
    assert outcome.report_blob == "scores/_reports/2026/11/21/scores.csv.report.json"
    assert output_guard.read_verdict(deps, "scores", "2026/11/21") == {
        "status": "pass", "files": {"scores/2026/11/21/scores.csv": "pass"}}


def test_the_same_blob_delivered_three_times_counts_once(storage: StorageTarget, unique: str) -> None:
    deps = make_deps(storage, unique)
    name = "scores/2026/11/21/bad.csv"
    deps.data.write_bytes(unique, name, b"id,score\n1,7\n")
    outcomes = [output_guard.validate_blob(deps, unique, name, deps.clock.now()) for _ in range(3)]
    assert [o.duplicate for o in outcomes] == [False, True, True]
    assert {o.status for o in outcomes} == {"fail"}
    history = Ledgers.of(deps).history.query("scores|output")
    assert len(history) == 1
    alerts = queued_alerts(storage, f"{unique}alerts")
    assert [a["code"] for a in alerts] == ["output_failed"]


def test_a_changed_blob_is_judged_again(storage: StorageTarget, unique: str) -> None:
    deps = make_deps(storage, unique)
    name = "scores/2026/11/21/scores.csv"
    deps.data.write_bytes(unique, name, b"id,score\n1,7\n")
    assert output_guard.validate_blob(deps, unique, name, deps.clock.now()).status == "fail"
    deps.data.write_bytes(unique, name, GOOD.encode())
    again = output_guard.validate_blob(deps, unique, name, deps.clock.now())
    assert not again.duplicate and again.status == "pass"
    assert output_guard.read_verdict(deps, "scores", "2026/11/21")["status"] == "pass"  # type: ignore[index]


@pytest.mark.parametrize("name", ["scores/_reports/2026/11/21/x.csv.report.json", "scores/2026/11/21/_SUCCESS",
                                  "elsewhere/file.csv"])
def test_reports_markers_and_foreign_files_are_skipped(storage: StorageTarget, unique: str, name: str) -> None:
    deps = make_deps(storage, unique)
    deps.data.write_bytes(unique, name, b"x")
    outcome = output_guard.validate_blob(deps, unique, name, deps.clock.now())
    assert outcome.status == "skipped" and outcome.reason


def test_random_bytes_are_a_fail_finding_not_a_crash(storage: StorageTarget, unique: str) -> None:
    deps = make_deps(storage, unique)
    name = "scores/2026/11/21/garbage.csv"
    deps.data.write_bytes(unique, name, bytes(range(256)) * 64)
    outcome = output_guard.validate_blob(deps, unique, name, deps.clock.now())
    assert outcome.status == "fail" and outcome.report["findings"]


def test_a_poison_message_from_the_host_raises_an_alert(storage: StorageTarget, unique: str) -> None:
    deps = make_deps(storage, unique)
    message = json.dumps({"Type": "BlobTrigger", "FunctionId": "Host.Functions.output_guard",
                          "BlobType": "BlockBlob", "ContainerName": unique,
                          "BlobName": "scores/2026/11/21/x.csv", "ETag": "\"0x1\""})
    alert = output_guard.report_poison(deps, message, deps.clock.now())
    assert alert.code == "output_poison" and alert.dataset == "scores"
    assert queued_alerts(storage, f"{unique}alerts")[0]["code"] == "output_poison"
