"""A batch of many parts judged as one: observations merged, schemas compared, one alert."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from shared.core import batch_judgement
from shared.core.batch_judgement import Part, merge, merge_columns, schema_findings
from shared.core.history import ColumnStats, Observation
from shared.core.spec import Contract

T0 = datetime(2026, 11, 21, 3, tzinfo=UTC)
SCHEMA = MappingProxyType({"id": "int", "score": "float"})


def obs(rows: int, bytes_: int, ts: datetime = T0, **columns: ColumnStats) -> Observation:
    return Observation(ts, "scores", "output", "p", bytes_, rows, MappingProxyType(columns))


def test_rows_and_bytes_are_summed_nulls_summed_means_weighted_and_histograms_added() -> None:
    a = obs(10, 100, score=ColumnStats(1.0, 0.0, 0, (0, 4, 6, 0)))
    b = obs(30, 300, T0 + timedelta(minutes=1), score=ColumnStats(3.0, 0.0, 10, (1, 10, 9, 0)))

    merged = merge([a, b], name="batch:2026/11/21")

    assert merged is not None and merged.rows == 40 and merged.bytes == 400
    assert merged.ts == T0 + timedelta(minutes=1) and merged.name == "batch:2026/11/21"
    score = merged.columns["score"]
    assert score.nulls == 10
    assert score.mean is not None and math.isclose(score.mean, (10 * 1.0 + 20 * 3.0) / 30)   # non-null values weigh
    assert score.std is not None and math.isclose(score.std, math.sqrt((10 + 20 * 9) / 30 - score.mean ** 2))
    assert score.histogram == (1.0, 14.0, 15.0, 0.0)


def test_histograms_of_different_bins_and_missing_statistics_are_left_out_not_guessed() -> None:
    merged = merge_columns([(10, ColumnStats(1.0, 0.5, 0, (1, 2, 3))), (10, ColumnStats(None, None, 1, (1, 2)))])
    assert merged.histogram is None and merged.mean is None and merged.std is None and merged.nulls == 1


def test_a_part_with_other_columns_or_types_than_the_rest_is_a_schema_mismatch() -> None:
    parts = [Part(f"scores/2026/11/21/part-{i}.csv", "pass", schema=SCHEMA, observation=obs(5, 50)) for i in range(3)]
    odd = Part("scores/2026/11/21/part-9.csv", "pass", schema=MappingProxyType({"id": "string", "extra": "int"}),
               observation=obs(5, 50))

    assert schema_findings(parts) == []
    empty = Part("scores/2026/11/21/part-8.csv", "fail", schema=MappingProxyType({"id": "null", "score": "null"}),
                 observation=obs(0, 10))
    assert schema_findings([*parts, empty]) == []      # no values: its types are not known, its columns agree
    [finding] = schema_findings([*parts, odd])
    assert finding.code == "part_schema_mismatch" and finding.severity.value == "fail"
    assert "part-9.csv" in finding.message and "missing score" in finding.message
    assert "extra extra" in finding.message and "id is string, not int" in finding.message


def test_one_alert_per_batch_names_the_failing_parts_and_history_learns_the_batch() -> None:
    parts = [Part(f"scores/2026/11/21/part-{i}.csv", "pass", schema=SCHEMA, observation=obs(100, 1000))
             for i in range(4)]
    parts[2] = Part("scores/2026/11/21/part-2.csv", "fail", ("empty_file",), "The file has no rows.", SCHEMA,
                    obs(0, 20))

    judged = batch_judgement.judge_batch("scores", Contract(), "outputs", "2026/11/21", parts, [], T0)

    assert judged.status == "fail" and judged.failing == ("scores/2026/11/21/part-2.csv",)
    [alert] = judged.alerts
    assert alert.code == "output_failed" and "1 of 4 files failed: part-2.csv (The file has no rows.)" in alert.message
    assert alert.facts["failing_parts"] == "outputs/scores/2026/11/21/part-2.csv"
    assert judged.observation is not None and judged.observation.rows == 300 and judged.observation.bytes == 3020


def test_a_batch_far_below_its_usual_rows_is_a_batch_finding_though_every_part_passed() -> None:
    past = [obs(4000 + 10 * (d % 5), 40_000, T0 - timedelta(days=d)) for d in range(1, 21)]
    parts = [Part(f"scores/2026/11/21/part-{i}.csv", "pass", schema=SCHEMA, observation=obs(100, 1000))
             for i in range(4)]

    judged = batch_judgement.judge_batch("scores", Contract(), "outputs", "2026/11/21", parts, past, T0)

    assert "rows_anomaly" in judged.codes and judged.status in ("warn", "fail") and judged.failing == ()
    [alert] = judged.alerts
    assert "Row count" in alert.message


def test_a_clean_batch_raises_nothing() -> None:
    parts = [Part(f"scores/2026/11/21/part-{i}.csv", "pass", schema=SCHEMA, observation=obs(100, 1000))
             for i in range(3)]
    judged = batch_judgement.judge_batch("scores", Contract(), "outputs", "2026/11/21", parts, [], T0)
    assert judged.status == "pass" and judged.alerts == () and judged.reason == ""
