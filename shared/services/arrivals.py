"""Arrival history per dataset and stage, and the staleness episode it feeds (one row per stage)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from shared.core import staleness
from shared.core.models import Alert
from shared.core.spec import StalenessSpec
from shared.errors import Conflict
from shared.ports import Entity
from shared.services.deps import Deps

MAX_ARRIVALS = 32   # arrivals kept per dataset and stage, enough to learn a cadence


def update(deps: Deps, dataset: str, stage: str, spec: StalenessSpec, now: datetime,
           new: Mapping[str, datetime] | None = None) -> list[Alert]:
    """Merge ``new`` arrivals (key → time), advance the staleness episode to ``now``; returns the alerts
    to raise. A concurrent writer wins the row; its twin alerts are deduplicated by fingerprint."""
    entity = deps.state.get(deps.tables.watch, dataset, stage)
    data = dict(entity.data) if entity else {}
    arrivals: dict[str, str] = json.loads(data.get("arrivals") or "{}")
    for key, at in (new or {}).items():
        arrivals.setdefault(key, at.isoformat())
    arrivals = dict(sorted(arrivals.items(), key=lambda kv: kv[1])[-MAX_ARRIVALS:])
    episode = staleness.EpisodeState(parse_time(data.get("last_arrival")), parse_time(data.get("late_since")))
    times = [t for v in arrivals.values() if (t := parse_time(v))]
    episode, alerts = staleness.step(dataset, stage, episode, times, spec, now)
    before = dict(data)
    data.update(arrivals=json.dumps(arrivals),
                last_arrival=episode.last_arrival.isoformat() if episode.last_arrival else "",
                late_since=episode.late_since.isoformat() if episode.late_since else "")
    if entity is not None and data == before:
        return alerts   # nothing new: an hourly tick on a quiet dataset writes nothing
    try:
        if entity is None:
            deps.state.insert(Entity(deps.tables.watch, dataset, stage, data))
        else:
            deps.state.replace(Entity(deps.tables.watch, dataset, stage, data, entity.etag))
    except Conflict:
        pass
    return alerts


def parse_time(value: object) -> datetime | None:
    """An ISO time stored in state, or None when absent or unreadable."""
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
