"""Alert digests: the warnings the dispatcher parked during a burst, sent per channel as one message
by the follow-up timer (``followups``). The dispatcher parks, this module sends; neither calls the other.
"""

from __future__ import annotations

import logging
from datetime import datetime

from shared.core import render
from shared.errors import ExternalError
from shared.services.deps import Deps
from shared.services.ledgers import Ledgers

log = logging.getLogger(__name__)


def send(deps: Deps, now: datetime) -> dict[str, int]:
    """Send each channel's parked alerts as one digest (called by a timer). Returns counts sent."""
    sent: dict[str, int] = {}
    parked = Ledgers.of(deps).digest
    for channel in ("teams", "email"):
        rows = parked.query(channel)
        if not rows:
            continue
        alerts = [r.parsed() for r in rows]
        recipients = tuple(sorted({t for r in rows for t in r.to}))
        notifier = deps.notifiers.get(channel)
        if notifier is None:
            continue
        try:
            notifier.send(render.message_for(channel, alerts, recipients))
        except ExternalError as exc:
            log.warning("digest delivery failed; kept for the next run",
                        extra={"channel": channel, "alerts": len(alerts), "error_type": type(exc).__name__})
            continue
        for row in rows:
            parked.delete(row)
        sent[channel] = len(alerts)
    return sent
