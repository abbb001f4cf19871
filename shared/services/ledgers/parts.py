"""Parts of batched outputs, kept in the history table beside the observations they fold into.

A part (partition ``<dataset>|part``, row ``<batch>|<digest of the part's name>``): its contract
status, worst finding, schema and observation, rewritten when the part is judged again. A batch
judged (partition ``<dataset>|batch``, row ``<batch>``): inserted once, the claim that makes a batch's
judgement, history row and alert happen once however often its marker or last part is redelivered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from shared.core import history
from shared.core.batch_judgement import Part
from shared.ports import Entity, StateStore
from shared.services.deps import row_key
from shared.services.ledgers.table import Table


@dataclass(frozen=True)
class PartRecord:
    dataset: str
    batch: str
    name: str
    status: str
    codes: tuple[str, ...] = ()
    message: str = ""
    schema: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    observation: str = ""           # the observation's JSON line ("" for an unreadable part)
    etag: str | None = field(default=None, compare=False)

    @staticmethod
    def row_of(batch: str, name: str) -> str:
        return f"{row_key(batch)}|{hashlib.sha256(name.encode()).hexdigest()[:16]}"

    def part(self) -> Part:
        obs = history.parse_observation(self.observation) if self.observation else None
        return Part(self.name, self.status, self.codes, self.message, self.schema, obs)

    def to_row(self, table: str) -> Entity:
        return Entity(table, f"{self.dataset}|part", self.row_of(self.batch, self.name), {
            "batch": self.batch, "name": self.name, "status": self.status, "codes": json.dumps(list(self.codes)),
            "message": self.message, "schema": json.dumps(dict(self.schema), sort_keys=True),
            "observation": self.observation}, self.etag)

    @classmethod
    def from_row(cls, entity: Entity) -> PartRecord:
        d = entity.data
        return cls(entity.partition.rpartition("|")[0], str(d.get("batch", "")), str(d.get("name", "")),
                   str(d.get("status", "pass")), tuple(json.loads(d.get("codes") or "[]")), str(d.get("message", "")),
                   MappingProxyType(json.loads(d.get("schema") or "{}")), str(d.get("observation", "")), entity.etag)


class Parts(Table[PartRecord]):
    def __init__(self, state: StateStore, name: str) -> None:
        super().__init__(state, name, PartRecord)

    def of_batch(self, dataset: str, batch: str) -> list[PartRecord]:
        return self.query(f"{dataset}|part", f"{row_key(batch)}|", f"{row_key(batch)}|~")


@dataclass(frozen=True)
class BatchJudged:
    dataset: str
    batch: str
    status: str
    codes: tuple[str, ...] = ()
    reason: str = ""
    alerted: bool = True                 # False from the claim until its alerts are on the queue
    etag: str | None = field(default=None, compare=False)

    def to_row(self, table: str) -> Entity:
        return Entity(table, f"{self.dataset}|batch", row_key(self.batch), {
            "batch": self.batch, "status": self.status, "codes": json.dumps(list(self.codes)),
            "reason": self.reason, "alerted": self.alerted}, self.etag)

    @classmethod
    def from_row(cls, entity: Entity) -> BatchJudged:
        d = entity.data
        return cls(entity.partition.rpartition("|")[0], str(d.get("batch", "")), str(d.get("status", "pass")),
                   tuple(json.loads(d.get("codes") or "[]")), str(d.get("reason", "")),
                   bool(d.get("alerted", True)), entity.etag)
