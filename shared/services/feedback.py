"""Teaching Autopilot: the feedback actions of alerts (``/api/feedback``), ``autopilot label`` and
``autopilot snooze``. Labels go to the feedback table; the output guard and the history export read them
back and hand them to the baselines with the observations (``shared.core.history``).

A shared small service: the dispatcher (links, snoozes) and the guard (labels) call it, never each other.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.core import feedback
from shared.core.feedback import Action, Claims, Refusal, Refused
from shared.core.models import Alert, Link
from shared.core.outcomes import Unavailable
from shared.errors import ConfigError, Conflict, ExternalError
from shared.services.deps import Deps
from shared.services.ledgers import Ledgers
from shared.services.ledgers.feedback import Label, SnoozeRecord, UsedToken

log = logging.getLogger(__name__)
MAX_SNOOZE = timedelta(days=30)


@dataclass(frozen=True)
class Labelled:
    """The label was recorded: what it was, for which alert."""

    claims: Claims


@dataclass(frozen=True)
class ConfirmPage:
    """The page a feedback link opens: what the action will do, and one button that POSTs the token."""

    html: str
    csp: str = "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"


FeedbackOutcome = Labelled | ConfirmPage | Refused | Unavailable


def links_for(deps: Deps, alert: Alert, now: datetime) -> tuple[Link, ...]:
    """The alert's "false alarm" / "expected" links; none when no signing key is configured."""
    signing = deps.feedback
    if signing is None:
        return ()
    return feedback.links(alert, signing.key, signing.base_url, now, signing.ttl)


def handle_request(get_deps: Callable[[], Deps], method: str, body: bytes, content_type: str,
                   query_token: str | None) -> FeedbackOutcome:
    """``GET /api/feedback?token=`` (the confirmation page) or ``POST /api/feedback`` (record the label)."""
    token = feedback.token_from(body if method == "POST" else b"", content_type, query_token)
    if isinstance(token, Refused):
        return token
    try:
        deps = get_deps()
        now = deps.clock.now()
        return apply_token(deps, token, now) if method == "POST" else confirm_page(deps, token, now)
    except (ConfigError, ExternalError) as exc:
        log.warning("feedback request failed", extra={"error_type": type(exc).__name__})
        return Unavailable("Autopilot cannot record feedback right now; try again in a minute", 60)


def _verified(deps: Deps, token: str, now: datetime) -> Claims | Refused | Unavailable:
    if deps.feedback is None:
        return Unavailable("feedback is not configured here (FEEDBACK_SIGNING_KEY is not set)", 3600)
    return feedback.verify(token, deps.feedback.key, now)


def confirm_page(deps: Deps, token: str, now: datetime) -> FeedbackOutcome:
    """GET: changes nothing (mail scanners follow links); shows what the button will record."""
    claims = _verified(deps, token, now)
    if not isinstance(claims, Claims):
        return claims
    what = ("keeps this observation in the baseline as normal" if claims.action is Action.FALSE_ALARM
            else "learns this level as the new normal at once")
    e = html.escape
    page = (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Autopilot feedback</title></head>"
            "<body>"
            f"<h1>{e(claims.action.button)}?</h1><p>Alert <b>{e(claims.code)}</b> on dataset <b>{e(claims.dataset)}"
            f"</b>{' for ' + e(claims.subject) if claims.subject else ''} at {e(claims.episode)}.</p>"
            f"<p>Recording this label {what}.</p>"
            f"<form method=post action='/api/feedback'><input type=hidden name=token value=\"{e(token, quote=True)}\">"
            f"<button type=submit>Record: {e(claims.action.button)}</button></form></body></html>")
    return ConfirmPage(page)


def apply_token(deps: Deps, token: str, now: datetime) -> FeedbackOutcome:
    """POST: verify the token, use it once (a conditional insert of its id), record the label."""
    claims = _verified(deps, token, now)
    if not isinstance(claims, Claims):
        return claims
    ledgers = Ledgers.of(deps)
    try:
        ledgers.used_tokens.insert(UsedToken(claims.dataset, feedback.token_id(token), claims.fingerprint,
                                             claims.action.value, now))
    except Conflict:
        return Refused(Refusal.REPLAYED)
    except ExternalError as exc:
        log.warning("feedback could not be recorded", extra={"error_type": type(exc).__name__})
        return Unavailable("state is unreachable; try the link again in a minute", 60)
    try:
        _record(deps, claims, now, by="card")
    except ExternalError as exc:
        # The token is spent but the label is not stored: free the token so the link works again.
        ledgers.state.delete(UsedToken(claims.dataset, feedback.token_id(token), "", "", None).to_row(
            ledgers.tables.feedback))
        log.warning("feedback label could not be recorded", extra={"error_type": type(exc).__name__})
        return Unavailable("state is unreachable; try the link again in a minute", 60)
    return Labelled(claims)


def _record(deps: Deps, claims: Claims, now: datetime, *, by: str) -> None:
    Ledgers.of(deps).labels.upsert(Label(claims.dataset, claims.fingerprint, claims.episode, claims.code,
                                         claims.subject, claims.action.value, now, by))
    log.info("alert labelled", extra={"dataset": claims.dataset, "code": claims.code,
                                      "fingerprint": claims.fingerprint, "label": claims.action.value, "by": by})


def label_alert(deps: Deps, fingerprint: str, action: Action, now: datetime) -> Claims:
    """``autopilot label``: label the latest episode of the alert with this fingerprint. Raises KeyError
    when no alert with it was ever dispatched."""
    ledgers = Ledgers.of(deps)
    episode = ledgers.episodes.get(fingerprint, "episode")
    attempts = ledgers.attempts.query(fingerprint)
    if episode is None and not attempts:
        raise KeyError(fingerprint)
    latest = max((a.instance for a in attempts), default="")
    when, _, code = latest.partition("|")
    dataset = episode.dataset if episode is not None else attempts[0].dataset
    subject = episode.subject if episode is not None else ""
    claims = Claims(dataset, code or (episode.code if episode else ""), subject, fingerprint,
                    when, action, now)
    _record(deps, claims, now, by="cli")
    return claims


def snooze(deps: Deps, dataset: str, code: str, until: datetime, now: datetime) -> SnoozeRecord:
    """``autopilot snooze``: silence ``code`` ("*" for every code) of ``dataset`` until ``until``."""
    record = SnoozeRecord(dataset, code, until, now)
    Ledgers.of(deps).snoozes.upsert(record)
    return record


def snoozed(deps: Deps, alert: Alert, now: datetime) -> feedback.Snooze | None:
    """The snooze silencing this alert now (a "resolved" follow-up is never silenced)."""
    if alert.resolves:
        return None
    return feedback.snoozed(Ledgers.of(deps).snoozes.of(alert.dataset), alert.dataset, alert.code, now)


def labels_by_observation(deps: Deps, dataset: str) -> dict[str, str]:
    """Observation (file) name → its latest label, for the baselines."""
    return Ledgers.of(deps).labels.by_subject(dataset)
