"""Alerts as people read them: a Teams Adaptive Card (Workflows webhook envelope) and an email.

Text from alerts is data, not markup: it is escaped for Adaptive Card markdown and for HTML. A card
stays under Teams' 28 KB limit by trimming facts and messages, never by failing.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from typing import Any

from shared.core.models import Alert, Link, Message, Severity

CARD_LIMIT = 28 * 1024
CARD_BUDGET = 26 * 1024          # headroom under the limit for the envelope and encoding
_MARKDOWN = re.compile(r"([\\*_\[\]()#`>~|{}<])")
COLOURS = {Severity.FAIL: "Attention", Severity.WARN: "Warning", Severity.INFO: "Good"}
LABEL = {Severity.FAIL: "FAIL", Severity.WARN: "WARN", Severity.INFO: "INFO"}


def escape_markdown(text: str) -> str:
    """Adaptive Card TextBlocks render a markdown subset: neutralise it (and {{template}} braces)."""
    return _MARKDOWN.sub(r"\\\1", text)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def title(alert: Alert) -> str:
    state = "Resolved" if alert.resolves else LABEL[alert.severity]
    return f"{state} · {alert.dataset} · {alert.code.replace('_', ' ')}"


def _alert_blocks(alert: Alert, text_limit: int, fact_limit: int, max_facts: int) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": escape_markdown(_clip(title(alert), 200)), "weight": "Bolder",
         "size": "Medium", "wrap": True, "color": COLOURS[alert.severity]},
        {"type": "TextBlock", "text": escape_markdown(_clip(alert.message, text_limit)), "wrap": True},
    ]
    facts = [{"title": escape_markdown(_clip(k, 60)), "value": escape_markdown(_clip(v, fact_limit))}
             for k, v in list(alert.facts.items())[:max_facts]]
    facts.append({"title": "When", "value": alert.ts.strftime("%Y-%m-%d %H:%M UTC")})
    blocks.append({"type": "FactSet", "facts": facts})
    return blocks


def _envelope(body: list[dict[str, Any]], actions: list[dict[str, Any]]) -> dict[str, Any]:
    content: dict[str, Any] = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                               "type": "AdaptiveCard", "version": "1.4", "msteams": {"width": "Full"},
                               "body": body}
    if actions:
        content["actions"] = actions
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": content}]}


def _actions(alerts: Sequence[Alert], feedback: Sequence[Link] = ()) -> list[dict[str, Any]]:
    # The feedback actions come first, so the five-action cap never drops them; their URLs are ours
    # (FEEDBACK_BASE_URL), not the alert's.
    out: list[dict[str, Any]] = [{"type": "Action.OpenUrl", "title": _clip(link.title, 40), "url": link.url}
                                 for link in feedback]
    seen: set[str] = set()
    for alert in alerts:
        for link in alert.links:
            if link.url.startswith("https://") and link.url not in seen and len(out) < 5:
                seen.add(link.url)
                out.append({"type": "Action.OpenUrl", "title": _clip(link.title, 40), "url": link.url})
    return out


def size_of(card: dict[str, Any]) -> int:
    return len(json.dumps(card, ensure_ascii=False).encode("utf-8"))


def teams_card(alerts: Sequence[Alert], feedback: Sequence[Link] = ()) -> dict[str, Any]:
    """One card for one alert, or a digest card for several; always within the size limit.
    ``feedback``: the alert's "false alarm" / "expected" links (``shared.core.feedback.links``)."""
    for text_limit, fact_limit, max_facts, max_alerts in ((2000, 500, 12, 25), (600, 200, 8, 15),
                                                          (200, 80, 4, 10), (100, 40, 2, 5)):
        body: list[dict[str, Any]] = []
        if len(alerts) > 1:
            worst = max(alerts, key=lambda a: a.severity.rank).severity
            body.append({"type": "TextBlock", "text": f"{len(alerts)} alerts", "weight": "Bolder",
                         "size": "Large", "color": COLOURS[worst]})
        for alert in alerts[:max_alerts]:
            body += _alert_blocks(alert, text_limit, fact_limit, max_facts)
        if len(alerts) > max_alerts:
            body.append({"type": "TextBlock", "wrap": True,
                         "text": f"…and {len(alerts) - max_alerts} more (see the delivery ledger)."})
        card = _envelope(body, _actions(alerts, feedback))
        if size_of(card) <= CARD_BUDGET:
            return card
    return _envelope([{"type": "TextBlock", "text": f"{len(alerts)} alerts; too large to show here.",
                       "wrap": True}], [])


def email(alerts: Sequence[Alert], to: Sequence[str], feedback: Sequence[Link] = ()) -> Message:
    """Plain text + HTML email for one alert or a digest (``feedback``: as for ``teams_card``)."""
    if len(alerts) == 1:
        subject = f"[Autopilot] {title(alerts[0])}"
    else:
        worst = max(alerts, key=lambda a: a.severity.rank).severity
        subject = f"[Autopilot] {len(alerts)} alerts (worst: {LABEL[worst]})"
    text_parts, html_parts = [], []
    for alert in alerts:
        facts = "".join(f"  {k}: {v}\n" for k, v in alert.facts.items())
        links = "".join(f"  {link.title}: {link.url}\n" for link in alert.links)
        text_parts.append(f"{title(alert)}\n{alert.message}\n{facts}{links}  When: {alert.ts:%Y-%m-%d %H:%M} UTC\n")
        rows = "".join(f"<tr><th align=left>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                       for k, v in alert.facts.items())
        anchors = "".join(f'<li><a href="{html.escape(link.url, quote=True)}">{html.escape(link.title)}</a></li>'
                          for link in alert.links if link.url.startswith("https://"))
        html_parts.append(f"<h3>{html.escape(title(alert))}</h3><p>{html.escape(alert.message)}</p>"
                          f"<table>{rows}</table>" + (f"<ul>{anchors}</ul>" if anchors else ""))
    if feedback:
        text_parts.append("Was this alert right? " + "".join(f"\n  {link.title}: {link.url}" for link in feedback))
        html_parts.append("<p>Was this alert right? " + " · ".join(
            f'<a href="{html.escape(link.url, quote=True)}">{html.escape(link.title)}</a>' for link in feedback)
            + "</p>")
    return Message(subject=_clip(subject.replace("\n", " "), 200), text="\n".join(text_parts),
                   html="<html><body>" + "<hr>".join(html_parts) + "</body></html>", to=tuple(to))


def teams_message(alerts: Sequence[Alert], feedback: Sequence[Link] = ()) -> Message:
    subject = title(alerts[0]) if len(alerts) == 1 else f"{len(alerts)} alerts"
    return Message(subject=subject, text="\n".join(a.message for a in alerts), card=teams_card(alerts, feedback))


def message_for(channel: str, alerts: list[Alert], recipients: tuple[str, ...],
                feedback: Sequence[Link] = ()) -> Message:
    """The message one channel gets for these alerts: an Adaptive Card for Teams, else an email."""
    return teams_message(alerts, feedback) if channel == "teams" else email(alerts, recipients, feedback)
