"""The status page (``GET /api/status``): one server-rendered HTML page with inline SVG charts.

No script at all, nothing from outside; the one inline style block is allowed by its hash in the
Content-Security-Policy. Every value from state or config passes through ``_e`` (data is never markup).
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from shared.core.status_charts import Chart
from shared.core.status_text import describe_outputs, describe_run
from shared.core.status_view import BatchView, DatasetView, StatusView

TIMELINE_BATCHES = 30
TABLE_BATCHES = 10
ALERT_SLACK = timedelta(hours=1)
W, H, PAD_L, PAD_R, PAD_T, PAD_B = 560, 170, 64, 12, 22, 26
COLOURS = {"ok": "#2e7d32", "pass": "#2e7d32", "warn": "#ef8f00", "fail": "#c62828", "late": "#6a1b9a",
           "idle": "#757575", "held": "#ef8f00", "": "#9e9e9e"}

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.15em;margin:1.4em 0 .4em}
table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid #ddd;padding:.25em .5em;text-align:left;
vertical-align:top}th{background:#eee}.badge{display:inline-block;padding:0 .5em;border-radius:.6em;color:#fff;
font-weight:600}.ok,.pass{background:#2e7d32}.warn{background:#ef8f00}.fail{background:#c62828}
.late{background:#6a1b9a}.idle,.none{background:#757575}.charts{display:flex;flex-wrap:wrap;gap:.8em}
svg{background:#fff;border:1px solid #ddd}.muted{color:#666}section{border-top:2px solid #ddd;margin-top:1em}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def csp() -> str:
    digest = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
    return (f"default-src 'none'; style-src 'sha256-{digest}'; img-src 'none'; script-src 'none'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def _when(t: datetime | None) -> str:
    return f"{t:%Y-%m-%d %H:%M}" if t is not None else "?"


def _badge(state: str | None) -> str:
    s = state or "none"
    css = s if s in ("ok", "pass", "warn", "fail", "late", "idle") else "none"
    return f'<span class="badge {css}">{_e(s)}</span>'


def render(view: StatusView, charts: Mapping[str, Sequence[Chart]]) -> tuple[str, str]:
    """The page and its Content-Security-Policy."""
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="referrer" content="no-referrer">', "<title>ADF Autopilot status</title>",
             f"<style>{STYLE}</style></head><body>",
             "<h1>ADF Autopilot status</h1>",
             f'<p class="muted">At {_when(view.now)} UTC; batches and alerts since {_when(view.since)} UTC.</p>',
             "<table><tr><th>dataset</th><th>state</th><th>latest batch</th><th>run</th><th>outputs</th>"
             "<th>refresh</th><th>late now</th></tr>"]
    parts += [_glance(d) for d in view.datasets]
    parts.append("</table>")
    for d in view.datasets:
        parts.append(_dataset(d, charts.get(d.name, ())))
    parts.append("</body></html>")
    return "\n".join(parts), csp()


def _glance(d: DatasetView) -> str:
    b = d.batches[0] if d.batches else None
    late = "; ".join(f"{v.stage} since {_when(v.late_since)}" for v in d.late if v.state == "late") or "nothing"
    run = f"{_e(b.run.status)} ({_e(b.run.run_id)})" if b and b.run else "—"
    outputs = _badge(b.outputs.status) if b and b.outputs else "—"
    refresh = ", ".join(f"{_e(r.state)}" for r in b.refreshes) if b and b.refreshes else "—"
    return (f'<tr><td><a href="#ds-{_e(_anchor(d.name))}">{_e(d.name)}</a></td><td>{_badge(d.health)}</td>'
            f"<td>{_e(b.key) if b else '—'}</td><td>{run}</td><td>{outputs}</td><td>{refresh}</td>"
            f"<td>{_e(late)}</td></tr>")


def _anchor(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def _dataset(d: DatasetView, charts: Sequence[Chart]) -> str:
    parts = [f'<section id="ds-{_e(_anchor(d.name))}"><h2>{_e(d.name)} {_badge(d.health)}</h2>']
    for v in d.late:
        text = {"late": f"late since {_when(v.late_since)} (last arrival {_when(v.last_arrival)})",
                "on_time": f"last arrival {_when(v.last_arrival)}, next due {_when(v.due)}",
                "unknown": f"last arrival {_when(v.last_arrival)}, cadence not learned yet",
                "no_data": "no arrivals recorded"}.get(v.state, v.state)
        parts.append(f"<p>{_e(v.stage)}: {_e(text)}</p>")
    parts.append(_timeline(d.batches[:TIMELINE_BATCHES]))
    if charts:
        parts.append('<div class="charts">' + "".join(_chart(c) for c in charts) + "</div>")
    if d.alerts:
        parts.append("<p>Alerts: " + "; ".join(f"{_e(a.code)} via {_e(a.channel)} {_e(a.status)} {_when(a.at)}"
                                             + (f" (labelled {_e(a.label.replace('_', ' '))})" if a.label else "")
                                             for a in d.alerts[:15]) + "</p>")
    if d.batches:
        parts.append("<table><tr><th>batch</th><th>claimed</th><th>run</th><th>outputs</th><th>refresh</th>"
                     "<th>decision</th></tr>")
        parts += [_batch_row(b) for b in d.batches[:TABLE_BATCHES]]
        parts.append("</table>")
    else:
        parts.append('<p class="muted">No batches in this window.</p>')
    parts.append("</section>")
    return "\n".join(parts)


def _batch_row(b: BatchView) -> str:
    refresh = "<br>".join(f"{_e(r.target)}: {_e(r.state)}" + (f" — {_e(r.reason)}" if r.reason else "")
                          for r in b.refreshes) or "—"
    return (f"<tr><td>{_e(b.key)}</td><td>{_when(b.claimed_at)} {_e(b.claim)}"
            + (f"<br>{_e(b.error)}" if b.error else "") + "</td>"
            f"<td>{_e(describe_run(b.run)) if b.run else '—'}</td>"
            f"<td>{_e(describe_outputs(b.outputs)) if b.outputs else '—'}</td><td>{refresh}</td>"
            f"<td>{_e(b.decision or '—')}" + (f"<br>alerts: {_e(', '.join(b.alerts))}" if b.alerts else "")
            + "</td></tr>")


def _batch_state(b: BatchView) -> str:
    if b.claim == "start_failed" or (b.run and b.run.status in ("Failed", "Cancelled")):
        return "fail"
    if b.outputs and b.outputs.status:
        return b.outputs.status
    return "held" if b.decision == "refresh_held" else ""


def _timeline(batches: Sequence[BatchView]) -> str:
    """Oldest to newest, one square per batch coloured by its outcome; hover shows what happened."""
    if not batches:
        return ""
    size, gap = 16, 3
    ordered = list(reversed(batches))
    width = len(ordered) * (size + gap) + gap
    cells = []
    for i, b in enumerate(ordered):
        state = _batch_state(b)
        cells.append(f'<rect x="{gap + i * (size + gap)}" y="{gap}" width="{size}" height="{size}" '
                     f'fill="{COLOURS.get(state, COLOURS[""])}"><title>{_e(b.key)}: {_e(state or "pending")}'
                     f"</title></rect>")
    return (f'<svg class="timeline" width="{width}" height="{size + 2 * gap}" role="img" '
            f'aria-label="batch timeline">{"".join(cells)}</svg>')


def _fmt(value: float, unit: str) -> str:
    if unit == "share":
        return f"{value:.1%}"
    if unit == "psi":
        return f"{value:.2f}"
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}{suffix}"
    return f"{value:.0f}"


def _chart(chart: Chart) -> str:
    pts = chart.points
    head = (f'<svg class="chart" width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img" '
            f'aria-label="{_e(chart.title)}"><text x="{PAD_L}" y="15" font-size="13" font-weight="600">'
            f"{_e(chart.title)}</text>")
    if not pts:
        return head + f'<text x="{PAD_L}" y="{H // 2}" fill="#666">no history yet</text></svg>'
    t0, t1 = min(p.ts for p in pts), max(p.ts for p in pts)
    values = [p.value for p in pts] + [v for p in pts for v in (p.low, p.high) if v is not None]
    values += [v for _, v in chart.thresholds]
    lo, hi = min(values), max(values)
    if chart.unit in ("rows", "bytes", "share", "psi"):
        lo = min(lo, 0.0)
    if hi - lo < 1e-12:
        hi = lo + 1.0
    span = (t1 - t0).total_seconds() or 1.0

    def x(t: datetime) -> float:
        return PAD_L + (W - PAD_L - PAD_R) * ((t - t0).total_seconds() / span if t1 > t0 else 0.5)

    def y(v: float) -> float:
        return PAD_T + (H - PAD_T - PAD_B) * (1 - (v - lo) / (hi - lo))

    out = [head]
    # Axes: value range on the left, time range below.
    out.append(f'<line x1="{PAD_L}" y1="{H - PAD_B}" x2="{W - PAD_R}" y2="{H - PAD_B}" stroke="#999"/>')
    for v in (lo, hi):
        out.append(f'<text x="{PAD_L - 4}" y="{y(v) + 4:.1f}" font-size="10" text-anchor="end">'
                   f"{_e(_fmt(v, chart.unit))}</text>")
    out.append(f'<text x="{PAD_L}" y="{H - 8}" font-size="10">{_e(f"{t0:%Y-%m-%d}")}</text>')
    out.append(f'<text x="{W - PAD_R}" y="{H - 8}" font-size="10" text-anchor="end">{_e(f"{t1:%Y-%m-%d}")}</text>')
    # The learned band, where the points were judged.
    banded = [p for p in pts if p.low is not None and p.high is not None]
    if len(banded) >= 2:
        upper = " ".join(f"{x(p.ts):.1f},{y(p.high or 0):.1f}" for p in banded)
        lower = " ".join(f"{x(p.ts):.1f},{y(p.low or 0):.1f}" for p in reversed(banded))
        out.append(f'<polygon class="band" points="{upper} {lower}" fill="#1565c0" fill-opacity="0.12" '
                   f'stroke="none"><title>learned normal band</title></polygon>')
    for label, v in chart.thresholds:
        out.append(f'<line x1="{PAD_L}" y1="{y(v):.1f}" x2="{W - PAD_R}" y2="{y(v):.1f}" stroke="#c62828" '
                   f'stroke-dasharray="4 3" stroke-width="1"><title>{_e(label)} {_e(_fmt(v, chart.unit))}</title>'
                   "</line>")
    for at in chart.alerts:
        # An alert follows its file by moments: one after the last point still belongs to it.
        if t0 <= at <= t1 + ALERT_SLACK:
            ax = min(x(at), W - PAD_R)
            out.append(f'<line class="alert" x1="{ax:.1f}" y1="{PAD_T}" x2="{ax:.1f}" y2="{H - PAD_B}" '
                       f'stroke="#c62828" stroke-width="1" stroke-opacity="0.6"><title>alert sent '
                       f"{_e(_when(at))}</title></line>")
    line = " ".join(f"{x(p.ts):.1f},{y(p.value):.1f}" for p in pts)
    out.append(f'<polyline points="{line}" fill="none" stroke="#1565c0" stroke-width="1.5"/>')
    for p in pts:
        colour = "#c62828" if p.flagged else "#1565c0"
        out.append(f'<circle class="point" cx="{x(p.ts):.1f}" cy="{y(p.value):.1f}" r="{3.5 if p.flagged else 2.2}" '
                   f'fill="{colour}"><title>{_e(_when(p.ts))}: {_e(_fmt(p.value, chart.unit))}'
                   + (" (outside the band)" if p.flagged else "") + "</title></circle>")
    out.append("</svg>")
    return "".join(out)
