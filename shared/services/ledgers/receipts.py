"""The receipts table: output files already judged, by (blob, ETag), so a redelivered blob trigger
returns the stored verdict. Partition: the dataset; row: the blob name, escaped."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from shared.ports import Entity, StateStore
from shared.services.deps import row_key
from shared.services.ledgers.table import Table, iso, parse_time, unkey


@dataclass(frozen=True)
class Receipt:
    dataset: str
    blob: str
    blob_etag: str
    status: str                    # pass | warn | fail
    report: str                    # the report blob's name
    at: datetime | None
    etag: str | None = field(default=None, compare=False)

    def to_row(self, table: str) -> Entity:
        return Entity(table, self.dataset, row_key(self.blob), {
            "blob_etag": self.blob_etag, "status": self.status, "report": self.report, "at": iso(self.at)},
            self.etag)

    @classmethod
    def from_row(cls, entity: Entity) -> Receipt:
        d = entity.data
        return cls(entity.partition, unkey(entity.row), str(d.get("blob_etag", "")),
                   str(d.get("status", "pass")), str(d.get("report", "")), parse_time(d.get("at")), entity.etag)


class Receipts(Table[Receipt]):
    def __init__(self, state: StateStore, name: str) -> None:
        super().__init__(state, name, Receipt)

    def find(self, dataset: str, blob: str) -> Receipt | None:
        return self.get(dataset, row_key(blob))
