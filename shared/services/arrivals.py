"""Arrival history per dataset and stage, and the staleness episode it feeds (one row per stage)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from types import MappingProxyType

from shared.core import staleness
from shared.core.models import Alert
from shared.core.spec import StalenessSpec
from shared.errors import Conflict
from shared.services.deps import Deps
from shared.services.ledgers import Ledgers
from shared.services.ledgers.table import parse_time
from shared.services.ledgers.watch import Arrivals

MAX_ARRIVALS = 32   # arrivals kept per dataset and stage, enough to learn a cadence


def update(deps: Deps, dataset: str, stage: str, spec: StalenessSpec, now: datetime,
           new: Mapping[str, datetime] | None = None) -> list[Alert]:
    """Merge ``new`` arrivals (key → time), advance the staleness episode to ``now``; returns the alerts
    to raise. A concurrent writer wins the row; its twin alerts are deduplicated by fingerprint."""
    table = Ledgers.of(deps).arrivals
    before = table.get(dataset, stage)
    seen = before or Arrivals(dataset, stage)
    arrivals = dict(seen.arrivals)
    for key, at in (new or {}).items():
        arrivals.setdefault(key, at.isoformat())
    ordered = sorted(arrivals.items(), key=lambda kv: kv[1])
    # Only the recent arrivals are kept; when arrivals began is kept beside them (a learned cadence is
    # trusted once they span a week). A row written before that was kept starts from its oldest arrival.
    first = min(filter(None, (seen.first_arrival, *(parse_time(v) for _, v in ordered[:1]))), default=None)
    merged = replace(seen, arrivals=MappingProxyType(dict(ordered[-MAX_ARRIVALS:])), first_arrival=first)
    model = staleness.Arrivals.of(merged.times(), spec, first=first)
    episode, alerts = staleness.step(dataset, stage, staleness.EpisodeState(seen.last_arrival, seen.late_since),
                                     model, spec, now)
    after = replace(merged, last_arrival=episode.last_arrival, late_since=episode.late_since)
    if before is not None and after == before and list(after.arrivals) == list(before.arrivals):
        return alerts   # nothing new: an hourly tick on a quiet dataset writes nothing
    try:
        if before is None:
            table.insert(after)
        else:
            table.replace(after)
    except Conflict:
        pass
    return alerts
