"""Alerts as Azure DevOps work items: the JSON Patch documents and comment texts, and the tag that
names an alert episode's work item (so a retry after a crash finds the item instead of creating a
second one). Pure: the alert and the dataset's route in, documents out.
"""

from __future__ import annotations

import hashlib
import html
from typing import Any

from shared.core.models import Alert, Severity
from shared.core.render import title
from shared.core.spec import DevOpsRoute

TAG_PREFIX = "autopilot-"
TITLE_LIMIT = 255                   # System.Title holds at most 255 characters
TEXT_LIMIT = 30_000                 # well under the 1 MB an HTML field or comment may hold
BUG_SEVERITY = {Severity.FAIL: "2 - High", Severity.WARN: "3 - Medium", Severity.INFO: "4 - Low"}


def episode_tag(fingerprint: str, opened_by: str) -> str:
    """The tag of the work item of one episode: the fingerprint and the alert that opened the episode,
    hashed (an episode that ends and comes back is a new work item with a new tag)."""
    digest = hashlib.sha256(f"{fingerprint}|{opened_by}".encode()).hexdigest()[:20]
    return f"{TAG_PREFIX}{digest}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def alert_html(alert: Alert) -> str:
    """The alert as HTML for a description or a comment; every piece of alert text is escaped."""
    rows = "".join(f"<tr><th align=left>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                   for k, v in alert.facts.items())
    links = "".join(f'<li><a href="{html.escape(link.url, quote=True)}">{html.escape(link.title)}</a></li>'
                    for link in alert.links if link.url.startswith("https://"))
    body = (f"<p><b>{html.escape(title(alert))}</b></p><p>{html.escape(alert.message)}</p>"
            + (f"<table>{rows}</table>" if rows else "")
            + (f"<ul>{links}</ul>" if links else "")
            + f"<p>When: {alert.ts:%Y-%m-%d %H:%M} UTC · fingerprint {html.escape(alert.fingerprint)}</p>")
    return _clip(body, TEXT_LIMIT)


def create_document(alert: Alert, route: DevOpsRoute, tag: str) -> list[dict[str, Any]]:
    """The JSON Patch body of ``POST …/_apis/wit/workitems/${type}``."""
    tags = "; ".join(dict.fromkeys(("autopilot", tag, *route.tags)))
    fields: dict[str, str] = {
        "System.Title": _clip(title(alert).replace("\n", " "), TITLE_LIMIT),
        "System.Description": alert_html(alert),
        "System.Tags": tags,
    }
    if route.type == "Bug":
        # Bugs show Repro Steps on their form, not the description; their Severity field is standard.
        fields["Microsoft.VSTS.TCM.ReproSteps"] = fields["System.Description"]
        fields["Microsoft.VSTS.Common.Severity"] = BUG_SEVERITY[alert.severity]
    if route.area_path:
        fields["System.AreaPath"] = route.area_path
    return [{"op": "add", "path": f"/fields/{name}", "value": value} for name, value in fields.items()]


def repeat_comment(alert: Alert) -> str:
    """The comment posted when the episode's alert fires again after the cooldown."""
    return _clip(f"<p>The alert fired again.</p>{alert_html(alert)}", TEXT_LIMIT)


def resolve_document(alert: Alert, state: str) -> list[dict[str, Any]]:
    """The JSON Patch body that moves the work item to ``state``, saying why in its history."""
    return [{"op": "add", "path": "/fields/System.State", "value": state},
            {"op": "add", "path": "/fields/System.History",
             "value": _clip(f"<p>Resolved by Autopilot: the alert recovered.</p>{alert_html(alert)}", TEXT_LIMIT)}]
