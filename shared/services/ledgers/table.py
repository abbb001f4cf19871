"""A typed view of one state table: records in, records out, the StateStore's semantics kept.

Every record class of this package follows one shape: a frozen dataclass whose fields are the row's
properties, ``to_row(table)`` builds the stored entity (its keys from the record's own fields) and
``from_row(entity)`` reads one back, tolerating rows older code wrote with fewer properties.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, Self
from urllib.parse import unquote

from shared.ports import Entity, StateStore


class Record(Protocol):
    @property
    def etag(self) -> str | None:
        """The ETag the row had when read (None for a record not read from the store)."""
        ...

    def to_row(self, table: str) -> Entity:
        ...

    @classmethod
    def from_row(cls, entity: Entity) -> Self:
        ...


class Table[R: Record]:
    """One table of records. ``replace`` and ``delete`` are conditional on the record's ETag."""

    def __init__(self, state: StateStore, name: str, record: type[R]) -> None:
        self.state, self.name, self._record = state, name, record

    def get(self, partition: str, row: str) -> R | None:
        entity = self.state.get(self.name, partition, row)
        return None if entity is None else self._record.from_row(entity)

    def query(self, partition: str, row_from: str = "", row_to: str = "") -> list[R]:
        return [self._record.from_row(e) for e in self.state.query(self.name, partition, row_from, row_to)]

    def scan(self, row_from: str = "", row_to: str = "", *, since: tuple[str, str] | None = None) -> list[R]:
        """Records of every partition (one query of the whole table); see ``StateStore.scan``."""
        return [self._record.from_row(e) for e in self.state.scan(self.name, row_from, row_to, since=since)]

    def insert(self, record: R) -> R:
        """Raises Conflict when the row exists."""
        return self._record.from_row(self.state.insert(record.to_row(self.name)))

    def replace(self, record: R) -> R:
        """Raises Conflict when the row changed since ``record`` was read, NotFound when it is gone."""
        return self._record.from_row(self.state.replace(record.to_row(self.name)))

    def upsert(self, record: R) -> R:
        return self._record.from_row(self.state.upsert(record.to_row(self.name)))

    def delete(self, record: R) -> None:
        self.state.delete(record.to_row(self.name))


def parse_time(value: object) -> datetime | None:
    """An ISO time stored in a row, or None when absent, empty or unreadable."""
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def iso(value: datetime | None) -> str:
    """How rows store a time: ISO 8601, or "" for none."""
    return value.isoformat() if value is not None else ""


def unkey(row: str) -> str:
    """The text a ``row_key`` was made from (``$`` stands for ``%`` there)."""
    return unquote(row.replace("$", "%"))
