"""The verdicts table: per dataset and batch, each output file's status and the worst of them, which
the webhook's circuit breaker reads. Partition: the dataset; row: the batch key, escaped."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from shared.ports import Entity, StateStore
from shared.services.deps import row_key
from shared.services.ledgers.table import Table, unkey


@dataclass(frozen=True)
class Verdict:
    dataset: str
    batch: str
    files: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))   # blob name → status
    status: str = "pass"
    etag: str | None = field(default=None, compare=False)

    def to_row(self, table: str) -> Entity:
        return Entity(table, self.dataset, row_key(self.batch), {
            "batch": self.batch, "files": json.dumps(dict(self.files), sort_keys=True), "status": self.status},
            self.etag)

    @classmethod
    def from_row(cls, entity: Entity) -> Verdict:
        d = entity.data
        files = MappingProxyType(json.loads(d.get("files", "{}")))
        return cls(entity.partition, str(d.get("batch") or unkey(entity.row)), files, str(d.get("status", "pass")),
                   entity.etag)


class Verdicts(Table[Verdict]):
    def __init__(self, state: StateStore, name: str) -> None:
        super().__init__(state, name, Verdict)

    def find(self, dataset: str, batch: str) -> Verdict | None:
        return self.get(dataset, row_key(batch))
