"""Alert delivery decisions: where an alert goes, whether it is a duplicate, when to digest, when to
fall back. Pure: the ledger's state comes in, a decision goes out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.core.models import Alert, Severity
from shared.core.spec import AlertRoutes

CHANNELS = ("teams", "email", "devops")
MESSAGE_CHANNELS = ("teams", "email")     # take digests and fallbacks; a work item is per episode, never a fallback
NO_CHANNEL = "no channel is configured for this dataset"


@dataclass(frozen=True)
class DispatchPolicy:
    cooldown: timedelta = timedelta(hours=1)     # the same fingerprint again within this is a duplicate
    digest_threshold: int = 4                    # sends per channel within the window before digesting
    digest_window: timedelta = timedelta(minutes=5)
    fallback_after: int = 3                      # attempts of one message before it goes to the other channel
    bypass_after: timedelta = timedelta(minutes=2)   # a channel failing this long is bypassed for all…
    probe_after: timedelta = timedelta(minutes=2)    # …until this long after its last failure (half-open)
    default_email: tuple[str, ...] = ()
    teams_configured: bool = False
    email_configured: bool = False
    devops_configured: bool = False              # the work items client exists (routes name the project)


@dataclass(frozen=True)
class EpisodeLedger:
    """What the ledger knows about one fingerprint."""

    open: bool = False
    last_sent: datetime | None = None
    suppressed: int = 0


@dataclass(frozen=True)
class ChannelHealth:
    consecutive_failures: int = 0
    recent_sends: tuple[datetime, ...] = ()
    last_failure: datetime | None = None
    failing_since: datetime | None = None

    def bypassed(self, policy: DispatchPolicy, now: datetime) -> bool:
        """Failing for a while, and not yet due for a probe: send elsewhere."""
        if self.failing_since is None or self.last_failure is None:
            return False
        return now - self.failing_since >= policy.bypass_after and now - self.last_failure < policy.probe_after


@dataclass(frozen=True)
class Decision:
    deliver: bool
    reason: str
    channels: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ()
    ledger: EpisodeLedger = field(default_factory=EpisodeLedger)


def channels_for(alert: Alert, routes: AlertRoutes, policy: DispatchPolicy) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The channels (and email recipients) the dataset's routes pick for this alert."""
    recipients = routes.email or policy.default_email
    chosen = []
    if routes.teams and policy.teams_configured:
        chosen.append("teams")
    if recipients and policy.email_configured:
        chosen.append("email")
    if routes.devops is not None and policy.devops_configured and (
            alert.resolves or Severity(alert.severity).rank >= Severity(routes.devops.min_severity).rank):
        chosen.append("devops")
    return tuple(chosen), tuple(recipients)


def channel_fixes(routes: AlertRoutes, policy: DispatchPolicy) -> str:
    """What to configure so a dataset's alerts reach someone, when its routes pick no usable channel:
    each alternative (Teams, email) alone is enough."""
    if routes.teams:
        teams = "set TEAMS_WEBHOOK_URL"
    elif policy.teams_configured:
        teams = "set alerts.teams: true for the dataset in the pipelines config"
    else:
        teams = "set TEAMS_WEBHOOK_URL and alerts.teams: true for the dataset"
    steps = []
    if not policy.email_configured:
        steps.append("set SMTP_HOST and SMTP_SENDER (or ACS_EMAIL_ENDPOINT and ACS_EMAIL_SENDER)")
    if not (routes.email or policy.default_email):
        steps.append("set ALERT_EMAIL_TO (or alerts.email for the dataset)")
    return f"Teams: {teams}; or email: {' and '.join(steps) or 'already configured'}"


def decide(alert: Alert, routes: AlertRoutes, ledger: EpisodeLedger, policy: DispatchPolicy,
           now: datetime) -> Decision:
    channels, recipients = channels_for(alert, routes, policy)
    if alert.resolves:
        if not ledger.open:
            return Decision(False, "resolves nothing that was sent", ledger=ledger)
        return Decision(bool(channels), "resolved", channels, recipients,
                        EpisodeLedger(False, now, ledger.suppressed))
    if Severity(alert.severity).rank < Severity(routes.min_severity).rank:
        return Decision(False, f"below the route's minimum severity ({routes.min_severity})", ledger=ledger)
    if ledger.open and ledger.last_sent is not None and now - ledger.last_sent < policy.cooldown:
        return Decision(False, "duplicate within the cooldown",
                        ledger=EpisodeLedger(True, ledger.last_sent, ledger.suppressed + 1))
    if not channels:
        return Decision(False, NO_CHANNEL, ledger=ledger)
    return Decision(True, "new" if not ledger.open else "repeat after the cooldown", channels, recipients,
                    EpisodeLedger(True, now, 0))


def should_digest(health: ChannelHealth, policy: DispatchPolicy, now: datetime) -> bool:
    """A burst on a working channel is digested; a channel that is failing takes no parked warnings
    (the alert is sent, and falls back to the working channel, instead of waiting for a digest)."""
    if health.failing_since is not None or health.consecutive_failures:
        return False
    recent = [t for t in health.recent_sends if now - t < policy.digest_window]
    return len(recent) >= policy.digest_threshold


def with_fallback(channels: Sequence[str], health: dict[str, ChannelHealth], policy: DispatchPolicy,
                  dequeue_count: int, recipients: Sequence[str], now: datetime,
                  failed_before: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """Swap a channel that keeps failing (or that failed this message repeatedly) for a message channel
    that can take it (Teams configured; email configured with recipients): Teams ↔ email, and work
    items → Teams, else email. A bypassed channel is probed again after ``probe_after``, so it comes
    back when it recovers."""
    usable = {"teams": policy.teams_configured, "email": policy.email_configured and bool(recipients)}
    out: list[str] = []
    for channel in channels:
        failing = health.get(channel, ChannelHealth()).bypassed(policy, now) or (
            channel in failed_before and dequeue_count > policy.fallback_after)
        other = next((c for c in MESSAGE_CHANNELS if c != channel and usable[c]), channel)
        chosen = other if failing else channel
        if chosen not in out:
            out.append(chosen)
    return tuple(out)


def note_send(health: ChannelHealth, now: datetime, ok: bool, policy: DispatchPolicy) -> ChannelHealth:
    recent = tuple(t for t in health.recent_sends if now - t < policy.digest_window)
    if ok:
        return ChannelHealth(0, (*recent, now)[-20:])
    return ChannelHealth(health.consecutive_failures + 1, recent, now, health.failing_since or now)
