"""The batches table: one row per upstream batch, the claim that makes its run happen once.

Partition: the dataset; row: the batch key (``2026/11/21``), escaped for Table Storage.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from shared.core.claims import Claim
from shared.ports import Entity, StateStore
from shared.services.deps import row_key
from shared.services.ledgers.table import Table, iso, parse_time


@dataclass(frozen=True)
class BatchRecord:
    dataset: str
    row: str                       # row_key(batch key); use ``BatchRecord.of`` to build one from the key
    claim: Claim
    etag: str | None = field(default=None, compare=False)

    @classmethod
    def of(cls, dataset: str, batch_key: str, claim: Claim, etag: str | None = None) -> BatchRecord:
        return cls(dataset, row_key(batch_key), claim, etag)

    def to_row(self, table: str) -> Entity:
        c = self.claim
        data: dict[str, Any] = {
            "status": c.status, "token": c.token, "claimed_at": iso(c.claimed_at),
            "first_claimed_at": iso(c.first_claimed_at), "attempt": c.attempt, "batch_id": c.batch_id,
            "files": json.dumps(list(c.files))}
        # Written only once they happen, as the rows always had them.
        if c.error:
            data["error"] = c.error
        if c.run_id:
            data["run_id"] = c.run_id
        if c.started_at is not None:
            data["started_at"] = c.started_at.isoformat()
        if c.late_alerted:
            data["late_alerted"] = True
        return Entity(table, self.dataset, self.row, data, self.etag)

    @classmethod
    def from_row(cls, entity: Entity) -> BatchRecord:
        d = entity.data
        claim = Claim(str(d.get("status", "")), str(d.get("token", "")), parse_time(d.get("claimed_at")),
                      parse_time(d.get("first_claimed_at")), int(d.get("attempt", 0)), str(d.get("batch_id", "")),
                      tuple(json.loads(d.get("files") or "[]")), str(d.get("run_id", "")),
                      parse_time(d.get("started_at")), str(d.get("error", "")), bool(d.get("late_alerted")))
        return cls(entity.partition, entity.row, claim, entity.etag)


class Batches(Table[BatchRecord]):
    def __init__(self, state: StateStore, name: str) -> None:
        super().__init__(state, name, BatchRecord)

    def find(self, dataset: str, batch_key: str) -> BatchRecord | None:
        return self.get(dataset, row_key(batch_key))
