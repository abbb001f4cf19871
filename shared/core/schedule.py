"""NCRONTAB schedules as Azure Functions timer triggers read them: six fields, seconds first.

``{second} {minute} {hour} {day} {month} {day-of-week}``, e.g. ``0 0 * * * *`` (hourly) or
``0 */5 * * * *``. Fields take ``*``, numbers, ranges ``a-b``, steps ``*/n`` and ``a-b/n``, lists, and
month / weekday names (``Jan``, ``Mon``). Day-of-week 0 and 7 are Sunday. When both day and
day-of-week are restricted, a time matches either (cron semantics).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.core.typed import Invalid

_FIELDS = (("second", 0, 59), ("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31),
           ("month", 1, 12), ("day-of-week", 0, 7))
_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}
_DAYS = {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}


def _number(token: str, field: str, lo: int, hi: int) -> int:
    names = _MONTHS if field == "month" else _DAYS if field == "day-of-week" else {}
    low = token.lower()
    if low in names:
        return names[low]
    if not token.isdigit():
        raise Invalid(f"{field} field: {token!r} is not a number")
    n = int(token)
    if not lo <= n <= hi:
        raise Invalid(f"{field} field: {n} is outside {lo}-{hi}")
    return n


def _field(text: str, field: str, lo: int, hi: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise Invalid(f"{field} field: empty list item in {text!r}")
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise Invalid(f"{field} field: step {step_text!r} must be a positive number")
            step = int(step_text)
        if base == "*":
            start, end = lo, hi
        elif "-" in base:
            a, _, b = base.partition("-")
            start, end = _number(a, field, lo, hi), _number(b, field, lo, hi)
            if start > end:
                raise Invalid(f"{field} field: range {base!r} runs backwards")
        else:
            start = _number(base, field, lo, hi)
            end = hi if step_text else start
        values.update(range(start, end + 1, step))
    if field == "day-of-week" and 7 in values:
        values.discard(7)
        values.add(0)
    return frozenset(values)


@dataclass(frozen=True)
class Schedule:
    """A parsed NCRONTAB expression."""

    expression: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    day_restricted: bool
    weekday_restricted: bool

    @classmethod
    def parse(cls, value: object) -> Schedule:
        if not isinstance(value, str):
            raise Invalid(f"expected an NCRONTAB expression such as '0 0 * * * *', got {value!r}")
        parts = value.split()
        if len(parts) != 6:
            raise Invalid(
                f"NCRONTAB {value!r} has {len(parts)} fields; Azure Functions needs 6 "
                "(second minute hour day month day-of-week), e.g. '0 0 * * * *' for hourly")
        sets = [_field(p, name, lo, hi) for p, (name, lo, hi) in zip(parts, _FIELDS, strict=True)]
        seconds, minutes, hours, days, months, weekdays = sets
        return cls(value, seconds, minutes, hours, days, months, weekdays,
                   day_restricted=parts[3] != "*", weekday_restricted=parts[5] != "*")

    def _day_matches(self, t: datetime) -> bool:
        weekday = (t.weekday() + 1) % 7  # Python: Monday=0; cron: Sunday=0
        in_days, in_weekdays = t.day in self.days, weekday in self.weekdays
        if self.day_restricted and self.weekday_restricted:
            return in_days or in_weekdays
        return in_days and in_weekdays

    def next_after(self, after: datetime) -> datetime:
        """The first matching time strictly after ``after`` (same tzinfo)."""
        t = after.replace(microsecond=0) + timedelta(seconds=1)
        limit = after + timedelta(days=366 * 5)
        while t <= limit:
            if t.month not in self.months:
                t = (t.replace(day=1, hour=0, minute=0, second=0) + timedelta(days=32)).replace(day=1)
                continue
            if not self._day_matches(t):
                t = t.replace(hour=0, minute=0, second=0) + timedelta(days=1)
                continue
            if t.hour not in self.hours:
                t = t.replace(minute=0, second=0) + timedelta(hours=1)
                continue
            if t.minute not in self.minutes:
                t = t.replace(second=0) + timedelta(minutes=1)
                continue
            if t.second not in self.seconds:
                t += timedelta(seconds=1)
                continue
            return t
        raise Invalid(f"NCRONTAB {self.expression!r} never fires")

    def period_hint(self, at: datetime) -> timedelta:
        """Gap between the next two firings after ``at``: how often the timer fires around then."""
        first = self.next_after(at)
        return self.next_after(first) - first
