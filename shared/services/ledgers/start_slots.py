"""One start at a time per pipeline, for engines whose runs do not report their parameters (Fabric).

A lost start answer is reconciled by time there, which is exact only while one start of the pipeline
awaits its run id. The slot is one row of the batches table (partition ``~starts``, row: the pipeline),
taken by a conditional write before the start and given up once the run id is recorded. It has no
``first_claimed_at``, so views of the batches table (``autopilot status``) never list it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.ports import Entity
from shared.services.deps import row_key

PARTITION = "~starts"


@dataclass(frozen=True)
class StartSlot:
    pipeline: str                  # as row_key(engine:pipeline); use ``StartSlot.of``
    dataset: str                   # the batch holding the slot
    batch_key: str
    etag: str | None = field(default=None, compare=False)

    @classmethod
    def of(cls, engine: str, pipeline: str, dataset: str, batch_key: str) -> StartSlot:
        return cls(row_key(f"{engine}:{pipeline}"), dataset, batch_key)

    def to_row(self, table: str) -> Entity:
        return Entity(table, PARTITION, self.pipeline, {"dataset": self.dataset, "batch_key": self.batch_key},
                      self.etag)

    @classmethod
    def from_row(cls, entity: Entity) -> StartSlot:
        return cls(entity.row, str(entity.data.get("dataset", "")), str(entity.data.get("batch_key", "")),
                   entity.etag)
