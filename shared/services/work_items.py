"""The ``devops`` alert channel: one Azure DevOps work item per alert episode, a comment when the
alert repeats, the route's resolved state when the "recovered" follow-up arrives.

No duplicate work items across retries, crashes and concurrent workers: the episode's row in the
deliveries ledger (``ledgers.work_items``) is claimed with a conditional write, carrying the episode's
tag, *before* the item is created. An attempt that finds the claim without a confirmed id searches the
project by that tag before it creates anything (a lost answer, a worker that died after creating);
another alert of the episode waits for the id (the queue retries it) unless the claim is older than
``TAKEOVER``. The dispatcher calls this; it calls no other use case.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta

from shared.core import work_items as documents
from shared.core.models import Alert
from shared.core.spec import DevOpsRoute
from shared.errors import Conflict, NotFound, Rejected, Unavailable
from shared.ports import WorkItems
from shared.services.deps import Deps
from shared.services.ledgers import Ledgers
from shared.services.ledgers.table import Table
from shared.services.ledgers.work_items import WORK_ITEM, WorkItemRecord

log = logging.getLogger(__name__)
TAKEOVER = timedelta(minutes=5)   # longer than one attempt may spend creating (the adapter's retries included)


class Creating(Unavailable):
    """Another worker is creating the episode's work item: this alert is retried (then commented)."""


def deliver(deps: Deps, alert: Alert, route: DevOpsRoute, instance: str, now: datetime) -> str:
    """Create, comment on or resolve the episode's work item; returns what was done (for the ledger).
    ``instance`` names this alert among its fingerprint's (a retried message has the same one).
    Raises ExternalError when Azure DevOps did not take it (the queue retries the message)."""
    client = deps.work_items
    if client is None:
        raise Rejected("the devops channel has no work items client")
    table = Ledgers.of(deps).work_items
    record = table.get(alert.fingerprint, WORK_ITEM)
    if alert.resolves:
        return _resolve(client, table, record, alert, route)
    if not _open_here(record, route):
        record = _claim(table, record, alert, route, instance, now)
    assert record is not None
    if record.work_item_id:
        if record.opened_by == instance:      # this alert made it; its attempt row was not written
            return f"work item {record.work_item_id} was already created"
        client.comment(route.organization, route.project, record.work_item_id, documents.repeat_comment(alert))
        _log("work item commented", alert, record.work_item_id)
        return f"commented on work item {record.work_item_id}"
    if record.opened_by != instance and record.claimed_at is not None and now - record.claimed_at < TAKEOVER:
        raise Creating(f"another alert of this episode is creating its work item (since {record.claimed_at:%H:%M:%S})")
    item = _found(client, record)
    how = "found"
    if not item:
        item = client.create(route.organization, route.project, route.type,
                             documents.create_document(alert, route, record.tag))
        how = "created"
    _record_id(client, table, replace(record, work_item_id=item, opened_by=instance if how == "created"
                                      else record.opened_by), route)
    _log(f"work item {how}", alert, item)
    return f"{how} work item {item}"


def _record_id(client: WorkItems, table: Table[WorkItemRecord], record: WorkItemRecord, route: DevOpsRoute) -> None:
    """Record the item's id, conditionally: a recovery that closed the episode meanwhile (finding no
    item yet) must not be undone, so the new item is resolved too."""
    try:
        table.replace(record)
        return
    except (Conflict, NotFound):
        current = table.get(record.fingerprint, WORK_ITEM)
    if current is not None and current.tag == record.tag and not current.open and not current.work_item_id:
        client.update(route.organization, route.project, record.work_item_id,
                      [{"op": "add", "path": "/fields/System.State", "value": route.state_on_resolve}])
        table.upsert(replace(current, work_item_id=record.work_item_id))
    elif current is not None and current.tag == record.tag and not current.work_item_id:
        table.upsert(replace(current, work_item_id=record.work_item_id))


def _open_here(record: WorkItemRecord | None, route: DevOpsRoute) -> bool:
    return record is not None and record.open and (record.organization, record.project) == (
        route.organization, route.project)


def _claim(table: Table[WorkItemRecord], record: WorkItemRecord | None, alert: Alert, route: DevOpsRoute,
           instance: str, now: datetime) -> WorkItemRecord:
    """Begin the episode's work item: a conditional write, so of two alerts only one begins it (the other
    goes on with the winner's row)."""
    claim = WorkItemRecord(alert.fingerprint, route.organization, route.project,
                           documents.episode_tag(alert.fingerprint, instance), instance, now,
                           dataset=alert.dataset, etag=record.etag if record is not None else None)
    try:
        return table.insert(claim) if record is None else table.replace(claim)
    except (Conflict, NotFound):
        winner = table.get(alert.fingerprint, WORK_ITEM)
        if winner is None or not _open_here(winner, route):
            raise Creating("the episode's work item row changed meanwhile; trying again") from None
        return winner


def _resolve(client: WorkItems, table: Table[WorkItemRecord], record: WorkItemRecord | None, alert: Alert,
             route: DevOpsRoute) -> str:
    if record is None or not _open_here(record, route):
        return "no open work item to resolve"
    item = record.work_item_id or _found(client, record)
    if item:
        client.update(route.organization, route.project, item,
                      documents.resolve_document(alert, route.state_on_resolve))
    table.upsert(replace(record, work_item_id=item, open=False))
    _log("work item resolved", alert, item)
    return f"work item {item} set to {route.state_on_resolve}" if item else "no work item was created"


def _found(client: WorkItems, record: WorkItemRecord) -> int:
    """The episode's work item found by its tag (0 when none): an earlier attempt may have created it."""
    ids = client.find_by_tag(record.organization, record.project, record.tag)
    return ids[0] if ids else 0


def _log(what: str, alert: Alert, item: int) -> None:
    log.info(what, extra={"dataset": alert.dataset, "code": alert.code, "fingerprint": alert.fingerprint,
                          "work_item": item})
