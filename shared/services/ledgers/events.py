"""The events table: one row per pipeline run the webhook heard of (partition: the run id; row: "").

While it is being decided (``accepted``) the row holds the event and which worker claim is current
(``processing_since``, "" when free); once ``decided`` it holds the reply every Location answers with.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from shared.ports import Entity, StateStore
from shared.services.ledgers.table import Table, iso, parse_time

ACCEPTED, DECIDED = "accepted", "decided"


@dataclass(frozen=True)
class EventRecord:
    run_id: str
    state: str                     # accepted | decided
    at: datetime | None            # accepted: when the event was queued; decided: when it was decided
    event: str                     # the event's JSON as accepted
    processing_since: datetime | None = None   # accepted only: a worker's claim
    reply: str = ""                # decided only: the reply body's JSON
    etag: str | None = field(default=None, compare=False)

    @property
    def decided(self) -> bool:
        return self.state == DECIDED

    def claimed(self, now: datetime | None) -> EventRecord:
        """Claimed by a worker at ``now``, or freed (None)."""
        return replace(self, processing_since=now)

    def decision(self, reply: str, now: datetime) -> EventRecord:
        return replace(self, state=DECIDED, at=now, reply=reply, processing_since=None)

    def to_row(self, table: str) -> Entity:
        data: dict[str, Any] = {"state": self.state, "at": iso(self.at), "event": self.event}
        if self.state == DECIDED:
            data["reply"] = self.reply
        else:
            data["processing_since"] = iso(self.processing_since)
        return Entity(table, self.run_id, "", data, self.etag)

    @classmethod
    def from_row(cls, entity: Entity) -> EventRecord:
        d = entity.data
        return cls(entity.partition, str(d.get("state", "")), parse_time(d.get("at")), str(d.get("event", "")),
                   parse_time(d.get("processing_since")), str(d.get("reply", "")), entity.etag)


class Events(Table[EventRecord]):
    def __init__(self, state: StateStore, name: str) -> None:
        super().__init__(state, name, EventRecord)

    def find(self, run_id: str) -> EventRecord | None:
        return self.get(run_id, "")
