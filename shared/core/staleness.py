"""Staleness: has a stage (upstream or output) gone quiet for longer than its cadence?

One alert per episode: ``<stage>_late`` when the deadline passes, ``<stage>_recovered`` when data
arrives again. The expected cadence is configured, or learned from arrival history. A learned cadence
knows the hour of day: the gaps that followed earlier deliveries at about the same hour say how long
a quiet spell is normal now (an hourly dataset's night without files, a producer's bursty pauses), so
only a gap longer than history shows at that hour, times ``late_factor``, is late.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from shared.core.models import Alert, Severity
from shared.core.spec import StalenessSpec

BURST = timedelta(minutes=30)   # arrivals closer than this are one delivery (several files of a batch)
HISTORY = 30                    # gaps used to learn the median cadence
SLOT_GAPS = 28                  # gaps kept per hour of day (four weeks of a daily dataset)
SLOT_MIN = 3                    # gaps the hour and its neighbours need before they speak for it
TAIL = 5.0                      # mean excesses beyond the typical gap that are still a normal pause
                                # (for random pauses e^-5 of them are longer, before late_factor)
LEARN_SPAN = timedelta(days=7)  # a learned cadence is trusted once arrivals span a week
KEEP = 24 * SLOT_GAPS           # arrivals a caller should keep: a day's hours × the gaps kept per hour


@dataclass(frozen=True)
class Cadence:
    expected: timedelta | None
    learned: bool
    arrivals: int               # distinct deliveries seen (after merging bursts)
    needed: int                 # deliveries needed before a learned cadence is trusted
    allowance: timedelta | None = None   # the gap normal after the last delivery (≥ expected)

    def describe(self) -> str:
        if self.expected is None:
            return f"insufficient history ({self.arrivals}/{self.needed})"
        how = "learned" if self.learned else "configured"
        return f"{how} cadence {_human(self.expected)}"


@dataclass(frozen=True)
class EpisodeState:
    """What the detector remembers between ticks for one dataset and stage."""

    last_arrival: datetime | None = None
    late_since: datetime | None = None   # set while a late alert is open


def deliveries(arrivals: Sequence[datetime]) -> list[datetime]:
    """Sorted arrival times with bursts merged into their first arrival."""
    out: list[datetime] = []
    for t in sorted(arrivals):
        if not out or t - out[-1] >= BURST:
            out.append(t)
    return out


class Arrivals:
    """A stage's deliveries, learned one at a time: the recent gaps, and the gaps by hour of day.

    A gap long enough to have been late is kept out of its hour's gaps (an outage must not teach that
    outages are normal) unless a late gap was already seen at that hour: a recurring quiet spell is a
    pattern, learned on its second appearance.
    """

    __slots__ = ("_gaps", "_late", "_slots", "count", "first", "last", "spec", "start")

    def __init__(self, spec: StalenessSpec) -> None:
        self.spec = spec
        self.count = 0                                   # deliveries (bursts merged)
        self.start: datetime | None = None               # the current delivery's first arrival
        self.last: datetime | None = None                # the newest arrival
        self.first: datetime | None = None               # the first arrival learned
        self._gaps: deque[float] = deque(maxlen=HISTORY)
        self._slots = [deque[float](maxlen=SLOT_GAPS) for _ in range(24)]
        self._late = [False] * 24                        # a late gap started at this hour before

    @classmethod
    def of(cls, arrivals: Sequence[datetime], spec: StalenessSpec, *, first: datetime | None = None) -> Arrivals:
        """The model of ``arrivals``; ``first``: when arrivals began, if earlier than the oldest one kept
        (a caller that keeps only the recent ones), for the week a learned cadence waits for."""
        model = cls(spec)
        for t in sorted(arrivals):
            model.add(t)
        if first is not None and model.first is not None and first < model.first:
            model.first = first
        return model

    def add(self, t: datetime) -> None:
        """Learn one arrival (in time order; an older one than the newest only counts as seen)."""
        if self.last is not None and t <= self.last:
            return
        self.last = t
        if self.first is None:
            self.first = t
        if self.start is not None and t - self.start < BURST:
            return
        if self.start is not None:
            gap = (t - self.start).total_seconds()
            hour = self.start.hour
            allowance = self._allowance(hour)
            late = allowance is not None and gap > allowance * self.spec.late_factor
            if not late or self._late[hour]:
                self._slots[hour].append(gap)
            if late:
                self._late[hour] = True
            self._gaps.append(gap)
        self.start = t
        self.count += 1

    def _allowance(self, hour: int) -> float | None:
        if self.count < self.spec.learn_after or not self._gaps or self._young():
            return None
        median = statistics.median(self._gaps)
        near = [g for h in (hour - 1, hour, hour + 1) for g in self._slots[h % 24]]
        if len(near) < SLOT_MIN:
            near = list(self._gaps)      # few gaps yet at this hour: every recent gap speaks for it
        # The longest gap seen, or the tail the gaps' spread points to, whichever is longer: a producer
        # that pauses at random (bursts, then quiet hours) shows its long pauses rarely, and a few
        # weeks of history have not seen the longest one yet; a regular one has almost no spread.
        typical = statistics.median(near)
        longer = [g - typical for g in near if g > typical]
        excess = sum(longer) / len(longer) if longer else 0.0    # the mean excess of the longer gaps
        return max(median, *near, typical + TAIL * excess)

    def _young(self) -> bool:
        """Arrivals that span less than a week say nothing yet of nights, weekends or a producer's pauses
        (five hourly files would call the first night late)."""
        return self.first is None or self.last is None or self.last - self.first < LEARN_SPAN

    def cadence(self) -> Cadence:
        spec = self.spec
        if spec.cadence is not None:
            return Cadence(spec.cadence, False, self.count, spec.learn_after, spec.cadence)
        allowance = self._allowance(self.start.hour) if self.start is not None else None
        if allowance is None:
            return Cadence(None, True, self.count, spec.learn_after)
        return Cadence(timedelta(seconds=statistics.median(self._gaps)), True, self.count, spec.learn_after,
                       timedelta(seconds=allowance))


def cadence(arrivals: Sequence[datetime] | Arrivals, spec: StalenessSpec) -> Cadence:
    model = arrivals if isinstance(arrivals, Arrivals) else Arrivals.of(arrivals, spec)
    return model.cadence()


def deadline(last_arrival: datetime, expected: Cadence, spec: StalenessSpec) -> datetime | None:
    allowance = expected.allowance or expected.expected
    if allowance is None:
        return None
    return last_arrival + allowance * spec.late_factor


def step(dataset: str, stage: str, state: EpisodeState, arrivals: Sequence[datetime] | Arrivals,
         spec: StalenessSpec, now: datetime) -> tuple[EpisodeState, list[Alert]]:
    """Advance the episode to ``now``. ``arrivals`` is the recent arrival history incl. new ones (up to
    ``KEEP`` of them), or the ``Arrivals`` a replay keeps up to date."""
    if not spec.enabled:
        return state, []
    newest = arrivals.last if isinstance(arrivals, Arrivals) else max(arrivals, default=None)
    last = newest or state.last_arrival
    alerts: list[Alert] = []
    expected = cadence(arrivals, spec)
    topic = f"{stage}_staleness"
    previous = state.last_arrival
    if state.late_since is not None and last is not None and (previous is None or last > previous):
        alerts.append(Alert(
            dataset, f"{stage}_recovered", Severity.INFO,
            f"{_stage(stage)} data for {dataset} arrived again at {last:%Y-%m-%d %H:%M} UTC after being "
            f"late since {state.late_since:%Y-%m-%d %H:%M} UTC.", now, topic=topic, resolves=True,
            facts={"stage": stage, "arrived": last.isoformat(), "late_since": state.late_since.isoformat()}))
        return EpisodeState(last, None), alerts
    state = replace(state, last_arrival=last)
    if state.late_since is None and last is not None:
        due = deadline(last, expected, spec)
        if due is not None and now > due:
            alerts.append(Alert(
                dataset, f"{stage}_late", Severity.WARN,
                f"No new {stage} data for {dataset} since {last:%Y-%m-%d %H:%M} UTC "
                f"({_human(now - last)} ago); expected every {_human(expected.expected)} "
                f"({expected.describe()}{_quiet(expected)}).", now, topic=topic,
                facts={"stage": stage, "last_arrival": last.isoformat(), "due": due.isoformat(),
                       "cadence": expected.describe()}))
            return replace(state, late_since=due), alerts
    return state, alerts


def _quiet(expected: Cadence) -> str:
    if expected.allowance is None or expected.expected is None or expected.allowance <= expected.expected:
        return ""
    return f"; gaps of up to {_human(expected.allowance)} are usual after a delivery at this hour"


def _stage(stage: str) -> str:
    return stage[:1].upper() + stage[1:]


def _human(delta: timedelta | None) -> str:
    if delta is None:
        return "unknown"
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    return "".join(parts) or f"{seconds}s"
