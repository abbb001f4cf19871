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
    batch_status: str = ""      # the batch judged as one (batched datasets), "" until then
    batch_reason: str = ""      # what that judgement found wrong
    etag: str | None = field(default=None, compare=False)

    def to_row(self, table: str) -> Entity:
        data = {"batch": self.batch, "files": json.dumps(dict(self.files), sort_keys=True), "status": self.status}
        if self.batch_status:   # written only once made, as rows of unbatched datasets never have them
            data |= {"batch_status": self.batch_status, "batch_reason": self.batch_reason}
        return Entity(table, self.dataset, row_key(self.batch), data, self.etag)

    @classmethod
    def from_row(cls, entity: Entity) -> Verdict:
        d = entity.data
        files = MappingProxyType(json.loads(d.get("files", "{}")))
        return cls(entity.partition, str(d.get("batch") or unkey(entity.row)), files, str(d.get("status", "pass")),
                   str(d.get("batch_status", "")), str(d.get("batch_reason", "")), entity.etag)


class Verdicts(Table[Verdict]):
    def __init__(self, state: StateStore, name: str) -> None:
        super().__init__(state, name, Verdict)

    def find(self, dataset: str, batch: str) -> Verdict | None:
        return self.get(dataset, row_key(batch))
