"""The run ledger: one row per pipeline run this app started (partition: the run id; row: "")."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from shared.ports import Entity, StateStore
from shared.services.ledgers.table import Table, iso, parse_time


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    dataset: str
    pipeline: str
    batch_id: str
    batch_key: str
    started_at: datetime | None
    status: str                    # RunStatus value, as ADF spells it
    failure_reported: bool = False # run_failed was raised for it (by the webhook or the follow-up timer)
    started_by_us: bool = True     # False: a run of the factory's own triggers, recorded to report it once
    etag: str | None = field(default=None, compare=False)

    def with_status(self, status: str) -> RunRecord:
        return replace(self, status=status)

    def to_row(self, table: str) -> Entity:
        data: dict[str, Any] = {"dataset": self.dataset, "pipeline": self.pipeline, "batch_id": self.batch_id,
                "batch_key": self.batch_key, "started_at": iso(self.started_at), "status": self.status}
        if self.failure_reported:
            data["failure_reported"] = True
        if not self.started_by_us:
            data["started_by_us"] = False
        return Entity(table, self.run_id, "", data, self.etag)

    @classmethod
    def from_row(cls, entity: Entity) -> RunRecord:
        d = entity.data
        return cls(entity.partition, str(d.get("dataset", "")), str(d.get("pipeline", "")),
                   str(d.get("batch_id", "")), str(d.get("batch_key", "")), parse_time(d.get("started_at")),
                   str(d.get("status", "")), bool(d.get("failure_reported")), d.get("started_by_us") is not False,
                   entity.etag)


class Runs(Table[RunRecord]):
    def __init__(self, state: StateStore, name: str) -> None:
        super().__init__(state, name, RunRecord)

    def find(self, run_id: str) -> RunRecord | None:
        return self.get(run_id, "")
