"""The work item of an alert episode, in the deliveries table: per fingerprint (partition), row
``workitem``: the Azure DevOps organization, project and work item id, the episode's tag, the alert
that opened the episode and when, and whether the episode is still open. Written (conditionally)
before the item is created, with id 0 and the tag that will find it, so a retry after a crash searches
by the tag instead of creating a second item, and a second alert of the episode waits for the id."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from shared.ports import Entity
from shared.services.ledgers.table import iso, parse_time

WORK_ITEM = "workitem"          # sorts after the time-keyed attempt rows, so status scans never read it


@dataclass(frozen=True)
class WorkItemRecord:
    fingerprint: str
    organization: str
    project: str
    tag: str                       # the episode's tag on the work item (``core.work_items.episode_tag``)
    opened_by: str                 # the alert instance that began creating the item
    claimed_at: datetime | None    # when it began (a claim this old with no id may be taken over)
    work_item_id: int = 0          # 0: creation was begun and not confirmed (search by the tag first)
    open: bool = True              # False once the "recovered" follow-up resolved it
    dataset: str = ""
    etag: str | None = field(default=None, compare=False)

    def to_row(self, table: str) -> Entity:
        return Entity(table, self.fingerprint, WORK_ITEM, {
            "organization": self.organization, "project": self.project, "tag": self.tag,
            "opened_by": self.opened_by, "claimed_at": iso(self.claimed_at), "work_item_id": self.work_item_id,
            "open": self.open, "dataset": self.dataset}, self.etag)

    @classmethod
    def from_row(cls, entity: Entity) -> WorkItemRecord:
        d = entity.data
        return cls(entity.partition, str(d.get("organization", "")), str(d.get("project", "")),
                   str(d.get("tag", "")), str(d.get("opened_by", "")), parse_time(d.get("claimed_at")),
                   int(d.get("work_item_id", 0)), bool(d.get("open", False)), str(d.get("dataset", "")),
                   entity.etag)
