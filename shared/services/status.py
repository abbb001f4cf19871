"""The operator's view (``autopilot status``, ``GET /api/status``): read the state tables through the
ledgers, one query per table, and let the core join them (``shared.core.status_view``).

Read only: nothing here writes state, starts a run or sends an alert.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.core import status_charts, status_page, status_view
from shared.core.history import Observation
from shared.core.outcomes import Denied, Unavailable
from shared.core.spec import DatasetSpec
from shared.errors import ExternalError
from shared.services import access
from shared.services.deps import Deps, row_key
from shared.services.ledgers import Ledgers
from shared.services.ledgers.feedback import LABEL
from shared.services.ledgers.refreshes import PENDING
from shared.services.ledgers.table import parse_time, unkey
from shared.services.ledgers.watch import WATCHER
from shared.services.run_durations import DURATION_SPEC

log = logging.getLogger(__name__)

BAND_HISTORY = timedelta(days=14)   # decisions read for the duration band, at least
READERS = 4                         # queries in flight at once
ROW_KEYS_END = "9999"               # time-keyed rows start with a year; other rows (episode, pending) sort after


def _iso(t: datetime) -> str:
    return t.isoformat()


def read_rows(deps: Deps, since: datetime, now: datetime) -> status_view.StatusRows:
    """Every row the view needs, one query per table (a filtered scan across partitions), the queries
    side by side: the store answers one while the rows of another are read."""
    led = Ledgers.of(deps)

    def batches() -> list[status_view.BatchRow]:
        return [status_view.BatchRow(r.dataset, unkey(r.row), r.claim)
                for r in led.batches.scan(since=("first_claimed_at", _iso(since)))]

    def runs() -> list[status_view.RunRow]:
        return [status_view.RunRow(r.run_id, r.dataset, r.pipeline, r.status, r.started_at)
                for r in led.runs.scan(since=("started_at", _iso(since)))]

    def decisions() -> list[status_view.DecisionRow]:
        out = []
        for e in led.events.scan(since=("at", _iso(min(since, now - BAND_HISTORY)))):
            try:
                reply = json.loads(e.reply) if e.decided and e.reply else {}
            except ValueError:
                reply = {}
            out.append(status_view.DecisionRow(e.run_id, e.decided, e.at, reply if isinstance(reply, dict) else {}))
        return out

    def verdicts(window: list[status_view.BatchRow]) -> list[status_view.VerdictRow]:
        # Verdict rows carry no time; their row is the batch key, so the window's smallest batch key bounds
        # them from below in every partition (rows of older batches are not read; extra ones are harmless).
        lowest = min((row_key(b.key) for b in window), default=None)
        return [] if lowest is None else [status_view.VerdictRow(v.dataset, v.batch, dict(v.files), v.status)
                                          for v in led.verdicts.scan(lowest)]

    def refreshes() -> list[status_view.RefreshRow]:
        # Two queries of the refreshes table: the requested rows (keyed by day) and the pending rows.
        out = [status_view.RefreshRow(q.run_id, q.target, q.status, q.requested_at, q.error or "")
               for q in led.refreshes.scan(since.date().isoformat(), ROW_KEYS_END)]
        return out + [status_view.RefreshRow(r.run_id, r.target, "pending", r.not_before, r.reason)
                      for r in led.pending_refreshes.scan(PENDING, PENDING + "~") if r.run_id]

    def alerts() -> list[status_view.AlertRow]:
        # The labels people gave alerts (feedback table, one query), shown beside the alert.
        labels = {la.fingerprint: la.action for la in sorted(led.labels.scan(LABEL, LABEL + "~"),
                                                              key=lambda la: la.episode)}
        return [status_view.AlertRow(a.dataset, a.code, a.channel, a.status, _alert_time(a.instance), a.detail,
                                     a.fingerprint, labels.get(a.fingerprint, ""))
                for a in led.attempts.scan(_iso(since), ROW_KEYS_END)]

    def arrivals() -> list[status_view.ArrivalRow]:
        return [status_view.ArrivalRow(a.dataset, a.stage, tuple(a.times()), a.last_arrival, a.late_since)
                for a in led.arrivals.scan() if a.dataset != WATCHER]

    with ThreadPoolExecutor(max_workers=READERS) as pool:
        got_batches = pool.submit(batches)
        got_verdicts = pool.submit(lambda: verdicts(got_batches.result()))
        got_runs, got_decisions, got_refreshes, got_alerts, got_arrivals = (
            pool.submit(runs), pool.submit(decisions), pool.submit(refreshes), pool.submit(alerts),
            pool.submit(arrivals))
        return status_view.StatusRows(got_batches.result(), got_runs.result(), got_decisions.result(),
                                      got_verdicts.result(), got_refreshes.result(), got_alerts.result(),
                                      got_arrivals.result())


def _alert_time(instance: str) -> datetime | None:
    return parse_time(instance.partition("|")[0])


def datasets_named(deps: Deps, name: str | None) -> tuple[DatasetSpec, ...]:
    """The config's datasets, or the one named; raises KeyError for a name the config does not have."""
    if not name:
        return deps.config.datasets
    return (deps.config.dataset(name),)


def view(deps: Deps, now: datetime, since: datetime, dataset: str | None = None) -> status_view.StatusView:
    """Raises KeyError for an unknown dataset, ExternalError when state cannot be read."""
    datasets = datasets_named(deps, dataset)
    return status_view.build_view(datasets, read_rows(deps, since, now), now, since, DURATION_SPEC)


def history(deps: Deps, since: datetime) -> list[Observation]:
    """The output observations since ``since`` (every dataset, one query); unreadable rows are left out."""
    out = []
    for record in Ledgers.of(deps).history.scan(_iso(since), ROW_KEYS_END):
        if record.stage != "output":
            continue
        try:
            out.append(record.parsed())
        except ValueError:
            continue
    return out


@dataclass(frozen=True)
class Page:
    """The status page, rendered: its HTML and the Content-Security-Policy that lets only its own style in."""

    html: str
    csp: str


PageOutcome = Page | Denied | Unavailable
PAGE_WINDOW = timedelta(days=90)     # the charts' history, the timeline's batches and the alerts marked


def page_request(get_deps: Callable[[], Deps], authorization: str | None) -> PageOutcome:
    """``GET /api/status``: the function key is the host's; the Entra ID token (when the webhook uses one)
    is checked here, as for the webhook."""
    deps = access.admit(get_deps, authorization)
    if isinstance(deps, (Denied, Unavailable)):
        return deps
    now = deps.clock.now()
    try:
        current = view(deps, now, now - PAGE_WINDOW)
        observations = history(deps, now - PAGE_WINDOW)
    except ExternalError as exc:
        log.warning("status page: state unavailable", extra={"error_type": type(exc).__name__})
        return Unavailable("state is unavailable; retry later", 30)
    charts = {ds.name: status_charts.charts(_of(observations, ds.name), ds.output.contract if ds.output else None,
                                            [a.at for d in current.datasets if d.name == ds.name
                                             for a in d.alerts if a.at is not None and a.status == "sent"])
              for ds in deps.config.datasets}
    html, csp = status_page.render(current, charts)
    return Page(html, csp)


def _of(observations: Sequence[Observation], dataset: str) -> list[Observation]:
    return sorted((o for o in observations if o.dataset == dataset), key=lambda o: o.ts)
