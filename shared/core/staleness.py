"""Staleness: has a stage (upstream or output) gone quiet for longer than its cadence?

One alert per episode: ``<stage>_late`` when the deadline passes, ``<stage>_recovered`` when data
arrives again. The expected cadence is configured, or learned from arrival history.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from shared.core.models import Alert, Severity
from shared.core.spec import StalenessSpec

BURST = timedelta(minutes=30)   # arrivals closer than this are one delivery (several files of a batch)
HISTORY = 30                    # gaps used to learn a cadence


@dataclass(frozen=True)
class Cadence:
    expected: timedelta | None
    learned: bool
    arrivals: int               # distinct deliveries seen (after merging bursts)
    needed: int                 # deliveries needed before a learned cadence is trusted

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


def cadence(arrivals: Sequence[datetime], spec: StalenessSpec) -> Cadence:
    merged = deliveries(arrivals)[-(HISTORY + 1):]
    if spec.cadence is not None:
        return Cadence(spec.cadence, False, len(merged), spec.learn_after)
    if len(merged) < spec.learn_after:
        return Cadence(None, True, len(merged), spec.learn_after)
    gaps = [b - a for a, b in itertools.pairwise(merged)]
    return Cadence(timedelta(seconds=statistics.median(g.total_seconds() for g in gaps)), True,
                   len(merged), spec.learn_after)


def deadline(last_arrival: datetime, expected: Cadence, spec: StalenessSpec) -> datetime | None:
    if expected.expected is None:
        return None
    return last_arrival + expected.expected * spec.late_factor


def step(dataset: str, stage: str, state: EpisodeState, arrivals: Sequence[datetime],
         spec: StalenessSpec, now: datetime) -> tuple[EpisodeState, list[Alert]]:
    """Advance the episode to ``now``. ``arrivals`` is the recent arrival history incl. new ones."""
    if not spec.enabled:
        return state, []
    last = max(arrivals) if arrivals else state.last_arrival
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
                f"({expected.describe()}).", now, topic=topic,
                facts={"stage": stage, "last_arrival": last.isoformat(), "due": due.isoformat(),
                       "cadence": expected.describe()}))
            return replace(state, late_since=due), alerts
    return state, alerts


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
