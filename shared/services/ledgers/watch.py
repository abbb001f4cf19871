"""The watch table: per dataset and stage, the arrivals and the staleness episode they feed
(partition: the dataset; row: ``upstream`` or ``output``); and the watcher's last tick
(partition ``_watcher``, row ``tick``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from shared.ports import Entity
from shared.services.ledgers.table import iso, parse_time

WATCHER = "_watcher"
FAILED_RUNS = "_failed_runs"


@dataclass(frozen=True)
class WatcherTick:
    at: datetime | None
    etag: str | None = field(default=None, compare=False)

    def to_row(self, table: str) -> Entity:
        return Entity(table, WATCHER, "tick", {"at": iso(self.at)}, self.etag)

    @classmethod
    def from_row(cls, entity: Entity) -> WatcherTick:
        return cls(parse_time(entity.data.get("at")), entity.etag)


@dataclass(frozen=True)
class FailedRunsLook:
    """How far the follow-up timer has looked for failed runs of one pipeline."""

    pipeline: str
    until: datetime | None
    etag: str | None = field(default=None, compare=False)

    def to_row(self, table: str) -> Entity:
        return Entity(table, FAILED_RUNS, self.pipeline, {"until": iso(self.until)}, self.etag)

    @classmethod
    def from_row(cls, entity: Entity) -> FailedRunsLook:
        return cls(entity.row, parse_time(entity.data.get("until")), entity.etag)


@dataclass(frozen=True)
class Arrivals:
    dataset: str
    stage: str
    arrivals: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))  # key → ISO time
    last_arrival: datetime | None = None
    late_since: datetime | None = None
    etag: str | None = field(default=None, compare=False)
    first_arrival: datetime | None = None     # the first arrival ever seen (``arrivals`` keeps the recent ones)

    def times(self) -> list[datetime]:
        return [t for v in self.arrivals.values() if (t := parse_time(v))]

    def to_row(self, table: str) -> Entity:
        return Entity(table, self.dataset, self.stage, {
            "arrivals": json.dumps(dict(self.arrivals)), "last_arrival": iso(self.last_arrival),
            "late_since": iso(self.late_since), "first_arrival": iso(self.first_arrival)}, self.etag)

    @classmethod
    def from_row(cls, entity: Entity) -> Arrivals:
        d = entity.data
        return cls(entity.partition, entity.row, MappingProxyType(json.loads(d.get("arrivals") or "{}")),
                   parse_time(d.get("last_arrival")), parse_time(d.get("late_since")), entity.etag,
                   parse_time(d.get("first_arrival")))
