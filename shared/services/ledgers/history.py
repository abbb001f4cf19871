"""The history table: observations (DESIGN 3.4) per dataset and stage, the baselines' memory.

Partition ``<dataset>|<stage>``; row ``<observation time>|<digest of blob name and ETag>``, so rows
sort by time (range queries by ISO time) and a retried invocation rewrites the same row.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from shared.core import history
from shared.ports import Entity, StateStore
from shared.services.ledgers.table import Table


@dataclass(frozen=True)
class HistoryRecord:
    dataset: str
    stage: str
    row: str
    observation: str               # the observation's JSON line, parsed by ``parsed``
    etag: str | None = field(default=None, compare=False)

    @classmethod
    def of(cls, observation: history.Observation, blob_name: str, blob_etag: str) -> HistoryRecord:
        digest = hashlib.sha256(f"{blob_name}|{blob_etag}".encode()).hexdigest()[:16]
        return cls(observation.dataset, observation.stage, f"{observation.ts.isoformat()}|{digest}",
                   observation.to_json())

    def parsed(self) -> history.Observation:
        """Raises ValueError for a row that does not hold a readable observation."""
        return history.parse_observation(self.observation)

    def to_row(self, table: str) -> Entity:
        return Entity(table, f"{self.dataset}|{self.stage}", self.row, {"observation": self.observation}, self.etag)

    @classmethod
    def from_row(cls, entity: Entity) -> HistoryRecord:
        dataset, _, stage = entity.partition.rpartition("|")
        return cls(dataset, stage, entity.row, str(entity.data.get("observation", "")), entity.etag)


class History(Table[HistoryRecord]):
    def __init__(self, state: StateStore, name: str) -> None:
        super().__init__(state, name, HistoryRecord)

    def between(self, dataset: str, stage: str, since: str, before: str) -> list[HistoryRecord]:
        """Rows of ``[since, before)`` (ISO times)."""
        return self.query(f"{dataset}|{stage}", since, before)
