"""Timer schedules read and fired the way the Azure Functions host does (NCRONTAB, UTC).

What the host does, from its sources and docs (read November 2026):

- The timer extension (Azure/azure-webjobs-sdk-extensions, ``TimerSchedule.Create`` and
  ``CronSchedule.TryCreate``) first tries the value as NCRONTAB and only then as a .NET TimeSpan. It
  asks NCrontab for six fields (seconds first) unless the value, split on spaces with empty parts
  dropped, has exactly five; so ``0 0 * * * *`` and ``0 * * * *`` are both hourly, and five fields
  fire at second 0. Anything else is an error when the host loads the function.
- TimeSpan schedules (``01:00:00``) run only on App Service plans: the timer trigger docs say so,
  and diagnostic event AZFD0015 says Flex Consumption (our plan) refuses to start with one. They are
  rejected here, with the NCRONTAB to write instead.
- NCrontab (atifaziz/NCrontab, whose signed build the extension takes since its PR 494; read in
  ``CrontabSchedule``, ``CrontabFieldImpl`` and ``CrontabField``) splits fields on the space character
  only, not on tabs or line breaks. Ranges: second and minute 0-59, hour 0-23, day 1-31, month 1-12,
  day-of-week 0-6 with 0 for Sunday; 7 is out of range. A field is a comma list of ``*``, a value, or
  a range ``a-b``, each with an optional ``/step``; a single value with a step runs to the end of the
  field (``5/15`` is 5,20,35,50). Month and day-of-week also take English names in any case and any
  prefix, the first name in calendar order winning (``Ju`` is June, ``T`` Tuesday); numbers are ASCII
  digits.
- NCrontab's next occurrence is strictly after the base time, ignoring its fraction of a second. The
  day and the day-of-week must BOTH match (AND, not Vixie cron's OR): NCrontab's own test has
  ``45 16 1 * Mon`` after 2003-01-01 fire on 2003-09-01, the next 1st that is a Monday. Dates that do
  not exist (31 April, 29 February outside leap years) are skipped. Before NCrontab 3.3.3 (2023,
  issue 90), skipping ahead to a later minute or hour could keep the base time's second when the
  second field has several values; we follow the fixed reading. Which NCrontab build a given host
  ships was not checked; schedules with one second value (all of ours) fire the same on both.
- The host computes in local time, which is UTC: WEBSITE_TIME_ZONE is not supported on Flex or Linux
  Consumption. UTC has no daylight saving, so the host's DST adjustments never apply.

Where NCrontab silently reads the text differently from what it says, or a schedule could never fire,
``Schedule.parse`` refuses it with the fix instead of guessing (stricter than the host, never looser):
a reversed range (NCrontab swaps ``Fri-Mon`` into ``Mon-Fri``), a step below 1 (read as 1) or so
large it picks one value, a name prefix that fits several names, tabs or line breaks, and dates that
never exist (``30 Feb``: the host would wait until year 9999). Everything it accepts fires at the
host's times (with the one caveat on old NCrontab builds above).
"""

from __future__ import annotations

import bisect
import calendar
import re
from dataclasses import dataclass
from datetime import MAXYEAR, UTC, datetime, timedelta

from shared.core.typed import Invalid

_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                "October", "November", "December")
_DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
# The longest each month can be, 29 for February: a day beyond it never fires in any year.
_LONGEST_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@dataclass(frozen=True)
class _Field:
    name: str
    lo: int
    hi: int
    names: tuple[str, ...] = ()

    def show(self, value: int, by_name: bool = False) -> str:
        return self.names[value - self.lo][:3] if by_name and self.names else str(value)


_SECOND, _MINUTE, _HOUR = _Field("second", 0, 59), _Field("minute", 0, 59), _Field("hour", 0, 23)
_DAY, _MONTH = _Field("day", 1, 31), _Field("month", 1, 12, _MONTH_NAMES)
_DAY_OF_WEEK = _Field("day-of-week", 0, 6, _DAY_NAMES)
_SIX_FIELDS = (_SECOND, _MINUTE, _HOUR, _DAY, _MONTH, _DAY_OF_WEEK)

_ITEM = re.compile(r"(?P<base>\*|(?P<a>[0-9]+|[A-Za-z]+)(?:-(?P<b>[0-9]+|[A-Za-z]+))?)(?:/(?P<step>.*))?")
_QUARTZ = re.compile(r"[?#]|^L|LW|[0-9]+[LW]$")
_TIMESPAN = re.compile(r"(?:(?P<d>\d+)\.)?(?P<h>\d+):(?P<m>\d+)(?::(?P<s>\d+))?(?:\.\d+)?")
_EXAMPLES = "'0 0 * * * *' (hourly) or '0 */5 * * * *' (every five minutes)"


class _FieldError(Exception):
    """A problem inside one field; ``Schedule.parse`` adds the expression and raises ``Invalid``."""


def _value(token: str, field: _Field) -> int:
    if token.isascii() and token.isdigit():
        value = int(token)
        if field is _DAY_OF_WEEK and value == 7:
            raise _FieldError("7 is outside 0-6: NCrontab has no 7 for Sunday; write 0 or Sun")
        if not field.lo <= value <= field.hi:
            raise _FieldError(f"{value} is outside {field.lo}-{field.hi}; write a number from {field.lo} to "
                              f"{field.hi}")
        return value
    if not field.names:
        raise _FieldError(f"{token!r} is not a number; write a number from {field.lo} to {field.hi}")
    matches = [i for i, name in enumerate(field.names) if name.lower().startswith(token.lower())]
    if not matches:
        raise _FieldError(f"{token!r} is not a {field.name} name; write an English name or its start "
                          f"(e.g. {field.names[1][:3]}), or a number from {field.lo} to {field.hi}")
    if len(matches) > 1:
        fits = " and ".join(field.names[i] for i in matches)
        raise _FieldError(f"{token!r} fits {fits} and the host silently takes {field.names[matches[0]]}; "
                          f"write {' or '.join(repr(field.names[i][:3]) for i in matches)}")
    return matches[0] + field.lo


def _item(text: str, field: _Field) -> range:
    try:
        return _item_values(text, field)
    except _FieldError:
        # Only once the host's reading failed: 'W' alone is a fine day-of-week (Wednesday).
        if _QUARTZ.search(text):
            raise _FieldError(f"{text!r} is Quartz syntax (? L W #), which NCRONTAB does not have; write "
                              "'*', a value, a range a-b or a step */n") from None
        raise


def _item_values(text: str, field: _Field) -> range:
    match = _ITEM.fullmatch(text)
    if match is None:
        raise _FieldError(f"{text!r} is not '*', a value, a range a-b or a step (*/n, a/n, a-b/n)")
    a, b, step_text = match["a"], match["b"], match["step"]
    if a is None:
        start, end = field.lo, field.hi
    else:
        start = _value(a, field)
        end = _value(b, field) if b is not None else field.hi if step_text is not None else start
        if b is not None and start > end:
            upper = a if start == field.hi else f"{a}-{field.show(field.hi, a.isalpha())}"
            lower = b if end == field.lo else f"{field.show(field.lo, b.isalpha())}-{b}"
            raise _FieldError(
                f"the range {match['base']!r} runs backwards and NCrontab would silently read it as "
                f"'{field.show(end, b.isalpha())}-{field.show(start, a.isalpha())}'; ranges do not wrap "
                f"around, so write "
                f"'{upper},{lower}' to wrap, or '{b}-{a}'")
    step = 1
    if step_text is not None:
        if not (step_text.isascii() and step_text.isdigit()) or int(step_text) == 0:
            raise _FieldError(f"the step in {text!r} must be a whole number of at least 1 (the host reads 0 "
                              "or a negative step as 1); write e.g. '*/5'")
        step = int(step_text)
    values = range(start, end + 1, step)
    if step > 1 and len(values) == 1:
        raise _FieldError(f"the step in {text!r} never reaches a second value, so it only ever means "
                          f"{field.show(start)}; write '{field.show(start, a is not None and a.isalpha())}' "
                          "if that is meant")
    return values


def _field(text: str, field: _Field) -> tuple[int, ...]:
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise _FieldError(f"{text!r} has an empty list item; remove the stray comma")
        values.update(_item(item, field))
    return tuple(sorted(values))


def _timespan_hint(value: str) -> str:
    """The NCRONTAB that fires on the same period, aligned to the clock, or a general example."""
    match = _TIMESPAN.fullmatch(value.strip())
    if match is None:
        return _EXAMPLES
    seconds = (int(match["d"] or 0) * 86400 + int(match["h"]) * 3600 + int(match["m"]) * 60
               + int(match["s"] or 0))
    if seconds == 86400:
        return "'0 0 0 * * *' (daily at midnight UTC)"
    # (unit, the cycle it must divide, every unit, every n units)
    for unit, cycle, every, every_n in ((1, 60, "* * * * * *", "*/{n} * * * * *"),
                                        (60, 3600, "0 * * * * *", "0 */{n} * * * *"),
                                        (3600, 86400, "0 0 * * * *", "0 0 */{n} * * *")):
        if 0 < seconds < cycle and seconds % unit == 0 and cycle % seconds == 0:
            n = seconds // unit
            return f"'{every if n == 1 else every_n.format(n=n)}'"
    return _EXAMPLES


@dataclass(frozen=True)
class Schedule:
    """A timer schedule the Functions host accepts, with the firing times it will use."""

    expression: str
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: tuple[int, ...]
    months: tuple[int, ...]
    weekdays: tuple[int, ...]      # 0 is Sunday, as in NCRONTAB

    @classmethod
    def parse(cls, value: object) -> Schedule:
        if not isinstance(value, str):
            raise Invalid(f"expected an NCRONTAB expression such as {_EXAMPLES}, got {value!r}")
        if not value.strip():
            raise Invalid(f"the schedule is empty; write an NCRONTAB expression such as {_EXAMPLES}")
        if _TIMESPAN.fullmatch(value.strip()):
            raise Invalid(f"{value!r} is a TimeSpan, which the Functions host runs only on App Service plans "
                          f"(Flex Consumption refuses to start, AZFD0015); write the NCRONTAB "
                          f"{_timespan_hint(value)} (it fires on the clock, where a TimeSpan counts from "
                          "start-up)")
        if other := re.search(r"[^\S ]", value):
            raise Invalid(f"NCRONTAB {value!r} contains {other.group()!r}; the host separates fields with "
                          "spaces only, so write single spaces between fields")
        parts = value.split()
        if len(parts) not in (5, 6):
            raise Invalid(f"NCRONTAB {value!r} has {len(parts)} fields; the host takes 6 (second minute hour "
                          "day month day-of-week, e.g. '0 0 * * * *' hourly) or 5 (minute hour day month "
                          "day-of-week, firing at second 0, e.g. '0 * * * *' hourly)")
        fields = _SIX_FIELDS[6 - len(parts):]
        sets: list[tuple[int, ...]] = [] if len(parts) == 6 else [(0,)]
        for text, field in zip(parts, fields, strict=True):
            try:
                sets.append(_field(text, field))
            except _FieldError as exc:
                raise Invalid(f"NCRONTAB {value!r}, {field.name} field: {exc}") from None
        seconds, minutes, hours, days, months, weekdays = sets
        if not any(day <= _LONGEST_MONTH[month - 1] for month in months for day in days):
            plural = len(days) > 1
            raise Invalid(f"NCRONTAB {value!r} never fires: day{'s' * plural} {', '.join(map(str, days))} "
                          f"{'do' if plural else 'does'} not exist in {', '.join(_MONTH_NAMES[m - 1] for m in months)} "
                          "(the host would wait until year 9999); pick a day that exists in those months")
        return cls(value, seconds, minutes, hours, days, months, weekdays)

    def next_after(self, after: datetime) -> datetime:
        """The first firing strictly after ``after`` (whole seconds, in UTC), in ``after``'s time zone."""
        wall = after if after.tzinfo is None else after.astimezone(UTC).replace(tzinfo=None)
        found = self._first_at_or_after(wall.replace(microsecond=0) + timedelta(seconds=1))
        return found if after.tzinfo is None else found.replace(tzinfo=UTC).astimezone(after.tzinfo)

    def period_hint(self, at: datetime) -> timedelta:
        """Gap between the next two firings after ``at``: how often the timer fires around then."""
        first = self.next_after(at)
        return self.next_after(first) - first

    def _first_at_or_after(self, t: datetime) -> datetime:
        earliest = (self.hours[0], self.minutes[0], self.seconds[0])
        for year in range(t.year, MAXYEAR + 1):
            first_month = t.month if year == t.year else 1
            for month in self.months[bisect.bisect_left(self.months, first_month):]:
                this_month = (year, month) == (t.year, t.month)
                length = calendar.monthrange(year, month)[1]
                for day in self.days[bisect.bisect_left(self.days, t.day if this_month else 1):]:
                    if day > length:
                        break
                    if (calendar.weekday(year, month, day) + 1) % 7 not in self.weekdays:
                        continue   # day AND day-of-week, as NCrontab requires
                    hms = self._time_at_or_after(t) if this_month and day == t.day else earliest
                    if hms is not None:
                        return datetime(year, month, day, *hms)
        raise Invalid(f"NCRONTAB {self.expression!r} does not fire again before year {MAXYEAR + 1}")

    def _time_at_or_after(self, t: datetime) -> tuple[int, int, int] | None:
        for hour in self.hours[bisect.bisect_left(self.hours, t.hour):]:
            if hour > t.hour:
                return hour, self.minutes[0], self.seconds[0]
            for minute in self.minutes[bisect.bisect_left(self.minutes, t.minute):]:
                if minute > t.minute:
                    return hour, minute, self.seconds[0]
                second = bisect.bisect_left(self.seconds, t.second)
                if second < len(self.seconds):
                    return hour, minute, self.seconds[second]
        return None
