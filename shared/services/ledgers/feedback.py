"""The feedback table, per dataset (partition): labels people gave alerts (``label|<fingerprint>|<episode>``),
the feedback tokens already used (``token|<token id>``, inserted once: a replay conflicts) and the
snoozes that silence an alert kind (``snooze|<code>``, ``*`` for every code)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from shared.core.feedback import Snooze
from shared.ports import Entity, StateStore
from shared.services.deps import row_key
from shared.services.ledgers.table import Table, iso, parse_time, unkey

LABEL, TOKEN, SNOOZE = "label|", "token|", "snooze|"


@dataclass(frozen=True)
class Label:
    dataset: str
    fingerprint: str
    episode: str                   # the labelled alert's time (ISO 8601)
    code: str
    subject: str                   # for an output alert, the file: the observation the label applies to
    action: str                    # false_alarm | expected
    at: datetime | None
    by: str                        # card | cli
    etag: str | None = field(default=None, compare=False)

    def to_row(self, table: str) -> Entity:
        return Entity(table, self.dataset, f"{LABEL}{self.fingerprint}|{row_key(self.episode)}", {
            "code": self.code, "subject": self.subject, "action": self.action, "at": iso(self.at), "by": self.by},
            self.etag)

    @classmethod
    def from_row(cls, entity: Entity) -> Label:
        d = entity.data
        fingerprint, _, episode = entity.row.removeprefix(LABEL).partition("|")
        return cls(entity.partition, fingerprint, unkey(episode), str(d.get("code", "")), str(d.get("subject", "")),
                   str(d.get("action", "")), parse_time(d.get("at")), str(d.get("by", "")), entity.etag)


@dataclass(frozen=True)
class UsedToken:
    dataset: str
    token_id: str
    fingerprint: str
    action: str
    at: datetime | None
    etag: str | None = field(default=None, compare=False)

    def to_row(self, table: str) -> Entity:
        return Entity(table, self.dataset, f"{TOKEN}{self.token_id}", {
            "fingerprint": self.fingerprint, "action": self.action, "at": iso(self.at)}, self.etag)

    @classmethod
    def from_row(cls, entity: Entity) -> UsedToken:
        d = entity.data
        return cls(entity.partition, entity.row.removeprefix(TOKEN), str(d.get("fingerprint", "")),
                   str(d.get("action", "")), parse_time(d.get("at")), entity.etag)


@dataclass(frozen=True)
class SnoozeRecord:
    dataset: str
    code: str                      # an alert code, or "*"
    until: datetime
    at: datetime | None
    etag: str | None = field(default=None, compare=False)

    @property
    def snooze(self) -> Snooze:
        return Snooze(self.dataset, self.code, self.until)

    def to_row(self, table: str) -> Entity:
        return Entity(table, self.dataset, f"{SNOOZE}{row_key(self.code)}", {
            "until": iso(self.until), "at": iso(self.at)}, self.etag)

    @classmethod
    def from_row(cls, entity: Entity) -> SnoozeRecord:
        d = entity.data
        until = parse_time(d.get("until")) or _EPOCH
        return cls(entity.partition, unkey(entity.row.removeprefix(SNOOZE)), until, parse_time(d.get("at")),
                   entity.etag)


class Labels(Table[Label]):
    def __init__(self, state: StateStore, name: str) -> None:
        super().__init__(state, name, Label)

    def of(self, dataset: str) -> list[Label]:
        return self.query(dataset, LABEL, LABEL + "~")

    def by_subject(self, dataset: str) -> dict[str, str]:
        """Observation name → the latest label of its alerts (what the baselines take as input)."""
        latest: dict[str, Label] = {}
        for label in self.of(dataset):
            if label.subject and (label.subject not in latest or (label.at or _EPOCH) >= (latest[label.subject].at
                                                                                        or _EPOCH)):
                latest[label.subject] = label
        return {subject: label.action for subject, label in latest.items()}


class Snoozes(Table[SnoozeRecord]):
    def __init__(self, state: StateStore, name: str) -> None:
        super().__init__(state, name, SnoozeRecord)

    def of(self, dataset: str) -> list[Snooze]:
        return [r.snooze for r in self.query(dataset, SNOOZE, SNOOZE + "~")]


_EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")
