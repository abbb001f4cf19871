"""NCRONTAB schedules, partition patterns and staleness episodes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.core import staleness
from shared.core.partition import PartitionPattern
from shared.core.schedule import Schedule
from shared.core.spec import StalenessSpec
from shared.core.typed import Invalid

T0 = datetime(2026, 11, 21, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(("expression", "after", "expected"), [
    ("0 0 * * * *", T0, datetime(2026, 11, 21, 11, 0, tzinfo=UTC)),
    ("0 */5 * * * *", T0, datetime(2026, 11, 21, 10, 35, tzinfo=UTC)),
    ("30 15 6 * * Mon-Fri", T0, datetime(2026, 11, 23, 6, 15, 30, tzinfo=UTC)),  # T0 is a Saturday
    ("0 0 0 1 Jan *", T0, datetime(2027, 1, 1, tzinfo=UTC)),
    ("0 0 12 * * 0", T0, datetime(2026, 11, 22, 12, 0, tzinfo=UTC)),
    ("0 0 12 * * 7", T0, datetime(2026, 11, 22, 12, 0, tzinfo=UTC)),
])
def test_ncrontab_next_firing(expression: str, after: datetime, expected: datetime) -> None:
    assert Schedule.parse(expression).next_after(after) == expected


@pytest.mark.parametrize(("expression", "message"), [
    ("0 * * * *", "has 5 fields"),
    ("0 60 * * * *", "minute field: 60 is outside 0-59"),
    ("0 0 * * * Funday", "day-of-week field: 'Funday' is not a number"),
    ("0 0 5-1 * * *", "runs backwards"),
    ("0 0 */0 * * *", "must be a positive number"),
    ("0 0 0 31 Feb *", "never fires"),
])
def test_bad_ncrontab_is_explained(expression: str, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        Schedule.parse(expression).next_after(T0)


def test_hourly_schedule_period_is_an_hour() -> None:
    assert Schedule.parse("0 0 * * * *").period_hint(T0) == timedelta(hours=1)


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
    arrivals = [T0 - timedelta(days=d) for d in (6, 5, 4, 3)] + [T0 - timedelta(days=3, minutes=-5)]
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
