"""The refreshes table, per Power BI dataset (partition ``<workspace>|<dataset>``): one row per
requested refresh (``<yyyy-mm-dd>|<request id>``, so a day's rows are the daily budget) and at most
one ``pending`` row, a refresh owed but not yet requested."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from shared.core.spec import PowerBIDataset
from shared.ports import Entity, StateStore
from shared.services.ledgers.table import Table, iso, parse_time

PENDING = "pending"


def partition(target: PowerBIDataset) -> str:
    return f"{target.workspace}|{target.dataset}"


@dataclass(frozen=True)
class RequestedRefresh:
    target: str                    # ``<workspace>|<dataset>``
    day: str                       # yyyy-mm-dd (UTC) of the request
    request_id: str
    status: str                    # requested → Completed / Failed / Cancelled / Disabled
    run_id: str = ""
    dataset_name: str = ""         # the app's dataset whose run asked for it
    requested_at: datetime | None = None
    error: str | None = None       # set once the outcome is known
    etag: str | None = field(default=None, compare=False)

    def ended(self, status: str, error: str) -> RequestedRefresh:
        return replace(self, status=status, error=error[:500])

    def to_row(self, table: str) -> Entity:
        data: dict[str, Any] = {"status": self.status, "run_id": self.run_id, "dataset_name": self.dataset_name,
                                "requested_at": iso(self.requested_at)}
        if self.error is not None:
            data["error"] = self.error
        return Entity(table, self.target, f"{self.day}|{self.request_id}", data, self.etag)

    @classmethod
    def from_row(cls, entity: Entity) -> RequestedRefresh:
        d = entity.data
        day, _, request_id = entity.row.partition("|")
        error = d.get("error")
        return cls(entity.partition, day, request_id, str(d.get("status", "")), str(d.get("run_id", "")),
                   str(d.get("dataset_name", "")), parse_time(d.get("requested_at")),
                   None if error is None else str(error), entity.etag)


@dataclass(frozen=True)
class PendingRefresh:
    target: str
    run_id: str
    dataset_name: str
    not_before: datetime | None
    reason: str
    attempts: int = 0              # requests that found no token, in a row (written only when > 0)
    etag: str | None = field(default=None, compare=False)

    def to_row(self, table: str) -> Entity:
        data: dict[str, Any] = {"run_id": self.run_id, "dataset_name": self.dataset_name,
                                "not_before": iso(self.not_before), "reason": self.reason}
        if self.attempts:
            data["attempts"] = self.attempts
        return Entity(table, self.target, PENDING, data, self.etag)

    @classmethod
    def from_row(cls, entity: Entity) -> PendingRefresh:
        d = entity.data
        return cls(entity.partition, str(d.get("run_id", "")), str(d.get("dataset_name", "")),
                   parse_time(d.get("not_before")), str(d.get("reason", "")), int(d.get("attempts") or 0),
                   entity.etag)


class Requested(Table[RequestedRefresh]):
    def __init__(self, state: StateStore, name: str) -> None:
        super().__init__(state, name, RequestedRefresh)

    def on_days(self, target: PowerBIDataset, first_day: str, until: str) -> list[RequestedRefresh]:
        """Requested refreshes of days in ``[first_day, until)`` (the pending row is left out)."""
        return [r for r in self.query(partition(target), first_day, until) if r.request_id]
