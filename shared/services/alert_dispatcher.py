"""The alert dispatcher: route, deduplicate, digest, deliver with fallback, and keep a ledger.

At-least-once: a message is deleted from the queue only after every chosen channel accepted it.
Per-channel delivery rows make a retry skip the channels that already succeeded; the only duplicate
left is a send whose success was not recorded (the worker died between the two), at most one per
channel per retry.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.core import render
from shared.core.dispatch import (
    MESSAGE_CHANNELS,
    NO_CHANNEL,
    ChannelHealth,
    Decision,
    EpisodeLedger,
    channel_fixes,
    decide,
    note_send,
    should_digest,
    with_fallback,
)
from shared.core.models import Alert, Severity
from shared.core.spec import AlertRoutes
from shared.errors import ExternalError
from shared.services import feedback, work_items
from shared.services.deps import Deps
from shared.services.ledgers import Ledgers
from shared.services.ledgers.channels import HEALTH, ChannelRecord
from shared.services.ledgers.deliveries import EPISODE, Attempt, EpisodeRecord
from shared.services.ledgers.digest import Parked

log = logging.getLogger(__name__)
POISON_RETRY_DELAY = timedelta(minutes=10)


class DeliveryFailed(ExternalError):
    """No chosen channel accepted the alert this time; the queue will retry it."""


@dataclass
class DispatchOutcome:
    fingerprint: str
    status: str                                        # sent | suppressed | digested | partial
    reason: str = ""
    sent: list[str] = field(default_factory=list)
    digested: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def _routes(deps: Deps, dataset: str) -> AlertRoutes:
    try:
        return deps.config.dataset(dataset).alerts
    except KeyError:
        return AlertRoutes()


def _ledger(ledgers: Ledgers, fingerprint: str) -> EpisodeLedger:
    row = ledgers.episodes.get(fingerprint, EPISODE)
    return row.ledger if row is not None else EpisodeLedger()


def _save_ledger(ledgers: Ledgers, fingerprint: str, ledger: EpisodeLedger, alert: Alert) -> None:
    ledgers.episodes.upsert(EpisodeRecord(fingerprint, ledger, alert.dataset, alert.code, subject=alert.subject))


def channel_health(deps: Deps, channel: str) -> ChannelHealth:
    row = Ledgers.of(deps).channels.get(channel, HEALTH)
    return row.health if row is not None else ChannelHealth()


def _save_health(ledgers: Ledgers, channel: str, health: ChannelHealth) -> None:
    ledgers.channels.upsert(ChannelRecord(channel, health))


def _instance(alert: Alert) -> str:
    return f"{alert.ts.isoformat()}|{alert.code}"


def _record(ledgers: Ledgers, alert: Alert, channel: str, status: str, detail: str = "") -> None:
    ledgers.attempts.upsert(Attempt(alert.fingerprint, _instance(alert), channel, status, alert.dataset, alert.code,
                                    detail))


def _earlier_attempts(ledgers: Ledgers, alert: Alert) -> dict[str, str]:
    """Channel → status of this alert's earlier deliveries (one read: the rows share a key prefix)."""
    prefix = f"{_instance(alert)}|"
    return {row.channel: row.status for row in ledgers.attempts.query(alert.fingerprint, prefix, prefix + "~")}


def _send(deps: Deps, channel: str, alert: Alert, recipients: tuple[str, ...], routes: AlertRoutes,
          now: datetime) -> str:
    """Deliver the alert on one channel; returns a detail for the ledger. Raises ExternalError."""
    if channel == "devops":
        if routes.devops is None:
            raise DeliveryFailed("the dataset has no alerts.devops route")
        return work_items.deliver(deps, alert, routes.devops, _instance(alert), now)
    notifier = deps.notifiers.get(channel)
    if notifier is None:
        raise DeliveryFailed(f"channel {channel} is not configured")
    notifier.send(render.message_for(channel, [alert], recipients, feedback.links_for(deps, alert, now)))
    return ""


def dispatch(deps: Deps, text: str, dequeue_count: int, now: datetime) -> DispatchOutcome:
    """Deliver one alert from the queue. Raises ValueError for a malformed message (it goes to the
    poison queue, which is watched) and DeliveryFailed when a channel must be retried."""
    alert = Alert.from_json(text)
    policy = deps.dispatch
    ledgers = Ledgers.of(deps)
    ledger = _ledger(ledgers, alert.fingerprint)
    routes = _routes(deps, alert.dataset)
    decision: Decision = decide(alert, routes, ledger, policy, now)
    outcome = DispatchOutcome(alert.fingerprint, "suppressed", decision.reason)
    fields = {"dataset": alert.dataset, "code": alert.code, "severity": alert.severity.value,
              "fingerprint": alert.fingerprint}
    if (silenced := feedback.snoozed(deps, alert, now)) is not None:
        # Not recorded in the episode: when the snooze ends, the alert is news again.
        _record(ledgers, alert, "-", "suppressed", f"snoozed until {silenced.until.isoformat()}")
        log.info("alert suppressed", extra={**fields, "reason": "snoozed", "until": silenced.until.isoformat()})
        return DispatchOutcome(alert.fingerprint, "suppressed", "snoozed")
    if not decision.deliver:
        _save_ledger(ledgers, alert.fingerprint, decision.ledger, alert)
        _record(ledgers, alert, "-", "suppressed", decision.reason)
        if decision.reason == NO_CHANNEL and alert.severity is Severity.FAIL:
            # A failure nobody hears about is the worst outcome: say loudly what to set.
            log.warning("fail alert not delivered: no alert channel is configured",
                        extra={**fields, "fix": channel_fixes(routes, policy)})
        else:
            log.info("alert suppressed", extra={**fields, "reason": decision.reason})
        return outcome
    health = {c: channel_health(deps, c) for c in dict.fromkeys((*MESSAGE_CHANNELS, *decision.channels))}
    earlier = _earlier_attempts(ledgers, alert)
    failed_before = frozenset(c for c in decision.channels if earlier.get(c) == "failed")
    for channel in with_fallback(decision.channels, health, policy, dequeue_count, decision.recipients, now,
                                 failed_before):
        if earlier.get(channel) in ("sent", "digested"):
            outcome.sent.append(channel)
            continue
        if not alert.resolves and alert.severity is not Severity.FAIL and channel in MESSAGE_CHANNELS \
                and should_digest(health[channel], policy, now):
            ledgers.digest.upsert(Parked.of(channel, alert, decision.recipients, now))
            _record(ledgers, alert, channel, "digested")
            outcome.digested.append(channel)
            continue
        try:
            detail = _send(deps, channel, alert, decision.recipients, routes, now)
        except ExternalError as exc:
            health[channel] = note_send(health[channel], now, False, policy)
            _save_health(ledgers, channel, health[channel])
            _record(ledgers, alert, channel, "failed", f"{type(exc).__name__}: {exc}")
            outcome.failed.append(channel)
            log.warning("alert delivery failed", extra={**fields, "channel": channel,
                                                        "error_type": type(exc).__name__, "attempt": dequeue_count})
            continue
        health[channel] = note_send(health[channel], now, True, policy)
        _save_health(ledgers, channel, health[channel])
        _record(ledgers, alert, channel, "sent", detail)
        outcome.sent.append(channel)
        log.info("alert sent", extra={**fields, "channel": channel, "reason": decision.reason})
    if outcome.failed:
        raise DeliveryFailed(f"{', '.join(outcome.failed)} did not accept alert {alert.fingerprint}; will retry")
    _save_ledger(ledgers, alert.fingerprint, decision.ledger, alert)
    outcome.status = "sent" if outcome.sent else "digested"
    if outcome.digested:
        log.info("alert digested", extra={**fields, "channel": ",".join(outcome.digested)})
    return outcome


def report_poison(deps: Deps, text: str, now: datetime) -> list[str]:
    """An alert message the dispatcher gave up on: tell people on every channel that will take it."""
    try:
        original = Alert.from_json(text)
        about = f"{original.dataset}: {original.code} — {original.message}"
        dataset = original.dataset
    except ValueError:
        about, dataset = f"an unreadable alert message ({text[:200]!r})", "autopilot"
    alert = Alert(dataset, "alert_undeliverable", Severity.FAIL,
                  f"An alert could not be delivered after repeated attempts and is in the alerts-poison queue: "
                  f"{about}", now, subject=hashlib.sha256(text.encode()).hexdigest()[:16])
    delivered = []
    recipients = tuple(_routes(deps, dataset).email or deps.dispatch.default_email)
    for channel, notifier in deps.notifiers.items():
        if channel == "email" and not recipients:
            continue
        try:
            notifier.send(render.message_for(channel, [alert], recipients))
            delivered.append(channel)
        except ExternalError as exc:
            log.error("poison alert could not be delivered", extra={"channel": channel,
                                                                    "error_type": type(exc).__name__})
    if not delivered:
        # Every channel is down. Nothing is dropped: the original goes back on the alerts queue, hidden
        # for a while, and is tried again from the start when the channels may be back.
        deps.alerts.requeue(text, POISON_RETRY_DELAY)
        log.error("no channel accepted the poison notice; the alert was put back on the queue",
                  extra={"delay_s": POISON_RETRY_DELAY.total_seconds()})
    return delivered
