"""Runs believed in flight, per pipeline (partition: the pipeline; row: the run id); a row is
deleted when its run finishes, so counting the partition is the concurrency check."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.ports import Entity


@dataclass(frozen=True)
class ActiveRun:
    pipeline: str
    run_id: str
    batch_id: str
    stuck_alerted: bool = False
    etag: str | None = field(default=None, compare=False)

    def to_row(self, table: str) -> Entity:
        data: dict[str, Any] = {"batch_id": self.batch_id}
        if self.stuck_alerted:
            data["stuck_alerted"] = True
        return Entity(table, self.pipeline, self.run_id, data, self.etag)

    @classmethod
    def from_row(cls, entity: Entity) -> ActiveRun:
        return cls(entity.partition, entity.row, str(entity.data.get("batch_id", "")),
                   bool(entity.data.get("stuck_alerted")), entity.etag)
