"""The Delta commit reader and the version profile built from its statistics (hand-written commits, as in
the Delta protocol's examples: PROTOCOL.md "Add File and Remove File", "Per-file Statistics")."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from shared.core import checks, delta_log, delta_profile
from shared.core.delta_log import AddedFile, DeltaLogError, parse_commit
from shared.core.profile import ColumnProfile, Histogram, Profile
from shared.core.spec import ColumnRule, Contract, DriftSpec

SCHEMA = {"type": "struct", "fields": [
    {"name": "id", "type": "long", "nullable": False, "metadata": {}},
    {"name": "ts", "type": "timestamp", "nullable": True, "metadata": {}},
    {"name": "day", "type": "date", "nullable": True, "metadata": {}},
    {"name": "label", "type": "string", "nullable": True, "metadata": {}},
    {"name": "score", "type": "double", "nullable": True, "metadata": {}},
    {"name": "info", "type": {"type": "struct", "fields": [{"name": "x", "type": "integer", "nullable": True,
                                                              "metadata": {}}]}, "nullable": True, "metadata": {}}]}


def meta(schema: dict[str, object] = SCHEMA, **config: str) -> str:
    return json.dumps({"metaData": {"id": "t", "format": {"provider": "parquet", "options": {}},
                                    "schemaString": json.dumps(schema), "partitionColumns": [],
                                    "configuration": config}})


def add(path: str, rows: int | None, lo: dict[str, object] | None = None, hi: dict[str, object] | None = None,
        nulls: dict[str, object] | None = None, **extra: object) -> str:
    body: dict[str, object] = {"path": path, "partitionValues": {}, "size": 1000, "modificationTime": 1,
                               "dataChange": True, **extra}
    if rows is not None:
        body["stats"] = json.dumps({"numRecords": rows, "minValues": lo or {}, "maxValues": hi or {},
                                    "nullCount": nulls or {}})
    return json.dumps({"add": body})


LO = {"id": 1, "ts": "2026-11-20T06:00:00.000Z", "day": "2026-11-20", "label": "a", "score": 0.1,
      "info": {"x": 3}}
HI = {"id": 50, "ts": "2026-11-21T05:59:59.999Z", "day": "2026-11-21", "label": "z", "score": 0.9,
      "info": {"x": 9}}
NULLS = {"id": 0, "ts": 0, "day": 0, "label": 2, "score": 1, "info": {"x": 0}}
COMMIT_INFO = json.dumps({"commitInfo": {"timestamp": 1795988565743, "operation": "WRITE"}})
PROTOCOL = json.dumps({"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}})


def first_commit() -> str:
    return "\n".join([COMMIT_INFO, PROTOCOL, meta(), add("part-0.parquet", 50, LO, HI, NULLS),
                      add("part-1.parquet", 30, {**LO, "id": 51}, {**HI, "id": 80, "score": 0.95}, NULLS)])


def test_commit_names_give_the_version_and_the_table_folder() -> None:
    assert delta_log.commit_version("scores/_delta_log/00000000000000000003.json") == 3
    assert delta_log.commit_version("_delta_log/00000000000000000010.json") == 10
    for other in ("scores/_delta_log/00000000000000000003.crc", "scores/_delta_log/_last_checkpoint",
                  "scores/_delta_log/00000000000000000010.checkpoint.parquet", "scores/part-0.parquet"):
        assert delta_log.commit_version(other) is None
    assert delta_log.table_root("scores/t/_delta_log/00000000000000000003.json") == "scores/t/"
    assert delta_log.commit_name(3) == "_delta_log/00000000000000000003.json"


def test_a_commit_is_read_into_adds_schema_and_nested_statistics() -> None:
    commit = parse_commit(first_commit(), 0)
    assert commit.operation == "WRITE" and commit.timestamp_ms == 1795988565743
    assert [a.path for a in commit.adds] == ["part-0.parquet", "part-1.parquet"]
    assert commit.metadata is not None
    assert [(c.name, c.type) for c in commit.metadata.columns] == [
        ("id", "integer"), ("ts", "timestamp"), ("day", "date"), ("label", "string"), ("score", "float"),
        ("info", "struct")]
    stats = commit.adds[0].stats
    assert stats is not None and stats.num_records == 50
    assert stats.min_values["info.x"] == 3 and stats.null_count["label"] == 2


def test_the_version_profile_comes_from_statistics_alone_for_a_statistics_contract() -> None:
    commit = parse_commit(first_commit(), 0)
    contract = Contract(columns={"id": ColumnRule(type="integer", nullable=False, min=1),
                                 "ts": ColumnRule(type="timestamp"), "day": ColumnRule(type="date"),
                                 "label": ColumnRule(type="string")})
    read: list[str] = []
    profile, files_read = delta_profile.version_profile(commit, commit.metadata, contract,
                                                        lambda a: read.append(a.path) or _never())
    assert read == [] and files_read == 0 and profile.bytes_read == 0
    assert profile.rows == 80 and profile.bytes == 2000 and profile.format == "delta"
    assert profile.columns["id"].min == 1 and profile.columns["id"].max == 80
    assert profile.columns["ts"].max == datetime(2026, 11, 21, 5, 59, 59, 999000, tzinfo=UTC)
    assert profile.columns["day"].min == date(2026, 11, 20)
    assert profile.columns["label"].nulls == 4 and profile.columns["label"].count == 76


def _never() -> Profile:
    raise AssertionError("no data file should be read")


def test_checks_statistics_cannot_answer_read_the_files() -> None:
    commit = parse_commit(first_commit(), 0)
    for contract in (Contract(columns={"score": ColumnRule(type="float")}),
                     Contract(columns={"label": ColumnRule(allowed=("a", "z"))}),
                     Contract(columns={"score": ColumnRule()}, drift=DriftSpec(columns=("score",)))):
        read: list[str] = []

        def file(a: AddedFile, read: list[str] = read) -> Profile:
            read.append(a.path)
            return Profile("parquet", a.size, 10, {"score": ColumnProfile("score", "float", count=10)},
                           bytes_read=100)
        profile, files_read = delta_profile.version_profile(commit, commit.metadata, contract, file)
        assert read == ["part-0.parquet", "part-1.parquet"] and files_read == 2
        assert profile.bytes_read == 200


def test_a_file_without_statistics_is_read_and_the_others_are_not() -> None:
    text = "\n".join([meta(), add("with.parquet", 5, LO, HI, NULLS), add("without.parquet", None)])
    commit = parse_commit(text, 0)
    read: list[str] = []

    def file(a: AddedFile) -> Profile:
        read.append(a.path)
        return Profile("parquet", a.size, 7, {"id": ColumnProfile("id", "integer", count=7, min=100, max=106)},
                       bytes_read=64)
    profile, _ = delta_profile.version_profile(commit, commit.metadata,
                                               Contract(columns={"id": ColumnRule(type="integer")}), file)
    assert read == ["without.parquet"]
    assert profile.rows == 12 and profile.columns["id"].max == 106 and profile.columns["id"].min == 1


def test_column_mapping_maps_physical_statistics_names_back_to_logical_ones() -> None:
    schema = {"type": "struct", "fields": [
        {"name": "id", "type": "long", "nullable": True,
         "metadata": {"delta.columnMapping.id": 1, "delta.columnMapping.physicalName": "col-5f422f40"}}]}
    text = "\n".join([meta(schema, **{"delta.columnMapping.mode": "name"}),
                      add("p.parquet", 3, {"col-5f422f40": 4}, {"col-5f422f40": 9}, {"col-5f422f40": 0})])
    commit = parse_commit(text, 0)
    assert commit.adds[0].stats is not None and commit.adds[0].stats.min_values == {"id": 4}
    later = parse_commit(add("q.parquet", 2, {"col-5f422f40": 1}, {"col-5f422f40": 2}, {"col-5f422f40": 0}), 1)
    renamed = delta_log.with_physical_names(later, commit.metadata)
    assert renamed.adds[0].stats is not None and renamed.adds[0].stats.max_values == {"id": 2}


def test_an_append_without_metadata_takes_the_schema_of_an_earlier_commit() -> None:
    commits = {0: parse_commit(first_commit(), 0), 1: parse_commit(COMMIT_INFO, 1)}
    appended = parse_commit(add("part-2.parquet", 4, LO, HI, NULLS), 2)
    assert delta_profile.find_metadata(appended, commits.get) is commits[0].metadata
    assert delta_profile.find_metadata(appended, lambda v: None) is None


def test_deletion_vectors_take_their_deleted_rows_off_the_count() -> None:
    dv = {"storageType": "u", "pathOrInlineDv": "ab^-aqEH.-t@S}K{vb[*k^", "offset": 4, "sizeInBytes": 40,
          "cardinality": 6}
    commit = parse_commit("\n".join([meta(), add("p.parquet", 50, LO, HI, NULLS, deletionVector=dv)]), 0)
    profile, _ = delta_profile.version_profile(commit, commit.metadata, Contract(), lambda a: _never())
    assert profile.rows == 44


@pytest.mark.parametrize("text", [
    "not json", "[1, 2]", '{"add": {"path": "x"}}', '{"add": {"path": "x", "size": "big"}}',
    '{"metaData": {"schemaString": "{oops"}}', '{"add": {"path": "x", "size": 1, "stats": "[1]"}}',
    '{"add": {"path": "x", "size": 1, "stats": "{\\"numRecords\\": -3}"}}', "", "{}\n", b"\xff\xfe",
    json.dumps({"metaData": {"schemaString": json.dumps({"fields": [{"name": "a", "type": "long",
                                                                      "metadata": [1]}]})}}),
    '{"add": {"path": "x", "size": 1, "partitionValues": [1]}}'])
def test_a_malformed_commit_is_a_delta_log_error(text: str | bytes) -> None:
    with pytest.raises(DeltaLogError):
        parse_commit(text, 7)


def test_merging_files_adds_rows_widens_bounds_and_combines_moments_and_histograms() -> None:
    a = Profile("parquet", 10, 2, {"s": ColumnProfile("s", "float", count=2, min=0.0, max=2.0, mean=1.0, std=1.0,
                                                      histogram=Histogram(0, 1, (1, 1)))})
    b = Profile("parquet", 10, 2, {"s": ColumnProfile("s", "float", count=2, min=3.0, max=5.0, mean=4.0, std=1.0,
                                                      histogram=Histogram(0, 1, (0, 1), above=1))})
    merged = delta_profile.merge([a, b]).columns["s"]
    assert (merged.count, merged.min, merged.max, merged.mean) == (4, 0.0, 5.0, 2.5)
    assert merged.std == pytest.approx(3.25 ** 0.5)    # values 0, 2, 3, 5
    assert merged.histogram == Histogram(0, 1, (1, 2), above=1)


def test_a_version_that_only_removes_or_compacts_adds_no_data() -> None:
    optimize = "\n".join([json.dumps({"commitInfo": {"operation": "OPTIMIZE"}}),
                          json.dumps({"remove": {"path": "part-0.parquet", "dataChange": False}}),
                          add("big.parquet", 80, LO, HI, NULLS, dataChange=False)])
    assert parse_commit(optimize, 3).data_adds == ()


def test_delta_outputs_reject_csv_options_and_a_batch_marker_with_file_line_and_field(tmp_path: Path) -> None:
    from shared import config
    from shared.errors import ConfigError

    path = tmp_path / "pipelines.yaml"
    path.write_text("datasets:\n"
                    "  - name: scores\n"
                    "    output:\n"
                    "      container: out\n"
                    "      batch: {marker: _SUCCESS}\n"
                    "      contract:\n"
                    "        format: delta\n"
                    "        csv: {delimiter: ';'}\n")
    with pytest.raises(ConfigError) as info:
        config.load_pipelines(path)
    problems = list(info.value.problems)
    assert any(p.startswith(f"{path}:5: datasets[0].output.batch.marker: a Delta table needs no marker")
               for p in problems), problems
    assert any(p.startswith(f"{path}:8: datasets[0].output.contract.csv: csv options do not apply")
               for p in problems), problems


def test_blobs_of_a_delta_output_other_than_commits_are_skipped_with_a_reason() -> None:
    from shared.core.spec import OutputSpec
    from shared.services import delta_guard

    out = OutputSpec(container="out", prefix="scores", contract=Contract(format="delta"))
    assert delta_guard.skip_reason(out, "scores/_delta_log/00000000000000000003.json") == ""
    assert delta_guard.batch_key(out, "scores/_delta_log/00000000000000000003.json") == "v00000000000000000003"
    assert "data file" in delta_guard.skip_reason(out, "scores/part=1/part-0.snappy.parquet")
    for name in ("scores/_delta_log/00000000000000000003.crc", "scores/_delta_log/_last_checkpoint",
                 "scores/_delta_log/00000000000000000010.checkpoint.parquet"):
        assert "bookkeeping" in delta_guard.skip_reason(out, name)
    assert delta_guard.skip_reason(out, "scores/_reports/_delta_log/x.json.report.json") == "a validation report"


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                  max_size=3), max_leaves=12)
_KEYS = st.sampled_from(["path", "size", "stats", "dataChange", "partitionValues", "deletionVector",
                         "schemaString", "configuration", "partitionColumns", "operation", "timestamp"])


@given(st.lists(st.tuples(st.sampled_from(["add", "remove", "metaData", "protocol", "commitInfo", "txn"]),
                          st.dictionaries(_KEYS, _JSON | st.just(json.dumps(SCHEMA)) | st.just(
                              '{"numRecords": 3, "minValues": {"id": "x"}, "nullCount": {"id": [1]}}'),
                              max_size=6)), max_size=5))
@settings(max_examples=300, deadline=None)
@example([("metaData", {"schemaString": json.dumps(SCHEMA)}),
          ("add", {"path": "p", "size": 3, "stats": json.dumps({"numRecords": 3, "minValues": {"id": "x", "ts": 5},
                                                                 "maxValues": {"id": [1]}, "nullCount": {"id": 1,
                                                                                                         "ts": 0}})})])
def test_any_commit_text_is_read_or_is_a_delta_log_error_never_a_crash(actions: list[tuple[str, Any]]) -> None:
    text = "\n".join(json.dumps({kind: body}) for kind, body in actions)
    try:
        commit = parse_commit(text, 1)
    except DeltaLogError:
        return
    contract = Contract(columns={"id": ColumnRule(type="integer", min=0), "ts": ColumnRule(type="timestamp")})
    profile, _ = delta_profile.version_profile(
        commit, commit.metadata, contract, lambda a: Profile("parquet", a.size, 1, bytes_read=1))
    checks.check(profile, contract, datetime(2026, 11, 29, tzinfo=UTC))
