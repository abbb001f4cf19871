"""Contract checks on hand-built profiles: every rule, its code, its severity, and the report."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType

import pytest

from shared.core.checks import check, partition_end
from shared.core.findings import CODES, Finding, status
from shared.core.models import Severity
from shared.core.profile import ColumnProfile, Histogram, Profile
from shared.core.report import build_report
from shared.core.spec import Bounds, ColumnRule, Contract, CsvOptions, Freshness, SizeBounds
from shared.core.typed import ByteSize, Duration, Invalid

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def contract(**kwargs: object) -> Contract:
    columns = kwargs.pop("columns", {
        "id": ColumnRule(type="integer", nullable=False),
        "ts": ColumnRule(type="timestamp"),
        "score": ColumnRule(type="float", min=0, max=1, max_null_fraction=0.05),
        "label": ColumnRule(type="string"),
    })
    return Contract(columns=MappingProxyType(dict(columns)), **kwargs)  # type: ignore[arg-type]


def col(name: str, type_: str, **kwargs: object) -> ColumnProfile:
    kwargs.setdefault("count", 100)
    return ColumnProfile(name=name, type=type_, **kwargs)  # type: ignore[arg-type]


def good_columns() -> dict[str, ColumnProfile]:
    return {
        "id": col("id", "integer", min=1, max=100, mean=50.5, std=28.9),
        "ts": col("ts", "timestamp", min=NOW - timedelta(days=1), max=NOW - timedelta(hours=1)),
        "score": col("score", "float", min=0.01, max=0.99, mean=0.4, std=0.1),
        "label": col("label", "string"),
    }


def profile(columns: dict[str, ColumnProfile] | None = None, **kwargs: object) -> Profile:
    cols = good_columns() if columns is None else columns
    kwargs.setdefault("rows", 100)
    kwargs.setdefault("bytes", 5000)
    return Profile(format=str(kwargs.pop("format", "csv")), columns=MappingProxyType(cols),
                   column_order=tuple(cols), **kwargs)  # type: ignore[arg-type]


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def with_column(name: str, **changes: object) -> dict[str, ColumnProfile]:
    cols = good_columns()
    base = cols[name]
    cols[name] = ColumnProfile(**{**base.__dict__, **changes})  # type: ignore[arg-type]
    return cols


def test_a_profile_that_meets_its_contract_has_no_findings_and_passes() -> None:
    findings = check(profile(), contract(), NOW)
    assert findings == []
    assert status(findings) == "pass"


def test_an_empty_file_is_a_single_empty_file_failure_and_nothing_else() -> None:
    findings = check(profile({}, rows=0, bytes=0), contract(), NOW)
    assert codes(findings) == ["empty_file"]
    assert findings[0].severity is Severity.FAIL


def test_an_empty_file_is_also_below_a_byte_minimum() -> None:
    findings = check(profile({}, rows=0, bytes=0), contract(bytes=SizeBounds(min=ByteSize(1))), NOW)
    assert codes(findings) == ["byte_size", "empty_file"]


def test_reading_problems_come_first_and_an_unreadable_file_skips_schema_checks() -> None:
    problem = Finding("unreadable", Severity.FAIL, "the file is not Parquet")
    findings = check(profile({}, rows=0, problems=(problem,), readable=False), contract(), NOW)
    assert findings == [problem]


def test_every_missing_required_column_is_named_in_its_own_finding() -> None:
    cols = good_columns()
    del cols["score"], cols["label"]
    findings = check(profile(cols), contract(), NOW)
    assert [(f.code, f.column) for f in findings] == [("missing_column", "score"), ("missing_column", "label")]


def test_a_column_that_is_not_required_may_be_absent() -> None:
    rules = {"id": ColumnRule(type="integer"), "note": ColumnRule(type="string", required=False)}
    assert check(profile(), contract(columns=rules), NOW) == []


def test_forbidden_and_undeclared_columns_fail_when_extra_columns_are_not_allowed() -> None:
    cols = good_columns() | {"ssn": col("ssn", "string"), "debug": col("debug", "string")}
    findings = check(profile(cols), contract(forbidden_columns=("ssn",), allow_extra_columns=False), NOW)
    assert [(f.code, f.column) for f in findings] == [("forbidden_column", "ssn"), ("extra_column", "debug")]


def test_extra_columns_are_fine_by_default() -> None:
    cols = good_columns() | {"debug": col("debug", "string")}
    assert check(profile(cols), contract(), NOW) == []


def test_a_duplicated_header_name_is_a_failure() -> None:
    p = Profile(format="csv", bytes=10, rows=5, columns=MappingProxyType(good_columns()),
                column_order=("id", "ts", "score", "label", "score"))
    assert codes(check(p, contract(), NOW)) == ["duplicate_column"]


def test_a_header_split_by_another_delimiter_is_one_finding_naming_the_fix_not_a_missing_column_each() -> None:
    cols = {"id;ts;score;label": col("id;ts;score;label", "string")}
    findings = check(profile(cols), contract(csv=CsvOptions(delimiter=",")), NOW)
    assert codes(findings)[0] == "wrong_delimiter"
    assert "set csv: {delimiter: ';'}" in findings[0].message
    assert codes(findings).count("missing_column") == 0


def test_decimal_commas_in_a_float_column_name_the_decimal_setting() -> None:
    score = ColumnProfile("score", "float", count=3, invalid=3, invalid_example="0,5", invalid_row=1)
    c = contract(csv=CsvOptions(delimiter=";"))
    findings = check(profile({**good_columns(), "score": score}), c, NOW)
    assert [f.message.endswith("set csv: {decimal: ','}") for f in findings if f.code == "wrong_type"] == [True]
    with_decimal = check(profile({**good_columns(), "score": score}), contract(csv=CsvOptions(";", decimal=",")),
                         NOW)
    assert all("decimal" not in f.message for f in with_decimal)


def test_a_decimal_comma_that_is_also_the_delimiter_is_a_contract_error() -> None:
    with pytest.raises(Invalid, match=r"decimal and csv\.delimiter are both ','"):
        CsvOptions(delimiter=",", decimal=",")


def test_a_column_of_another_type_is_wrong_type_and_its_range_is_not_judged() -> None:
    cols = with_column("score", type="string", min="a", max="z")
    findings = check(profile(cols), contract(), NOW)
    assert [(f.code, f.column) for f in findings] == [("wrong_type", "score")]
    assert "string" in findings[0].message and "float" in findings[0].message


def test_integers_satisfy_a_float_column_and_an_all_empty_column_has_no_type_to_judge() -> None:
    cols = with_column("score", type="integer", min=0, max=1)
    cols["label"] = col("label", "null", count=0, nulls=100)
    assert codes(check(profile(cols), contract(), NOW)) == []


def test_values_that_do_not_parse_as_the_declared_type_are_counted_with_an_example_and_row() -> None:
    cols = with_column("id", invalid=3, invalid_example="abc", invalid_row=17)
    findings = check(profile(cols), contract(), NOW)
    assert codes(findings) == ["wrong_type"]
    assert "3 values" in findings[0].message and "'abc'" in findings[0].message and "17" in findings[0].message


def test_empty_values_in_a_non_nullable_column_fail() -> None:
    findings = check(profile(with_column("id", nulls=2)), contract(), NOW)
    assert [(f.code, f.column) for f in findings] == [("not_nullable", "id")]
    assert "2 empty values" in findings[0].message


def test_a_null_fraction_above_the_limit_fails_and_at_the_limit_passes() -> None:
    over = check(profile(with_column("score", count=90, nulls=10)), contract(), NOW)
    at = check(profile(with_column("score", count=95, nulls=5)), contract(), NOW)
    assert codes(over) == ["null_fraction"] and "10.0%" in over[0].message
    assert at == []


def test_nan_or_infinite_values_fail_in_declared_columns_and_warn_in_extra_ones() -> None:
    cols = with_column("score", non_finite=4) | {"debug": col("debug", "float", non_finite=1)}
    findings = check(profile(cols), contract(), NOW)
    assert [(f.code, f.severity, f.column) for f in findings] == [
        ("non_finite", Severity.FAIL, "score"), ("non_finite", Severity.WARN, "debug")]


def test_values_outside_the_range_fail_on_each_side_with_counts_when_known() -> None:
    cols = with_column("score", min=-0.5, max=1.5, below_min=3, above_max=7)
    findings = check(profile(cols), contract(), NOW)
    assert codes(findings) == ["out_of_range", "out_of_range"]
    assert "3 values below the minimum 0" in findings[0].message
    assert "7 values above the maximum 1" in findings[1].message and "1.5" in findings[1].message


def test_a_range_judged_from_statistics_alone_still_names_the_extreme() -> None:
    cols = with_column("score", max=5.0, from_statistics=True)
    findings = check(profile(cols), contract(), NOW)
    assert codes(findings) == ["out_of_range"]
    assert "largest 5" in findings[0].message


def test_timestamp_and_date_bounds_written_as_iso_text_are_compared_as_times() -> None:
    rules = {"ts": ColumnRule(type="timestamp", min="2026-11-21T00:00:00Z"),
             "day": ColumnRule(type="date", max="2026-11-01")}
    cols = {"ts": col("ts", "timestamp", min=datetime(2026, 11, 20, tzinfo=UTC), max=NOW),
            "day": col("day", "date", min=date(2026, 10, 1), max=date(2026, 11, 2))}
    findings = check(profile(cols), contract(columns=rules), NOW)
    assert [(f.code, f.column) for f in findings] == [("out_of_range", "ts"), ("out_of_range", "day")]


def test_a_bound_that_cannot_be_compared_with_the_values_is_ignored_not_a_crash() -> None:
    rules = {"score": ColumnRule(type="float", min="low")}
    assert check(profile(), contract(columns=rules), NOW) == []


def test_values_outside_the_allowed_list_fail_with_examples() -> None:
    rules = {"label": ColumnRule(type="string", allowed=("a", "b"))}
    cols = with_column("label", not_allowed=12, not_allowed_examples=("zz", "yy"))
    findings = check(profile(cols), contract(columns=rules), NOW)
    assert codes(findings) == ["not_allowed"]
    assert "12 values" in findings[0].message and "'zz'" in findings[0].message


def test_formula_like_text_cells_are_a_warning_so_the_status_is_warn() -> None:
    findings = check(profile(with_column("label", formula_cells=2, formula_example="=1+1")), contract(), NOW)
    assert [(f.code, f.severity) for f in findings] == [("formula_injection", Severity.WARN)]
    assert status(findings) == "warn"


@pytest.mark.parametrize(("rows", "bounds", "expected"), [
    (5, Bounds(min=10), ["row_count"]),
    (50, Bounds(max=10), ["row_count"]),
    (10, Bounds(min=10, max=10), []),
    (0, Bounds(min=0), []),
])
def test_row_bounds_are_inclusive(rows: int, bounds: Bounds, expected: list[str]) -> None:
    assert codes(check(profile(rows=rows), contract(rows=bounds), NOW)) == expected


def test_a_csv_with_a_header_and_no_rows_is_header_only_and_other_formats_say_no_rows() -> None:
    empty_cols = {n: col(n, "null", count=0) for n in ("id", "ts", "score", "label")}
    csv = check(profile(empty_cols, rows=0), contract(), NOW)
    parquet = check(profile(empty_cols, rows=0, format="parquet"), contract(), NOW)
    assert codes(csv) == ["header_only"]
    assert codes(parquet) == ["row_count"]


def test_a_row_count_from_a_read_that_stopped_early_says_so() -> None:
    stop = Finding("line_too_long", Severity.FAIL, "a line is too long")
    findings = check(profile(rows=3, complete=False, problems=(stop,)), contract(rows=Bounds(min=10)), NOW)
    assert codes(findings) == ["line_too_long", "row_count"]
    assert "before reading stopped" in findings[1].message


def test_file_size_outside_the_bounds_fails() -> None:
    small = check(profile(bytes=10), contract(bytes=SizeBounds(min=ByteSize(100))), NOW)
    big = check(profile(bytes=10**10), contract(bytes=SizeBounds(max=ByteSize(10**9))), NOW)
    assert codes(small) == ["byte_size"] and "below" in small[0].message
    assert codes(big) == ["byte_size"] and "10.0 GB" in big[0].message


def test_data_whose_newest_timestamp_is_older_than_max_age_is_stale() -> None:
    fresh = Freshness(column="ts", max_age=Duration(hours=6))
    cols = with_column("ts", max=NOW - timedelta(hours=7))
    findings = check(profile(cols), contract(freshness=fresh), NOW)
    assert [(f.code, f.column) for f in findings] == [("stale_data", "ts")]
    assert "7.0h old" in findings[0].message
    assert check(profile(with_column("ts", max=NOW - timedelta(hours=5))), contract(freshness=fresh), NOW) == []


def test_a_date_column_counts_as_fresh_until_the_end_of_its_day() -> None:
    rules = {"day": ColumnRule(type="date")}
    fresh = Freshness(column="day", max_age=Duration(hours=6))
    cols = {"day": col("day", "date", max=date(2026, 11, 21))}
    assert check(profile(cols), contract(columns=rules, freshness=fresh), NOW) == []
    old = {"day": col("day", "date", max=date(2026, 11, 20))}
    assert codes(check(profile(old), contract(columns=rules, freshness=fresh), NOW)) == ["stale_data"]


def test_a_freshness_column_without_any_value_cannot_prove_freshness() -> None:
    cols = with_column("ts", count=0, nulls=100, min=None, max=None)
    findings = check(profile(cols), contract(freshness=Freshness(column="ts")), NOW)
    assert codes(findings) == ["stale_data"]


@pytest.mark.parametrize(("path", "end"), [
    ("outputs/scores/2026/11/20/part-0.csv", datetime(2026, 11, 21, tzinfo=UTC)),
    ("outputs/2026-11-20/part.csv", datetime(2026, 11, 21, tzinfo=UTC)),
    ("year=2026/month=11/day=20/hour=05/x.parquet", datetime(2026, 11, 20, 6, tzinfo=UTC)),
    ("archive/2020/01/01/rerun/2026/11/20/x.csv", datetime(2026, 11, 21, tzinfo=UTC)),
    ("outputs/latest.csv", None),
    ("outputs/2026/13/45/x.csv", None),
])
def test_the_partition_date_in_a_path_is_read_as_the_end_of_its_period(path: str, end: datetime | None) -> None:
    assert partition_end(path) == end


def test_freshness_from_the_path_judges_the_partition_and_warns_when_the_path_has_none() -> None:
    fresh = Freshness(from_path=True, max_age=Duration(days=1))
    recent = check(profile(), contract(freshness=fresh), NOW, path="o/2026/11/20/a.csv")
    old = check(profile(), contract(freshness=fresh), NOW, path="o/2026/11/10/a.csv")
    unknown = check(profile(), contract(freshness=fresh), NOW, path="o/latest.csv")
    assert recent == []
    assert codes(old) == ["stale_data"] and old[0].severity is Severity.FAIL
    assert codes(unknown) == ["stale_data"] and unknown[0].severity is Severity.WARN


def test_every_finding_is_collected_not_just_the_first() -> None:
    cols = good_columns()
    del cols["label"]
    cols["id"] = ColumnProfile(**{**cols["id"].__dict__, "nulls": 1})
    cols["score"] = ColumnProfile(**{**cols["score"].__dict__, "max": 2.0, "non_finite": 1})
    findings = check(profile(cols, rows=1), contract(rows=Bounds(min=10)), NOW)
    assert sorted(codes(findings)) == ["missing_column", "non_finite", "not_nullable", "out_of_range", "row_count"]


def test_every_code_a_check_emits_is_in_the_documented_catalogue() -> None:
    stop = Finding("line_too_long", Severity.FAIL, "x")
    cols = good_columns() | {"ssn": col("ssn", "string", formula_cells=1, non_finite=1)}
    cols["id"] = ColumnProfile(**{**cols["id"].__dict__, "nulls": 1, "invalid": 1})
    p = Profile(format="csv", bytes=1, rows=1, columns=MappingProxyType(cols), problems=(stop,),
                column_order=(*cols, "id"))
    c = contract(forbidden_columns=("ssn",), allow_extra_columns=False, rows=Bounds(min=5),
                 bytes=SizeBounds(min=ByteSize(2)), freshness=Freshness(column="ts", from_path=True))
    found = set(codes(check(p, c, NOW + timedelta(days=30), path="x.csv")))
    assert found <= set(CODES)
    assert len(found) >= 9


def test_the_report_has_the_documented_shape_and_is_strict_json() -> None:
    hist = Histogram(0.0, 1.0, (1, 2, 3), below=0, above=1)
    cols = with_column("score", histogram=hist, max=float("inf"), non_finite=1)
    p = profile(cols)
    findings = check(p, contract(), NOW)
    report = build_report(p, findings, file="out/x.csv", dataset="scores")
    text = json.dumps(report, allow_nan=False)
    back = json.loads(text)
    assert back["status"] == "fail"
    assert back["file"] == "out/x.csv" and back["dataset"] == "scores"
    assert back["profile"]["rows"] == 100 and back["profile"]["bytes"] == 5000
    score = back["profile"]["columns"]["score"]
    assert score["type"] == "float" and score["max"] == "inf" and score["mean"] == 0.4
    assert score["histogram"] == {"lo": 0.0, "hi": 1.0, "counts": [1, 2, 3], "below": 0, "above": 1}
    assert back["profile"]["columns"]["ts"]["max"] == "2026-11-21T11:00:00Z"
    assert back["findings"][0] == {"code": "non_finite", "severity": "fail",
                                   "message": "column 'score' has 1 NaN or infinite value", "column": "score"}


def test_status_is_the_worst_severity_and_info_alone_still_passes() -> None:
    info = Finding("x", Severity.INFO, "i")
    warn = Finding("y", Severity.WARN, "w")
    fail = Finding("z", Severity.FAIL, "f")
    assert status([]) == "pass"
    assert status([info]) == "pass"
    assert status([info, warn]) == "warn"
    assert status([warn, fail, info]) == "fail"
