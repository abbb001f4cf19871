"""Alert digests: the warnings the dispatcher parked during a burst, sent per channel as one message
by the follow-up timer (``followups``). The dispatcher parks, this module sends; neither calls the other.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from datetime import datetime

from shared.core import render
from shared.core.models import Alert
from shared.errors import Conflict, ExternalError, NotFound
from shared.services.deps import Deps
from shared.services.ledgers import Ledgers
from shared.services.ledgers.digest import Parked
from shared.services.ledgers.table import Table

log = logging.getLogger(__name__)


def send(deps: Deps, now: datetime) -> dict[str, int]:
    """Send each channel's parked alerts as one digest (called by a timer). Returns counts sent.

    A digest is recorded before it is sent: its rows are claimed with the digest's id (a conditional
    write each), then sent, then deleted. So a digest is never sent twice whole: rows a worker claimed
    and then died on are dropped with a warning (at most that one digest of warnings is lost, never
    duplicated). A channel that cannot take the digest hands it to the other channel when that one
    can take it; otherwise the rows wait for the next run.
    """
    sent: dict[str, int] = {}
    parked = Ledgers.of(deps).digest
    for channel in ("teams", "email"):
        rows = parked.query(channel)
        _drop_orphans(parked, channel, [r for r in rows if r.digest])
        claimed = _claim(parked, [r for r in rows if not r.digest])
        if not claimed:
            continue
        alerts = [r.parsed() for r in claimed]
        recipients = tuple(sorted({t for r in claimed for t in r.to})) or deps.dispatch.default_email
        delivered = _deliver(deps, channel, alerts, recipients)
        if delivered is None:
            for row in claimed:   # not sent anywhere: free the rows for the next run
                parked.replace(replace(row, digest=""))
            continue
        for row in claimed:
            parked.delete(row)
        sent[delivered] = sent.get(delivered, 0) + len(alerts)
    return sent


def _claim(parked: Table[Parked], rows: list[Parked]) -> list[Parked]:
    digest, claimed = uuid.uuid4().hex, []
    for row in rows:
        try:
            claimed.append(parked.replace(replace(row, digest=digest)))
        except (Conflict, NotFound):   # another worker claimed or sent it meanwhile
            continue
    return claimed


def _drop_orphans(parked: Table[Parked], channel: str, orphans: list[Parked]) -> None:
    if not orphans:
        return
    for row in orphans:
        parked.delete(row)
    log.warning("a digest claimed by a worker that stopped was dropped, not sent again; it may not have been "
                "delivered", extra={"channel": channel, "alerts": len(orphans)})


def _deliver(deps: Deps, channel: str, alerts: list[Alert], recipients: tuple[str, ...]) -> str | None:
    """The channel that took the digest: ``channel``, else the other one when it can take it."""
    other = "email" if channel == "teams" else "teams"
    for target in (channel, other):
        notifier = deps.notifiers.get(target)
        if notifier is None or (target == "email" and not recipients):
            continue
        try:
            notifier.send(render.message_for(target, alerts, recipients))
            return target
        except ExternalError as exc:
            log.warning("digest delivery failed", extra={"channel": target, "alerts": len(alerts),
                                                         "error_type": type(exc).__name__})
    return None
