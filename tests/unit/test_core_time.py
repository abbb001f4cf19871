"""Partition patterns and staleness episodes (schedules are in test_schedule.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.core import staleness
from shared.core.partition import PartitionPattern
from shared.core.spec import StalenessSpec

T0 = datetime(2026, 11, 21, 10, 30, tzinfo=UTC)


def test_daily_partitions_list_one_prefix_per_day_of_the_window() -> None:
    pattern = PartitionPattern.parse("{yyyy}/{MM}/{dd}")
    assert pattern.listing_prefixes(T0 - timedelta(days=2), T0) == ["2026/11/19/", "2026/11/20/", "2026/11/21/"]


def test_hourly_partitions_are_listed_by_day_not_by_hour() -> None:
    pattern = PartitionPattern.parse("year={yyyy}/month={MM}/day={dd}/hour={HH}")
    assert pattern.listing_prefixes(T0 - timedelta(hours=3), T0) == ["year=2026/month=11/day=21/hour="]
    assert pattern.split("year=2026/month=11/day=21/hour=07/x/part.csv") == (
        "year=2026/month=11/day=21/hour=07", "x/part.csv")


def test_batch_folders_inside_a_month() -> None:
    pattern = PartitionPattern.parse("{yyyy}/{MM}/{*}")
    assert pattern.listing_prefixes(T0, T0) == ["2026/11/"]
    assert pattern.split("2026/11/batch-7/a.csv") == ("2026/11/batch-7", "a.csv")
    assert pattern.split("2026/11/batch-7") is None


def test_a_pattern_without_dates_lists_the_whole_prefix() -> None:
    assert PartitionPattern.parse("{*}").listing_prefixes(T0, T0) == [""]


def test_staleness_waits_for_enough_history_before_learning() -> None:
    spec = StalenessSpec(learn_after=5)
    arrivals = [T0 - timedelta(days=d) for d in (10, 9, 8)]
    _, alerts = staleness.step("s", "upstream", staleness.EpisodeState(), arrivals, spec, T0)
    assert alerts == [] and staleness.cadence(arrivals, spec).describe() == "insufficient history (3/5)"


def test_staleness_learns_the_cadence_and_merges_bursts() -> None:
    spec = StalenessSpec(learn_after=4)
    # A week of daily arrivals (a learned cadence is trusted once arrivals span a week), the last in a burst.
    arrivals = [T0 - timedelta(days=d) for d in (10, 9, 8, 7, 6, 5, 4, 3)] + [T0 - timedelta(days=3, minutes=-5)]
    cadence = staleness.cadence(arrivals, spec)
    assert cadence.expected == timedelta(days=1) and cadence.learned
    _, alerts = staleness.step("s", "upstream", staleness.EpisodeState(), arrivals, spec, T0)
    assert [a.code for a in alerts] == ["upstream_late"]
    assert "learned cadence 1d" in alerts[0].message


def test_disabled_staleness_never_alerts() -> None:
    arrivals = [T0 - timedelta(days=30)]
    _, alerts = staleness.step("s", "output", staleness.EpisodeState(), arrivals,
                               StalenessSpec(cadence=timedelta(hours=1), enabled=False), T0)
    assert alerts == []
