"""The digest table: alerts parked for the channel's next digest (partition: the channel; row
``<parked at>|<fingerprint>``, so a digest reads them in order)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from shared.core.models import Alert
from shared.ports import Entity


@dataclass(frozen=True)
class Parked:
    channel: str
    row: str
    alert: str                     # the alert's JSON (Alert.to_json), parsed by ``parsed``
    to: tuple[str, ...] = ()       # email recipients
    digest: str = ""               # the digest that claimed it before sending ("" = waiting for one)
    etag: str | None = field(default=None, compare=False)

    @classmethod
    def of(cls, channel: str, alert: Alert, recipients: tuple[str, ...], at: datetime) -> Parked:
        return cls(channel, f"{at.isoformat()}|{alert.fingerprint}", alert.to_json(), recipients)

    def parsed(self) -> Alert:
        return Alert.from_json(self.alert)

    def to_row(self, table: str) -> Entity:
        data = {"alert": self.alert, "to": json.dumps(list(self.to))}
        if self.digest:
            data["digest"] = self.digest
        return Entity(table, self.channel, self.row, data, self.etag)

    @classmethod
    def from_row(cls, entity: Entity) -> Parked:
        return cls(entity.partition, entity.row, str(entity.data["alert"]),
                   tuple(json.loads(str(entity.data.get("to", "[]")))), str(entity.data.get("digest") or ""),
                   entity.etag)
