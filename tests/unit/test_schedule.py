"""Timer schedules: the Functions host's NCRONTAB (NCrontab + the WebJobs timer extension), in UTC.

The evaluation cases marked NCrontab are the (start, expression, next) triples of NCrontab's own test
suite (atifaziz/NCrontab, NCrontab.Tests/CrontabScheduleTests.cs, times written dd/MM/yyyy as there);
the Azure cases are the examples of the Functions timer trigger docs.
"""

from __future__ import annotations

import calendar
import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from shared.core.schedule import Schedule
from shared.core.typed import Invalid


def at(text: str) -> datetime:
    """``dd/MM/yyyy HH:mm:ss`` in UTC, as NCrontab's tests write times."""
    return datetime.strptime(text, "%d/%m/%Y %H:%M:%S").replace(tzinfo=UTC)


NCRONTAB_CASES = [
    # minutes, five fields
    ("01/01/2003 00:00:00", "* * * * *", "01/01/2003 00:01:00"),
    ("01/01/2003 00:59:00", "* * * * *", "01/01/2003 01:00:00"),
    ("01/01/2003 23:59:00", "* * * * *", "02/01/2003 00:00:00"),
    ("31/12/2003 23:59:00", "* * * * *", "01/01/2004 00:00:00"),
    ("28/02/2003 23:59:00", "* * * * *", "01/03/2003 00:00:00"),
    ("28/02/2004 23:59:00", "* * * * *", "29/02/2004 00:00:00"),
    # seconds, six fields
    ("01/01/2003 00:00:00", "45 * * * * *", "01/01/2003 00:00:45"),
    ("01/01/2003 00:00:00", "45-47,48,49 * * * * *", "01/01/2003 00:00:45"),
    ("01/01/2003 00:00:45", "45-47,48,49 * * * * *", "01/01/2003 00:00:46"),
    ("01/01/2003 00:00:48", "45-47,48,49 * * * * *", "01/01/2003 00:00:49"),
    ("01/01/2003 00:00:49", "45-47,48,49 * * * * *", "01/01/2003 00:01:45"),
    ("01/01/2003 00:00:00", "2/5 * * * * *", "01/01/2003 00:00:02"),
    ("01/01/2003 00:00:02", "2/5 * * * * *", "01/01/2003 00:00:07"),
    ("01/01/2003 00:00:52", "2/5 * * * * *", "01/01/2003 00:00:57"),
    ("01/01/2003 00:00:57", "2/5 * * * * *", "01/01/2003 00:01:02"),
    ("24/02/2021 09:50:35", "* 0-1 10 * * *", "24/02/2021 10:00:00"),   # NCrontab issue 90
    ("24/02/2021 09:50:35", "* * 10 * * *", "24/02/2021 10:00:00"),
    ("24/02/2021 09:50:35", "* 55 * * * *", "24/02/2021 09:55:00"),
    # minutes
    ("01/01/2003 00:00:00", "45 * * * *", "01/01/2003 00:45:00"),
    ("01/01/2003 00:49:00", "45-47,48,49 * * * *", "01/01/2003 01:45:00"),
    ("01/01/2003 00:57:00", "2/5 * * * *", "01/01/2003 01:02:00"),
    ("01/01/2003 00:00:30", "3 45 * * * *", "01/01/2003 00:45:03"),
    ("01/01/2003 00:45:30", "6 45-47,48,49 * * * *", "01/01/2003 00:46:06"),
    ("01/01/2003 00:49:30", "6 45-47,48,49 * * * *", "01/01/2003 01:45:06"),
    ("01/01/2003 00:02:30", "9 2/5 * * * *", "01/01/2003 00:07:09"),
    ("01/01/2003 00:57:30", "9 2/5 * * * *", "01/01/2003 01:02:09"),
    # hours
    ("20/12/2003 10:00:00", " * 3/4 * * *", "20/12/2003 11:00:00"),
    ("20/12/2003 00:30:00", " * 3   * * *", "20/12/2003 03:00:00"),
    ("20/12/2003 01:45:00", "30 3   * * *", "20/12/2003 03:30:00"),
    # day of month
    ("07/01/2003 00:00:00", "30  *  1 * *", "01/02/2003 00:30:00"),
    ("01/02/2003 00:30:00", "30  *  1 * *", "01/02/2003 01:30:00"),
    ("01/01/2003 00:00:00", "10  * 22    * *", "22/01/2003 00:10:00"),
    ("01/01/2003 00:00:00", "30 23 19    * *", "19/01/2003 23:30:00"),
    ("01/01/2003 00:01:00", " *  * 21    * *", "21/01/2003 00:00:00"),
    ("10/07/2003 00:00:00", " *  * 30,31 * *", "30/07/2003 00:00:00"),
    # month rollovers for months of 28, 29, 30 and 31 days
    ("28/02/2002 23:59:59", "* * * 3 *", "01/03/2002 00:00:00"),
    ("29/02/2004 23:59:59", "* * * 3 *", "01/03/2004 00:00:00"),
    ("31/03/2002 23:59:59", "* * * 4 *", "01/04/2002 00:00:00"),
    ("30/04/2002 23:59:59", "* * * 5 *", "01/05/2002 00:00:00"),
    # days 30 and 31 skip the months without them
    ("01/01/2000 00:00:00", "0 0 15,30,31 * *", "15/01/2000 00:00:00"),
    ("30/01/2000 00:00:00", "0 0 15,30,31 * *", "31/01/2000 00:00:00"),
    ("31/01/2000 00:00:00", "0 0 15,30,31 * *", "15/02/2000 00:00:00"),
    ("15/02/2000 00:00:00", "0 0 15,30,31 * *", "15/03/2000 00:00:00"),
    ("31/03/2000 00:00:00", "0 0 15,30,31 * *", "15/04/2000 00:00:00"),
    ("30/04/2000 00:00:00", "0 0 15,30,31 * *", "15/05/2000 00:00:00"),
    ("30/06/2000 00:00:00", "0 0 15,30,31 * *", "15/07/2000 00:00:00"),
    ("31/08/2000 00:00:00", "0 0 15,30,31 * *", "15/09/2000 00:00:00"),
    ("30/11/2000 00:00:00", "0 0 15,30,31 * *", "15/12/2000 00:00:00"),
    ("31/12/2000 00:00:00", "0 0 15,30,31 * *", "15/01/2001 00:00:00"),
    # months, names and year rollover
    ("01/12/2003 05:00:00", "10 * * 6 *", "01/06/2004 00:10:00"),
    ("04/01/2003 00:00:00", " 1 2 3 * *", "03/02/2003 02:01:00"),
    ("01/07/2002 05:00:00", "10 * * February,April-Jun *", "01/02/2003 00:10:00"),
    ("01/01/2003 00:00:00", "0 12 1 6 *", "01/06/2003 12:00:00"),
    ("11/09/1988 14:23:00", "* 12 1 6 *", "01/06/1989 12:00:00"),
    ("11/03/1988 14:23:00", "* 12 1 6 *", "01/06/1988 12:00:00"),
    ("11/03/1988 14:23:00", "* 2,4-8,15 * 6 *", "01/06/1988 02:00:00"),
    ("11/03/1988 14:23:00", "20 * * january,FeB,Mar,april,May,JuNE,July,Augu,SEPT-October,Nov,DECEM *",
     "11/03/1988 15:20:00"),
    # day of week
    ("26/06/2003 10:00:00", "30 6 * * 0", "29/06/2003 06:30:00"),
    ("26/06/2003 10:00:00", "30 6 * * sunday", "29/06/2003 06:30:00"),
    ("26/06/2003 10:00:00", "30 6 * * SUNDAY", "29/06/2003 06:30:00"),
    ("19/06/2003 00:00:00", "1 12 * * 2", "24/06/2003 12:01:00"),
    ("24/06/2003 12:01:00", "1 12 * * 2", "01/07/2003 12:01:00"),
    ("01/06/2003 14:55:00", "15 18 * * Mon", "02/06/2003 18:15:00"),
    ("30/06/2003 18:15:00", "15 18 * * Mon", "07/07/2003 18:15:00"),
    ("01/01/2003 00:00:00", "* * * * Mon", "06/01/2003 00:00:00"),
    # day AND day-of-week: the next 1st of a month that is a Monday
    ("01/01/2003 12:00:00", "45 16 1 * Mon", "01/09/2003 16:45:00"),
    ("01/09/2003 23:45:00", "45 16 1 * Mon", "01/12/2003 16:45:00"),
    # leap and non-leap years
    ("01/01/2000 12:00:00", "1 12 29 2 *", "29/02/2000 12:01:00"),
    ("29/02/2000 12:01:00", "1 12 29 2 *", "29/02/2004 12:01:00"),
    ("29/02/2004 12:01:00", "1 12 29 2 *", "29/02/2008 12:01:00"),
    ("28/02/2000 12:01:00", "1 12 28 2 *", "28/02/2001 12:01:00"),
    ("29/02/2004 12:01:00", "1 12 28 2 *", "28/02/2005 12:01:00"),
    # a step on a single value runs to the end of the field
    ("01/01/2000 12:00:00", "40 14/1 * * *", "01/01/2000 14:40:00"),
    ("01/01/2000 14:40:00", "40 14/1 * * *", "01/01/2000 15:40:00"),
]


@pytest.mark.parametrize(("start", "expression", "expected"), NCRONTAB_CASES)
def test_next_firing_matches_ncrontabs_own_test_cases(start: str, expression: str, expected: str) -> None:
    assert Schedule.parse(expression).next_after(at(start)) == at(expected)


def test_ncrontab_readme_example_fires_on_mondays_of_every_other_month() -> None:
    schedule = Schedule.parse("0 12 * */2 Mon")
    firings, t = [], at("01/01/2000 00:00:00")
    while (t := schedule.next_after(t)) < at("01/01/2001 00:00:00"):
        firings.append(t)
    assert len(firings) == 27
    assert firings[:5] == [at(f"{d}/01/2000 12:00:00") for d in ("03", "10", "17", "24", "31")]
    assert firings[5] == at("06/03/2000 12:00:00") and firings[-1] == at("27/11/2000 12:00:00")


T0 = datetime(2026, 11, 21, 10, 30, tzinfo=UTC)   # a Saturday


@pytest.mark.parametrize(("expression", "expected"), [
    ("0 5 * * * *", datetime(2026, 11, 21, 11, 5, tzinfo=UTC)),
    ("0 * 5 * * *", datetime(2026, 11, 22, 5, 0, tzinfo=UTC)),
    ("5-7 * * * * *", datetime(2026, 11, 21, 10, 30, 5, tzinfo=UTC)),
    ("5,8,10 * * * * *", datetime(2026, 11, 21, 10, 30, 5, tzinfo=UTC)),
    ("0 */5 * * * *", datetime(2026, 11, 21, 10, 35, tzinfo=UTC)),
    ("0 0 * * * *", datetime(2026, 11, 21, 11, 0, tzinfo=UTC)),
    ("0 0 */2 * * *", datetime(2026, 11, 21, 12, 0, tzinfo=UTC)),
    ("0 0 9-17 * * *", datetime(2026, 11, 21, 11, 0, tzinfo=UTC)),
    ("0 30 9 * * *", datetime(2026, 11, 22, 9, 30, tzinfo=UTC)),
    ("0 30 9 * * 1-5", datetime(2026, 11, 23, 9, 30, tzinfo=UTC)),
    ("0 30 9 * Jan Mon", datetime(2027, 1, 4, 9, 30, tzinfo=UTC)),
])
def test_next_firing_matches_the_azure_timer_trigger_examples(expression: str, expected: datetime) -> None:
    assert Schedule.parse(expression).next_after(T0) == expected


def test_five_fields_are_accepted_like_the_host_and_fire_at_second_zero() -> None:
    five, six = Schedule.parse("*/15 9-17 * * Mon-Fri"), Schedule.parse("0 */15 9-17 * * Mon-Fri")
    t = T0
    for _ in range(50):
        assert five.next_after(t) == six.next_after(t)
        t = five.next_after(t)
    assert five.seconds == (0,)


def test_day_and_day_of_week_must_both_match_unlike_vixie_cron() -> None:
    friday_13th = Schedule.parse("0 0 0 13 * Fri")
    assert friday_13th.next_after(T0) == datetime(2027, 8, 13, tzinfo=UTC)
    first_monday = Schedule.parse("0 0 9 1-7 * Mon")
    assert first_monday.next_after(T0) == datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(("expression", "expected"), [
    ("0 0 0 * * Sun", 0), ("0 0 0 * * 0", 0), ("0 0 0 * * Sat", 6), ("0 0 0 * * Sa", 6),
    ("0 0 0 * * Thurs", 4), ("0 0 0 * * th", 4), ("0 0 0 * * M", 1), ("0 0 0 * * W", 3),
    ("0 0 0 * * wednesday", 3), ("0 0 0 * * F", 5),
])
def test_day_names_are_english_in_any_case_and_any_unambiguous_prefix(expression: str, expected: int) -> None:
    assert Schedule.parse(expression).weekdays == (expected,)


@pytest.mark.parametrize(("field", "expected"), [
    ("jan", (1,)), ("JUN", (6,)), ("Jul", (7,)), ("Sept", (9,)), ("DECEM", (12,)), ("F", (2,)),
    ("Mar-May", (3, 4, 5)), ("Jan/3", (1, 4, 7, 10)), ("*/2", (1, 3, 5, 7, 9, 11)), ("1-Mar", (1, 2, 3)),
])
def test_month_names_ranges_and_steps_read_as_ncrontab_reads_them(field: str, expected: tuple[int, ...]) -> None:
    assert Schedule.parse(f"0 0 0 1 {field} *").months == expected


@pytest.mark.parametrize(("field", "expected"), [
    ("*/20", (0, 20, 40)), ("5/20", (5, 25, 45)), ("10-30/10", (10, 20, 30)), ("1-5,3-7", tuple(range(1, 8))),
    ("59", (59,)), ("05", (5,)), ("*/1", tuple(range(60))), ("0-59/30,15", (0, 15, 30)),
])
def test_lists_ranges_and_steps_build_the_same_sets_as_ncrontab(field: str, expected: tuple[int, ...]) -> None:
    assert Schedule.parse(f"{field} * * * * *").seconds == expected


def test_spaces_around_and_between_fields_are_ignored_as_the_host_ignores_them() -> None:
    assert Schedule.parse("  0   0 *  * * *  ").next_after(T0) == datetime(2026, 11, 21, 11, 0, tzinfo=UTC)
    assert Schedule.parse(" 0  * * * * ").seconds == (0,)    # five fields however they are spaced


# -- our own edge cases: month ends, Feb 29, UTC --------------------------------------------------------

def firings(expression: str, start: datetime, count: int) -> list[datetime]:
    schedule, out, t = Schedule.parse(expression), [], start
    for _ in range(count):
        t = schedule.next_after(t)
        out.append(t)
    return out


def test_the_31st_fires_only_in_months_that_have_one() -> None:
    assert [t.date().isoformat() for t in firings("0 0 0 31 * *", T0, 4)] == [
        "2026-12-31", "2027-01-31", "2027-03-31", "2027-05-31"]


def test_the_30th_skips_february_even_in_a_leap_year() -> None:
    start = datetime(2028, 1, 30, 12, tzinfo=UTC)
    assert [t.date().isoformat() for t in firings("0 0 0 30 * *", start, 2)] == ["2028-03-30", "2028-04-30"]


def test_a_later_firing_on_the_last_day_of_the_year_is_found_from_earlier_that_day() -> None:
    noon = datetime(2026, 12, 31, 12, tzinfo=UTC)
    assert Schedule.parse("0 0 0,18 31 * *").next_after(noon) == datetime(2026, 12, 31, 18, tzinfo=UTC)


def test_february_29th_fires_only_in_leap_years() -> None:
    assert [t.year for t in firings("0 0 6 29 Feb *", T0, 3)] == [2028, 2032, 2036]


def test_february_29th_on_a_monday_is_rare_but_fires_as_the_host_would() -> None:
    # NCrontab's own test: '0 0 29 Feb Mon' has occurrences; the next after 2017 is 2044.
    schedule = Schedule.parse("0 0 29 Feb Mon")
    assert schedule.next_after(at("01/01/2017 00:00:00")) == at("29/02/2044 00:00:00")
    assert schedule.period_hint(at("01/01/2017 00:00:00")) == at("29/02/2072 00:00:00") - at("29/02/2044 00:00:00")


def test_the_last_second_of_the_year_rolls_into_the_next() -> None:
    end = datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert Schedule.parse("* * * * * *").next_after(end) == datetime(2027, 1, 1, tzinfo=UTC)
    assert Schedule.parse("0 0 0 1 1 *").next_after(end) == datetime(2027, 1, 1, tzinfo=UTC)


def test_next_firing_is_strictly_after_and_ignores_fractions_of_a_second() -> None:
    hourly = Schedule.parse("0 0 * * * *")
    on_the_hour = datetime(2026, 11, 21, 11, 0, tzinfo=UTC)
    assert hourly.next_after(on_the_hour) == datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    # 10:59:59.999999 counts as 10:59:59, so 11:00:00 is still ahead of it.
    assert hourly.next_after(on_the_hour - timedelta(microseconds=1)) == on_the_hour
    assert Schedule.parse("* * * * * *").next_after(on_the_hour + timedelta(milliseconds=999)) == (
        on_the_hour + timedelta(seconds=1))


def test_schedules_are_read_in_utc_whatever_the_callers_time_zone() -> None:
    paris = timezone(timedelta(hours=1))
    after = datetime(2026, 11, 21, 9, 30, tzinfo=paris)      # 08:30 UTC
    fired = Schedule.parse("0 0 9 * * *").next_after(after)
    assert fired == datetime(2026, 11, 21, 9, 0, tzinfo=UTC) and fired.tzinfo == paris


def test_utc_has_no_daylight_saving_gaps_or_repeats() -> None:
    # 29 March and 25 October 2026 are the EU clock changes; in UTC every hour still fires once.
    for day in (datetime(2026, 3, 29, tzinfo=UTC), datetime(2026, 10, 25, tzinfo=UTC)):
        hours = firings("0 0 * * * *", day - timedelta(seconds=1), 24)
        assert [t.hour for t in hours] == list(range(24))


def test_period_hint_is_the_gap_between_the_next_two_firings() -> None:
    assert Schedule.parse("0 0 * * * *").period_hint(T0) == timedelta(hours=1)
    assert Schedule.parse("0 */5 * * * *").period_hint(T0) == timedelta(minutes=5)
    assert Schedule.parse("0 0 6 * * Mon-Fri").period_hint(T0) == timedelta(days=1)   # Mon 06:00 → Tue 06:00


# -- a brute-force reference: every day, every time of day, first one that matches -------------------

_LIMITS = ((0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


@st.composite
def schedule_and_start(draw: st.DrawFn) -> tuple[str, tuple[set[int], ...], datetime]:
    sets = tuple(draw(st.sets(st.integers(lo, hi), min_size=1, max_size=4)) for lo, hi in _LIMITS)
    seconds, minutes, hours, days, months, _ = sets
    assume(any(day <= calendar.monthrange(2000, month)[1] for month in months for day in days))
    expression = " ".join(",".join(map(str, sorted(values))) for values in sets)
    # Starts on or near a firing reach the same-day and same-hour paths that random instants rarely do.
    def near(values: set[int], lo: int, hi: int) -> int:
        return draw(st.sampled_from(sorted(values)) | st.integers(lo, hi))
    year, month = draw(st.integers(2000, 2090)), near(months, 1, 12)
    day = min(near(days, 1, 31), calendar.monthrange(year, month)[1])
    start = datetime(year, month, day, near(hours, 0, 23), near(minutes, 0, 59), near(seconds, 0, 59), tzinfo=UTC)
    return expression, sets, start


def brute_force_next(sets: tuple[set[int], ...], after: datetime) -> datetime:
    seconds, minutes, hours, days, months, weekdays = sets
    day = after.date()
    while True:
        if (day.day in days and day.month in months
                and (calendar.weekday(day.year, day.month, day.day) + 1) % 7 in weekdays):
            for h, m, s in itertools.product(sorted(hours), sorted(minutes), sorted(seconds)):
                candidate = datetime(day.year, day.month, day.day, h, m, s, tzinfo=UTC)
                if candidate > after:
                    return candidate
        day += timedelta(days=1)


@settings(max_examples=200, deadline=None)
@given(schedule_and_start())
def test_next_firing_agrees_with_a_brute_force_search(case: tuple[str, tuple[set[int], ...], datetime]) -> None:
    expression, sets, after = case
    assert Schedule.parse(expression).next_after(after) == brute_force_next(sets, after)


# -- what the host rejects, and what it would silently misread -----------------------------------------

@pytest.mark.parametrize(("expression", "message"), [
    # NCrontab's own bad-field cases, five and six fields
    ("bad * * * * *", "second field: 'bad' is not a number; write a number from 0 to 59"),
    ("bad * * * *", "minute field: 'bad' is not a number"),
    ("* bad * * * *", "minute field: 'bad' is not a number"),
    ("* * bad * * *", "hour field: 'bad' is not a number; write a number from 0 to 23"),
    ("* * * bad * *", "day field: 'bad' is not a number; write a number from 1 to 31"),
    ("* * * * bad *", "month field: 'bad' is not a month name; write an English name or its start"),
    ("* * * * * mon,bad,wed", "day-of-week field: 'bad' is not a day-of-week name"),
    ("* * * * mon,bad,wed", "day-of-week field: 'bad' is not a day-of-week name"),
    ("* * 1,2,3,456,7,8,9 * * *", "hour field: 456 is outside 0-23; write a number from 0 to 23"),
    ("* 1,2,3,456,7,8,9 * * *", "hour field: 456 is outside 0-23"),
    ("* * 1,Z,3,4 * * *", "hour field: 'Z' is not a number"),
    ("* * 1/Z * * *", r"hour field: the step in '1/Z' must be a whole number of at least 1"),
    ("* * 3-l2 * * *", "hour field: '3-l2' is not '\\*', a value, a range a-b or a step"),
    # field count, whitespace, TimeSpan
    ("", "the schedule is empty; write an NCRONTAB expression such as '0 0 \\* \\* \\* \\*'"),
    ("every hour", "has 2 fields; the host takes 6 .* or 5 "),
    ("0 0 0 * * * 2027", "has 7 fields"),
    ("0\t0 * * * *", r"contains '\\t'; the host separates fields with spaces only"),
    ("0 0 * * * *\n", r"contains '\\n'"),
    ("01:00:00", "is a TimeSpan, which the Functions host runs only on App Service plans .* write the NCRONTAB "
                 "'0 0 \\* \\* \\* \\*'"),
    ("00:05:00", "write the NCRONTAB '0 \\*/5 \\* \\* \\* \\*'"),
    ("00:00:30", "write the NCRONTAB '\\*/30 \\* \\* \\* \\* \\*'"),
    ("02:00:00", "write the NCRONTAB '0 0 \\*/2 \\* \\* \\*'"),
    ("1.00:00:00", "write the NCRONTAB '0 0 0 \\* \\* \\*'"),
    ("01:30:00", "write the NCRONTAB '0 0 \\* \\* \\* \\*' \\(hourly\\) or"),
    # values
    ("0 60 * * * *", "minute field: 60 is outside 0-59"),
    ("0 0 24 * * *", "hour field: 24 is outside 0-23"),
    ("0 0 0 0 * *", "day field: 0 is outside 1-31"),
    ("0 0 0 1 13 *", "month field: 13 is outside 1-12"),
    ("0 0 12 * * 7", "day-of-week field: 7 is outside 0-6: NCrontab has no 7 for Sunday; write 0 or Sun"),
    ("0 0 12 * * 1-7", "7 is outside 0-6"),
    ("0 0 12 * * Funday", "'Funday' is not a day-of-week name"),
    ("0 0 12 * * Mondays", "'Mondays' is not a day-of-week name"),
    ("0 0 noon * * *", "hour field: 'noon' is not a number"),
    ("0 0 0 * * S", "'S' fits Sunday and Saturday and the host silently takes Sunday; write 'Sun' or 'Sat'"),
    ("0 0 0 * * T", "'T' fits Tuesday and Thursday"),
    ("0 0 0 1 Ju *", "'Ju' fits June and July and the host silently takes June; write 'Jun' or 'Jul'"),
    ("0 0 0 1 Ma *", "'Ma' fits March and May"),
    ("0 0 0 1 A *", "'A' fits April and August"),
    ("0 0 0 1 ０１ *", "'０１' is not '\\*', a value"),                # full-width digits are not ASCII
    # ranges and steps NCrontab would silently misread
    ("0 0 22-2 * * *", "the range '22-2' runs backwards and NCrontab would silently read it as '2-22'; .* "
                       "write '22-23,0-2' to wrap, or '2-22'"),
    ("0 0 9 * * Fri-Mon", "read it as 'Mon-Fri'; .* write 'Fri-Sat,Sun-Mon' to wrap, or 'Mon-Fri'"),
    ("0 0 0 1 Dec-Jan *", "write 'Dec,Jan' to wrap"),
    ("0 0 */0 * * *", "the step in '\\*/0' must be a whole number of at least 1 \\(the host reads 0 or a "
                      "negative step as 1\\)"),
    ("0 0 */-2 * * *", "the step in '\\*/-2' must be a whole number"),
    ("0 0 */+2 * * *", "the step in '\\*/\\+2' must be a whole number"),
    ("0 0 */ * * *", "the step in '\\*/' must be a whole number"),
    ("0 */90 * * * *", "the step in '\\*/90' never reaches a second value, so it only ever means 0; write '0'"),
    ("0 0 0 1 Mar/12 *", "only ever means 3; write 'Mar'"),
    ("0 0 0 1,,15 * *", "'1,,15' has an empty list item; remove the stray comma"),
    ("0 0 0 15, * *", "has an empty list item"),
    ("0 0 0 -5 * *", "'-5' is not '\\*', a value"),
    ("0 0 0 1-2-3 * *", "'1-2-3' is not '\\*', a value"),
    ("0 0 0 **/2 * *", "'\\*\\*/2' is not '\\*', a value"),
    # Quartz syntax
    ("0 0 0 ? * Mon", "day field: '\\?' is Quartz syntax \\(\\? L W #\\), which NCRONTAB does not have"),
    ("0 0 0 L * *", "'L' is Quartz syntax"),
    ("0 0 0 15W * *", "'15W' is Quartz syntax"),
    ("0 0 0 * * 5L", "'5L' is Quartz syntax"),
    ("0 0 0 * * 5#3", "'5#3' is Quartz syntax"),
    # dates that never exist (NCrontab's DontLoopIndefinitely case, in both widths)
    ("* * 31 Feb *", "never fires: day 31 does not exist in February"),
    ("* * * 31 Feb *", "never fires: day 31 does not exist in February"),
    ("0 0 0 30,31 Feb *", "never fires: days 30, 31 do not exist in February"),
    ("0 0 0 31 Apr,Jun,Sep,Nov *", "never fires: day 31 does not exist in April, June, September, November"),
])
def test_bad_schedules_are_rejected_with_what_to_write_instead(expression: str, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        Schedule.parse(expression)


def test_every_rejection_names_the_expression() -> None:
    with pytest.raises(Invalid, match=r"^NCRONTAB '0 61 \* \* \* \*', minute field: "):
        Schedule.parse("0 61 * * * *")


@pytest.mark.parametrize("value", [None, 5, ["0", "0", "*", "*", "*", "*"]])
def test_a_schedule_that_is_not_text_is_rejected_with_an_example(value: object) -> None:
    with pytest.raises(Invalid, match="expected an NCRONTAB expression such as '0 0"):
        Schedule.parse(value)


def test_a_day_that_exists_in_only_some_of_the_months_is_accepted() -> None:
    assert Schedule.parse("0 0 0 31 Feb,Mar *").next_after(T0) == datetime(2027, 3, 31, tzinfo=UTC)
