"""Delta tables written by the real producer library (deltalake, delta-rs): judged per version from the log,
on a local folder (``autopilot validate``) and on Azurite through the output guard."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from cli import validate
from shared.adapters.blob_profiler import BlobProfiler
from shared.adapters.storage import AzureBlobStore, QueueAlertSink, TableStateStore
from shared.connections import StorageTarget
from shared.core.profile import Profile
from shared.core.spec import Contract, PipelinesConfig
from shared.core.typed import coerce
from shared.services import output_guard
from shared.services.deps import Deps, Tables
from tests.fakes import FixedClock

deltalake = pytest.importorskip("deltalake")

T0 = datetime(2026, 11, 21, 5, tzinfo=UTC)
CONTRACT = {"format": "delta", "rows": {"min": 1},
            "columns": {"id": {"type": "integer", "nullable": False, "min": 0},
                        "ts": {"type": "timestamp"}, "label": {"type": "string"}}}


def batch(start: int, n: int, *, low_id: int | None = None) -> pa.Table:
    ids = list(range(start, start + n))
    if low_id is not None:
        ids[0] = low_id
    return pa.table({"id": pa.array(ids, pa.int64()),
                     "ts": pa.array([T0 + timedelta(minutes=i) for i in range(n)], pa.timestamp("us", "UTC")),
                     "label": [f"l{i % 3}" for i in range(n)], "part": [i % 4 for i in range(n)],
                     "score": [(i % 10) / 10 for i in range(n)]})


def write_table(root: Path, **options: Any) -> Path:
    """v0: 4 files (one per partition); v1: an append of 4 more; v2: an append with an id below 0."""
    table = root / "table"
    deltalake.write_deltalake(str(table), batch(0, 40), partition_by=["part"], **options)
    deltalake.write_deltalake(str(table), batch(40, 20), partition_by=["part"], mode="append")
    deltalake.write_deltalake(str(table), batch(60, 8, low_id=-5), partition_by=["part"], mode="append")
    return table


def run_cli(tmp_path: Path, table: Path, contract: dict[str, Any], *extra: str,
            capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    path = tmp_path / "contract.yaml"
    path.write_text(json.dumps(contract))
    code = validate.run([str(table), "--contract", str(path), "--json", *extra])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def test_validate_reads_the_latest_version_of_a_local_table(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    table = write_table(tmp_path)
    code, report = run_cli(tmp_path, table, CONTRACT, capsys=capsys)
    assert code == 2 and report["format"] == "delta" and report["profile"]["rows"] == 8
    assert [f["code"] for f in report["findings"]] == ["out_of_range"]
    code, report = run_cli(tmp_path, table, CONTRACT, "--version", "1", capsys=capsys)
    assert code == 0 and report["profile"]["rows"] == 20
    assert run_cli(tmp_path, table, CONTRACT, "--version", "9", capsys=capsys)[0] == 3


def test_a_statistics_contract_reads_no_data_file_and_a_drift_column_reads_them(tmp_path: Path) -> None:
    from cli.validate_delta import profile_table

    table = write_table(tmp_path)
    contract = _contract(CONTRACT)
    profile, _ = profile_table(table, contract, 0)
    assert profile.rows == 40 and profile.bytes_read == 0
    assert profile.columns["id"].min == 0 and profile.columns["id"].max == 39
    assert profile.columns["part"].min is not None          # partition values stand in for statistics
    scanned, _ = profile_table(table, _contract({**CONTRACT, "columns": {**CONTRACT["columns"], "score": {
        "type": "float", "min": 0, "max": 1}}, "drift": {"columns": ["score"]}}), 0)
    assert scanned.rows == 40 and (scanned.bytes_read or 0) > 0
    assert scanned.columns["score"].histogram is not None and scanned.columns["score"].histogram.total == 40


def test_a_table_written_without_column_statistics_is_read_from_its_files(tmp_path: Path) -> None:
    from cli.validate_delta import profile_table

    table = write_table(tmp_path, configuration={"delta.dataSkippingNumIndexedCols": "0"})
    profile, _ = profile_table(table, _contract(CONTRACT), 0)
    assert profile.rows == 40 and (profile.bytes_read or 0) > 0 and profile.columns["id"].max == 39


def test_a_schema_change_is_judged_with_the_new_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = write_table(tmp_path)
    wider = batch(100, 8).append_column("extra", pa.array(["x"] * 8))
    deltalake.write_deltalake(str(table), wider, partition_by=["part"], mode="append", schema_mode="merge")
    strict = {**CONTRACT, "allow_extra_columns": False,
              "columns": {**CONTRACT["columns"], "part": {"type": "integer"}, "score": {"type": "float"}}}
    code, report = run_cli(tmp_path, table, strict, capsys=capsys)
    assert code == 2 and "extra_column" in [f["code"] for f in report["findings"]]


def _contract(raw: dict[str, Any]) -> Contract:
    contract, problems = coerce(Contract, raw)
    assert contract is not None, problems
    return contract


# --- the output guard on Azurite ---------------------------------------------------------------------------


class CountingProfiler:
    """The real blob profiler, counting the data files it opens and the bytes it reads."""

    def __init__(self, inner: BlobProfiler) -> None:
        self.inner, self.files, self.bytes_read = inner, list[str](), 0

    def profile(self, container: str, name: str, contract: Contract, size: int | None = None) -> Profile:
        profile = self.inner.profile(container, name, contract, size=size)
        self.files.append(name)
        self.bytes_read += profile.bytes_read or 0
        return profile


def make_deps(storage: StorageTarget, unique: str, contract: dict[str, Any]) -> tuple[Deps, CountingProfiler]:
    config, problems = coerce(PipelinesConfig, {"datasets": [{"name": "scores", "output": {
        "container": unique, "prefix": "scores", "contract": contract}}]})
    assert config is not None, problems
    profiler = CountingProfiler(BlobProfiler(storage, retry_total=0))
    return Deps(config, FixedClock(datetime(2026, 11, 21, 6, tzinfo=UTC)), AzureBlobStore(storage, retry_total=0),
                TableStateStore(storage, retry_total=0), None, QueueAlertSink(storage, f"{unique}alerts"),
                Tables(unique), profiler=profiler), profiler


def upload(deps: Deps, container: str, table: Path, prefix: str = "scores/") -> list[str]:
    names = []
    for path in sorted(table.rglob("*")):
        if path.is_file():
            name = prefix + path.relative_to(table).as_posix()
            deps.data.write_bytes(container, name, path.read_bytes())
            names.append(name)
    return names


def test_the_guard_judges_each_version_from_its_commit_without_reading_data(
        storage: StorageTarget, unique: str, tmp_path: Path) -> None:
    deps, profiler = make_deps(storage, unique, CONTRACT)
    names = upload(deps, unique, write_table(tmp_path))
    outcomes = {n: output_guard.validate_blob(deps, unique, n, deps.clock.now()) for n in names}
    judged = {o.batch: o.status for o in outcomes.values() if o.status != "skipped"}
    assert judged == {"v00000000000000000000": "pass", "v00000000000000000001": "pass",
                      "v00000000000000000002": "fail"}
    assert profiler.files == [] and profiler.bytes_read == 0
    data = [o for n, o in outcomes.items() if n.endswith(".parquet")]
    assert len(data) == 12 and {o.reason for o in data} == {
        "a data file of a Delta table: judged with the commit of its version"}
    assert output_guard.read_verdict(deps, "scores", "v00000000000000000002") == {
        "status": "fail", "files": {"scores/_delta_log/00000000000000000002.json": "fail"}}
    report = json.loads(deps.data.read_bytes(unique, outcomes["scores/_delta_log/00000000000000000001.json"]
                                             .report_blob))
    assert report["profile"]["rows"] == 20
    again = output_guard.validate_blob(deps, unique, "scores/_delta_log/00000000000000000001.json",
                                       deps.clock.now())
    assert again.duplicate


def test_the_guard_reads_the_added_files_when_a_check_needs_data(storage: StorageTarget, unique: str,
                                                                  tmp_path: Path) -> None:
    contract = {**CONTRACT, "columns": {**CONTRACT["columns"], "label": {"allowed": ["l0", "l1"]}}}
    deps, profiler = make_deps(storage, unique, contract)
    upload(deps, unique, write_table(tmp_path))
    outcome = output_guard.validate_blob(deps, unique, "scores/_delta_log/00000000000000000001.json",
                                         deps.clock.now())
    assert outcome.status == "fail" and "not_allowed" in outcome.codes
    assert len(profiler.files) == 4 and all(f.endswith(".parquet") for f in profiler.files)
    assert profiler.bytes_read > 0


def test_a_malformed_commit_fails_its_version_with_a_finding(storage: StorageTarget, unique: str) -> None:
    deps, _ = make_deps(storage, unique, CONTRACT)
    name = "scores/_delta_log/00000000000000000004.json"
    deps.data.write_bytes(unique, name, b'{"add": {"path": "x.parquet"')
    outcome = output_guard.validate_blob(deps, unique, name, deps.clock.now())
    assert outcome.status == "fail" and outcome.codes == ["unreadable"]
    assert outcome.batch == "v00000000000000000004"


def test_without_the_commit_holding_the_schema_the_types_come_from_the_files(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = write_table(tmp_path)
    (table / "_delta_log" / "00000000000000000000.json").unlink()     # log cleanup after a checkpoint
    from cli.validate_delta import profile_table

    profile, _ = profile_table(table, _contract(CONTRACT), 1)
    assert profile.rows == 20 and (profile.bytes_read or 0) > 0 and profile.columns["ts"].type == "timestamp"
    code, report = run_cli(tmp_path, table, CONTRACT, "--version", "1", capsys=capsys)
    assert code == 0, report


def test_format_delta_on_a_single_file_cannot_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = write_table(tmp_path)
    one = next(table.rglob("*.parquet"))
    assert run_cli(tmp_path, one, CONTRACT, capsys=capsys)[0] == 3


def test_partition_columns_of_files_read_for_data_come_from_the_log(tmp_path: Path) -> None:
    from cli.validate_delta import profile_table

    table = write_table(tmp_path)
    contract = _contract({**CONTRACT, "columns": {**CONTRACT["columns"], "part": {"type": "integer",
                                                                                  "nullable": False},
                                                  "score": {"type": "float"}}})
    profile, _ = profile_table(table, contract, 0)
    assert (profile.bytes_read or 0) > 0                         # the float column is read for NaN
    part = profile.columns["part"]
    assert (part.nulls, part.min, part.max, part.count) == (0, 0, 3, 40)


def test_column_mapping_is_followed_in_statistics_and_in_data_files_read(tmp_path: Path) -> None:
    from cli.validate_delta import profile_table

    table = tmp_path / "mapped"
    deltalake.write_deltalake(str(table), batch(0, 12), configuration={
        "delta.columnMapping.mode": "name", "delta.minReaderVersion": "2", "delta.minWriterVersion": "5"})
    stats, _ = profile_table(table, _contract(CONTRACT), 0)
    assert stats.bytes_read == 0 and stats.columns["id"].max == 11 and "label" in stats.columns
    drift = _contract({**CONTRACT, "columns": {**CONTRACT["columns"], "score": {"type": "float", "min": 0,
                                                                                "max": 1}},
                       "drift": {"columns": ["score"]}})
    read, _ = profile_table(table, drift, 0)
    assert (read.bytes_read or 0) > 0 and set(read.columns) >= {"id", "ts", "label", "score"}
    assert read.columns["score"].histogram is not None and read.columns["score"].histogram.total == 12


def test_a_compaction_adds_no_data_and_is_skipped_with_its_operation(storage: StorageTarget, unique: str,
                                                                      tmp_path: Path) -> None:
    deps, profiler = make_deps(storage, unique, CONTRACT)
    table = write_table(tmp_path)
    deltalake.DeltaTable(str(table)).optimize.compact()
    upload(deps, unique, table)
    outcome = output_guard.validate_blob(deps, unique, "scores/_delta_log/00000000000000000003.json",
                                         deps.clock.now())
    assert outcome.status == "skipped" and outcome.reason.startswith("version 3 adds no data (OPTIMIZE")
    assert profiler.files == []
