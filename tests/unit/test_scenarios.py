"""The labelled scenario suite and its scorer (bench/scenarios): what they promise before any number is read."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from bench.scenarios import generate, score
from shared.core.models import Severity
from shared.services.backtest import BacktestAlert

ALERT_KINDS = {"size_anomaly", "rows_anomaly", "null_anomaly", "drift", "level_shift", "output_late", "upstream_late"}


@pytest.fixture(scope="module")
def suite() -> list[generate.Scenario]:
    return generate.suite()


def test_the_suite_has_at_least_sixty_scenarios_split_evenly_by_seed_into_two_halves(
        suite: list[generate.Scenario]) -> None:
    assert len(suite) >= 60
    halves = Counter((s.family, s.half) for s in suite)
    assert all(halves[(family, half)] >= 2 for family in generate.FAMILIES for half in ("tuning", "held-out"))
    assert {s.half for s in suite if s.seed % 2 == 0} == {"tuning"}


def test_every_alert_kind_the_backtest_raises_is_the_answer_to_some_labelled_incident(
        suite: list[generate.Scenario]) -> None:
    labelled = {code for s in suite for i in s.incidents if i.must_find for code in i.codes}
    assert labelled >= ALERT_KINDS
    assert all(s.incidents for s in suite if not s.clean)
    assert all(not i.must_find for s in suite if s.clean for i in s.incidents)


def test_the_noise_is_what_real_outputs_have(suite: list[generate.Scenario]) -> None:
    observations = [o for s in suite for o in s.observations]
    rows = [o.rows for o in observations if o.rows is not None]
    assert all(isinstance(r, int) for r in rows) and min(rows) == 0          # counts, empty files included
    nulls = [o.columns["amount"].nulls for o in observations if "amount" in o.columns]
    assert Counter(n == 0 for n in nulls)[True] > 100 and max(n or 0 for n in nulls) > 0
    assert {o.stage for o in observations} == {"upstream", "output"}
    hourly = generate.scenario("clean_hourly_nights", 0).observations
    assert not [o for o in hourly if 1 <= o.ts.hour < 5]                   # nights without files
    parts = Counter(o.ts.date() for o in generate.scenario("clean_multifile", 0).observations)
    assert min(parts.values()) >= 3                                          # several files per batch


def test_a_seed_always_gives_the_same_scenario_and_another_seed_a_different_one() -> None:
    assert generate.scenario("drop", 1).observations == generate.scenario("drop", 1).observations
    assert generate.scenario("drop", 1).observations != generate.scenario("drop", 3).observations


def alert(s: generate.Scenario, at: timedelta, code: str) -> BacktestAlert:
    return BacktestAlert(generate.START + at, "ds", code, Severity.WARN, "")


def test_the_scorer_counts_true_false_and_tolerated_alerts_and_found_incidents() -> None:
    s = generate.Scenario("hand-0", "hand", 0, clean=False)
    day = timedelta(days=1)
    s.incidents = [generate.Incident("ds", "drop", frozenset({"rows_anomaly"}), generate.START + day,
                                     generate.START + day),
                   generate.Incident("ds", "late", frozenset({"output_late"}), generate.START + 5 * day,
                                     generate.START + 6 * day),
                   generate.Incident("ds", "growth", frozenset({"level_shift"}), generate.START + 9 * day,
                                     generate.START + 10 * day, must_find=False)]
    alerts = [alert(s, day, "rows_anomaly"), alert(s, day, "size_anomaly"),        # true, false (code)
              alert(s, 2 * day, "rows_anomaly"),                                    # false (outside)
              alert(s, 9 * day, "level_shift"), alert(s, 7 * day, "output_recovered")]
    t = score.score(s, alerts)
    assert (t.true, t.false, t.tolerated, t.found, t.incidents) == (1, 2, 1, 1, 2)
    assert t.precision == pytest.approx(1 / 3) and t.recall == 0.5
    assert t.missed == [f"hand-0: late at {generate.START + 5 * day:%Y-%m-%d %H:%M}"]


def test_false_alerts_per_dataset_month_count_clean_series_over_their_span() -> None:
    s = generate.scenario("clean_weekly", 0)
    span = s.observations[-1].ts - s.observations[0].ts
    t = score.score(s, [alert(s, timedelta(days=3), "rows_anomaly")] * 2)
    assert t.false == t.clean_false == 2
    assert t.false_per_month == pytest.approx(2 / (span / timedelta(days=30)))
