"""The text of ``autopilot status`` (and the page's run and outputs lines), from the status view."""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.core.status_view import OutputsView, RunView, StatusView

SHOWN_FAILING = 3


def _minutes(seconds: float | None) -> str:
    return "?" if seconds is None else f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def _when(t: datetime | None, now: datetime) -> str:
    if t is None:
        return "?"
    ago = now - t
    rel = f"{_human(ago)} ago" if ago >= timedelta(0) else f"in {_human(-ago)}"
    return f"{t:%Y-%m-%d %H:%M} UTC ({rel})"


def _human(delta: timedelta) -> str:
    s = int(delta.total_seconds())
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    if s < 172800:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def describe_run(r: RunView) -> str:
    text = f"run {r.run_id} {r.status}, {_minutes(r.duration_s)}"
    if r.band is not None and r.band.high is not None:
        text += f" (normal up to {_minutes(r.band.high)}, median {_minutes(r.band.median)})"
        text += " SLOW" if r.slow else ""
    return text


def describe_outputs(o: OutputsView) -> str:
    judged = f"{o.judged}/{o.total} files judged" if o.total is not None else f"{o.judged} files judged so far"
    text = f"outputs {o.status or 'not judged'}: {judged}"
    if o.failing:
        more = f" and {len(o.failing) - SHOWN_FAILING} more" if len(o.failing) > SHOWN_FAILING else ""
        text += f"; failing: {', '.join(o.failing[:SHOWN_FAILING])}{more}"
    return text


def render_text(view: StatusView) -> str:
    """The human text of ``autopilot status``: one block per dataset, newest batch first."""
    now = view.now
    lines = [f"ADF Autopilot status at {now:%Y-%m-%d %H:%M} UTC (since {view.since:%Y-%m-%d %H:%M} UTC)"]
    for d in view.datasets:
        lines += ["", f"{d.name}  [{d.health.upper()}]"]
        for v in d.late:
            if v.state == "late":
                lines.append(f"  LATE {v.stage}: nothing since {_when(v.last_arrival, now)}; due {_when(v.due, now)}")
            elif v.state == "on_time":
                lines.append(f"  {v.stage}: last {_when(v.last_arrival, now)}; next due {_when(v.due, now)}")
            elif v.state == "unknown":
                lines.append(f"  {v.stage}: last {_when(v.last_arrival, now)}; cadence not learned yet")
            else:
                lines.append(f"  {v.stage}: no arrivals recorded")
        if not d.batches:
            lines.append("  no batches in this window")
        for b in d.batches:
            lines.append(f"  batch {b.key} ({b.claim}, {_when(b.claimed_at, now)})"
                         + (f": {b.error}" if b.error else ""))
            if b.run is not None:
                lines.append(f"    {describe_run(b.run)}")
            if b.outputs is not None:
                lines.append(f"    {describe_outputs(b.outputs)}")
            for r in b.refreshes:
                lines.append(f"    refresh {r.target}: {r.state}" + (f" ({r.reason})" if r.reason else ""))
            if b.decision:
                lines.append(f"    decision: {b.decision}" + (f"; alerts: {', '.join(b.alerts)}" if b.alerts else ""))
        sent = [a for a in d.alerts if a.status != "suppressed"]
        if sent:
            lines.append(f"  alerts ({len(sent)}):")
            lines += [f"    {a.code} via {a.channel}: {a.status}, {_when(a.at, now)}"
                      + (f" (alert {a.fingerprint})" if a.fingerprint else "")
                      + (f", labelled {a.label.replace('_', ' ')}" if a.label else "") for a in sent[:20]]
            if len(sent) > 20:
                lines.append(f"    … and {len(sent) - 20} more (--json lists all)")
    return "\n".join(lines)
