"""The channels table: per channel (partition; row ``health``), consecutive failures and recent sends,
which decide digests, fallback and bypass."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from shared.core.dispatch import ChannelHealth
from shared.ports import Entity
from shared.services.ledgers.table import iso, parse_time

HEALTH = "health"


@dataclass(frozen=True)
class ChannelRecord:
    channel: str
    health: ChannelHealth
    etag: str | None = field(default=None, compare=False)

    def to_row(self, table: str) -> Entity:
        h = self.health
        return Entity(table, self.channel, HEALTH, {
            "failures": h.consecutive_failures, "recent": json.dumps([t.isoformat() for t in h.recent_sends]),
            "last_failure": iso(h.last_failure), "failing_since": iso(h.failing_since)}, self.etag)

    @classmethod
    def from_row(cls, entity: Entity) -> ChannelRecord:
        d = entity.data
        recent = tuple(t for v in json.loads(d.get("recent", "[]")) if (t := parse_time(v)))
        health = ChannelHealth(int(d.get("failures", 0)), recent, parse_time(d.get("last_failure")),
                               parse_time(d.get("failing_since")))
        return cls(entity.partition, health, entity.etag)
