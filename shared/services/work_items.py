"""The ``devops`` alert channel: one Azure DevOps work item per alert episode, a comment when the
alert repeats, the route's resolved state when the "recovered" follow-up arrives.

No duplicate work items across retries and crashes: the episode's row in the deliveries ledger
(``ledgers.work_items``) is written with the episode's tag *before* the item is created, and a row
without a confirmed id makes the next attempt search the project by that tag before it creates
anything. So a worker that died after creating the item, or a create whose answer was lost, is
found again, not repeated. The dispatcher calls this; it calls no other use case.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from shared.core import work_items as documents
from shared.core.models import Alert
from shared.core.spec import DevOpsRoute
from shared.errors import Rejected
from shared.services.deps import Deps
from shared.services.ledgers import Ledgers
from shared.services.ledgers.work_items import WORK_ITEM, WorkItemRecord

log = logging.getLogger(__name__)


def deliver(deps: Deps, alert: Alert, route: DevOpsRoute, instance: str) -> str:
    """Create, comment on or resolve the episode's work item; returns what was done (for the ledger).
    ``instance`` names this alert among its fingerprint's (a retried message has the same one).
    Raises ExternalError when Azure DevOps did not take it (the queue retries the message)."""
    client = deps.work_items
    if client is None:
        raise Rejected("the devops channel has no work items client")
    table = Ledgers.of(deps).work_items
    org, project = route.organization, route.project
    record = table.get(alert.fingerprint, WORK_ITEM)
    here = record is not None and record.open and (record.organization, record.project) == (org, project)
    fields = {"dataset": alert.dataset, "code": alert.code, "fingerprint": alert.fingerprint}
    if alert.resolves:
        if record is None or not here:
            return "no open work item to resolve"
        item = record.work_item_id or _found(deps, record)
        if item:
            client.update(org, project, item, documents.resolve_document(alert, route.state_on_resolve))
        table.upsert(replace(record, work_item_id=item, open=False))
        log.info("work item resolved", extra={**fields, "work_item": item, "state": route.state_on_resolve})
        return f"work item {item} set to {route.state_on_resolve}" if item else "no work item was created"
    if record is not None and here and record.work_item_id:
        client.comment(org, project, record.work_item_id, documents.repeat_comment(alert))
        log.info("work item commented", extra={**fields, "work_item": record.work_item_id})
        return f"commented on work item {record.work_item_id}"
    if record is None or not here:
        # The intent first: if this worker dies after creating the item, the next one finds it by the tag.
        record = table.upsert(WorkItemRecord(alert.fingerprint, org, project,
                                             documents.episode_tag(alert.fingerprint, instance),
                                             dataset=alert.dataset))
    item = _found(deps, record)
    how = "found"
    if not item:
        item = client.create(org, project, route.type, documents.create_document(alert, route, record.tag))
        how = "created"
    table.upsert(replace(record, work_item_id=item))
    log.info(f"work item {how}", extra={**fields, "work_item": item, "tag": record.tag})
    return f"{how} work item {item}"


def _found(deps: Deps, record: WorkItemRecord) -> int:
    """The episode's work item found by its tag (0 when none): an earlier attempt may have created it."""
    assert deps.work_items is not None
    ids = deps.work_items.find_by_tag(record.organization, record.project, record.tag)
    return ids[0] if ids else 0
