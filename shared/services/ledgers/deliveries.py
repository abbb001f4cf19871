"""The deliveries table, per alert fingerprint (partition): the episode row (``episode``: open,
last sent, suppressed repeats) and one row per delivery attempt of one alert on one channel
(``<alert time>|<code>|<channel>``, so a retry finds its earlier attempts with one range query)."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.core.dispatch import EpisodeLedger
from shared.ports import Entity
from shared.services.ledgers.table import iso, parse_time

EPISODE = "episode"


@dataclass(frozen=True)
class EpisodeRecord:
    fingerprint: str
    ledger: EpisodeLedger
    dataset: str
    code: str
    etag: str | None = field(default=None, compare=False)
    subject: str = ""              # what the alert is about (an output alert: the file), for labels

    def to_row(self, table: str) -> Entity:
        data: dict[str, object] = {
            "open": self.ledger.open, "last_sent": iso(self.ledger.last_sent), "suppressed": self.ledger.suppressed,
            "dataset": self.dataset, "code": self.code}
        if self.subject:    # written only when known: rows from before keep their exact properties
            data["subject"] = self.subject
        return Entity(table, self.fingerprint, EPISODE, data, self.etag)

    @classmethod
    def from_row(cls, entity: Entity) -> EpisodeRecord:
        d = entity.data
        ledger = EpisodeLedger(bool(d.get("open")), parse_time(d.get("last_sent")), int(d.get("suppressed", 0)))
        return cls(entity.partition, ledger, str(d.get("dataset", "")), str(d.get("code", "")), entity.etag,
                   str(d.get("subject", "")))


@dataclass(frozen=True)
class Attempt:
    fingerprint: str
    instance: str                  # ``<alert time>|<code>``: one alert among the fingerprint's
    channel: str                   # teams | email | "-" (suppressed before any channel)
    status: str                    # sent | failed | digested | suppressed
    dataset: str
    code: str
    detail: str = ""
    etag: str | None = field(default=None, compare=False)

    def to_row(self, table: str) -> Entity:
        return Entity(table, self.fingerprint, f"{self.instance}|{self.channel}", {
            "status": self.status, "dataset": self.dataset, "code": self.code, "detail": self.detail[:500]},
            self.etag)

    @classmethod
    def from_row(cls, entity: Entity) -> Attempt:
        d = entity.data
        instance, _, channel = entity.row.rpartition("|")
        return cls(entity.partition, instance, channel, str(d.get("status", "")), str(d.get("dataset", "")),
                   str(d.get("code", "")), str(d.get("detail", "")), entity.etag)
