"""The operator's view on fakes: rows joined into batches → runs → outputs → refresh → alerts, what is
late, and a status page that never lets data become markup."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from types import MappingProxyType
from typing import Any

from shared.core import status_charts, status_page, status_text, status_view
from shared.core.claims import Claim
from shared.core.spec import PipelinesConfig
from shared.core.typed import coerce
from shared.services import status
from shared.services.deps import Deps
from shared.services.ledgers import Ledgers
from shared.services.ledgers.batches import BatchRecord
from shared.services.ledgers.verdicts import Verdict
from shared.services.run_durations import DURATION_SPEC
from tests import status_world
from tests.fakes import FixedClock, ListAlertSink, MemoryBlobStore, MemoryStateStore

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
HOSTILE = '<script>alert(1)</script>"\'&<img src=x onerror=alert(2)>'


def config(*names: str) -> PipelinesConfig:
    cfg, problems = coerce(PipelinesConfig, {"datasets": [{
        "name": name, "upstream": {"container": "upstream", "prefix": f"raw/{name}",
                                   "staleness": {"cadence": "1d"}},
        "pipeline": {"name": "score_batch", "parameters": {"batchId": "{batch_id}"}},
        "output": {"container": "outputs", "prefix": name, "staleness": {"cadence": "1d"},
                   "contract": {"columns": {"score": {"type": "float"}}, "drift": {"columns": ["score"]}}}}
        for name in names]})
    assert cfg is not None, problems
    return cfg


def world(*names: str) -> Deps:
    return Deps(config(*names), FixedClock(NOW), MemoryBlobStore(), MemoryStateStore(), None, ListAlertSink())


def test_a_failed_batch_shows_its_slow_run_failing_file_held_refresh_and_alerts() -> None:
    deps = world("scores")
    status_world.seed(deps, "scores", NOW, days=10)

    view = status.view(deps, NOW, NOW - timedelta(days=7))

    [ds] = view.datasets
    assert ds.health == "fail" and len(ds.batches) == 6     # 06:00 on 23…28 Nov
    latest = ds.batches[0]
    assert latest.key == "2026/11/28" and latest.decision == "refresh_held"
    assert latest.run is not None and latest.run.slow and latest.run.band is not None
    assert latest.outputs == status_view.OutputsView(1, 1, "fail", ("part-0.csv",))
    assert [(r.state, r.reason) for r in latest.refreshes] == [("held", "outputs failed: part-0.csv")]
    assert {(a.code, a.channel) for a in ds.alerts} == {("output_failed", "teams"), ("output_failed", "email"),
                                                        ("refresh_held", "teams"), ("refresh_held", "email")}
    earlier = ds.batches[1]
    assert earlier.run is not None and not earlier.run.slow
    assert [r.state for r in earlier.refreshes] == ["Completed"]   # the refresh ledger's outcome wins


def test_the_json_document_holds_every_part_and_the_text_names_them() -> None:
    deps = world("scores")
    status_world.seed(deps, "scores", NOW, days=3)
    view = status.view(deps, NOW, NOW - timedelta(days=7))

    doc = json.loads(json.dumps(view.to_dict()))
    batch = doc["datasets"][0]["batches"][0]
    assert set(batch) >= {"key", "run", "outputs", "refreshes", "decision", "alerts"}
    assert batch["outputs"]["failing"] == ["part-0.csv"] and batch["run"]["id"]
    text = status_text.render_text(view)
    assert "scores  [FAIL]" in text and "outputs fail: 1/1 files judged; failing: part-0.csv" in text
    assert "refresh pbi-1: held (outputs failed: part-0.csv)" in text and "output_failed via teams" in text


def test_a_stage_past_its_cadence_is_late_now_even_before_the_watcher_ticks() -> None:
    deps = world("scores")
    status_world.seed(deps, "scores", NOW - timedelta(days=3), days=10, bad_last=False)

    [ds] = status.view(deps, NOW, NOW - timedelta(days=7)).datasets

    assert {v.stage: v.state for v in ds.late} == {"upstream": "late", "output": "late"}
    assert ds.health == "late"


def test_a_batch_claimed_but_not_decided_shows_its_run_in_progress_and_outputs_so_far() -> None:
    deps = world("scores")
    started = NOW - timedelta(minutes=4)
    claim = Claim("started", "t", started, started, 1, "scores:2026/11/29", ("a.csv",), "run-1", started)
    Ledgers.of(deps).batches.upsert(BatchRecord.of("scores", "2026/11/29", claim))
    Ledgers.of(deps).verdicts.upsert(Verdict("scores", "2026/11/29", MappingProxyType({"scores/x/p1.csv": "pass"})))

    [ds] = status.view(deps, NOW, NOW - timedelta(days=1)).datasets

    [batch] = ds.batches
    assert batch.run is not None and batch.run.status == "InProgress" and batch.run.duration_s == 240
    assert batch.outputs == status_view.OutputsView(1, None, "pass", ())
    assert status_text.describe_outputs(batch.outputs) == "outputs pass: 1 files judged so far"


def test_only_the_named_dataset_is_shown_and_an_unknown_name_is_a_key_error() -> None:
    deps = world("scores", "sales")
    status_world.seed(deps, "scores", NOW, days=2)
    status_world.seed(deps, "sales", NOW, days=2)

    assert [d.name for d in status.view(deps, NOW, NOW - timedelta(days=7), "sales").datasets] == ["sales"]
    try:
        status.view(deps, NOW, NOW - timedelta(days=7), "nope")
    except KeyError:
        pass
    else:
        raise AssertionError("an unknown dataset must be refused")


def test_charts_carry_the_learned_band_and_flag_the_bad_batch() -> None:
    deps = world("scores")
    status_world.seed(deps, "scores", NOW, days=30)
    observations = status.history(deps, NOW - timedelta(days=90))
    contract = deps.config.dataset("scores").output.contract  # type: ignore[union-attr]

    charts = {c.unit: c for c in status_charts.charts(observations, contract, [NOW - timedelta(hours=1)])}

    assert set(charts) == {"rows", "bytes", "share", "psi"}
    rows = charts["rows"].points
    assert len(rows) == 30 and rows[-1].flagged and not any(p.flagged for p in rows[:-1])
    assert rows[-1].low is not None and rows[0].low is None     # judged once history suffices
    assert charts["psi"].points[-1].flagged


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs


def test_hostile_dataset_file_and_alert_names_are_text_never_markup() -> None:
    deps = world(HOSTILE.replace("<", "").replace(">", "")[:10] or "x")
    name = deps.config.datasets[0].name
    status_world.seed(deps, name, NOW, days=20, file_name=HOSTILE, output_prefix=HOSTILE)
    current = status.view(deps, NOW, NOW - timedelta(days=90))
    # A dataset name straight from state (the config refuses such names; rows may still carry anything).
    hostile = status_view.StatusView(NOW, current.since, tuple(
        status_view.DatasetView(HOSTILE, d.health, d.batches, d.alerts, d.late) for d in current.datasets))
    charts = {HOSTILE: status_charts.charts(status.history(deps, NOW - timedelta(days=90)), None)}

    html, csp = status_page.render(hostile, charts)

    parser = _Collect()
    parser.feed(html)
    assert "script" not in parser.tags and "img" not in parser.tags
    assert not any(k.startswith("on") for k, _ in parser.attrs)
    assert HOSTILE not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "script-src 'none'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
    style = re.search(r"<style>(.*?)</style>", html, re.S)
    assert style is not None and style.group(1) == status_page.STYLE


def test_the_page_draws_a_chart_with_points_for_every_dataset() -> None:
    deps = world("scores")
    status_world.seed(deps, "scores", NOW, days=20)

    outcome: Any = status.page_request(lambda: deps, None)

    assert isinstance(outcome, status.Page)
    assert outcome.html.count('<svg class="chart"') == 4 and outcome.html.count('class="point"') >= 60
    assert 'class="band"' in outcome.html and 'class="alert"' in outcome.html


def test_the_core_view_needs_no_storage() -> None:
    claim = Claim("start_failed", "t", NOW, NOW, 1, "scores:2026/11/29", error="ADF said 403")
    rows = status_view.StatusRows(batches=[status_view.BatchRow("scores", "2026/11/29", claim)])

    view = status_view.build_view(config("scores").datasets, rows, NOW, NOW - timedelta(days=1), DURATION_SPEC)

    assert view.datasets[0].health == "fail" and view.datasets[0].batches[0].error == "ADF said 403"


class _Verifier:
    def __init__(self, error: Exception | None) -> None:
        self.error = error
        self.seen: list[str | None] = []

    def verify(self, authorization: str | None) -> str:
        self.seen.append(authorization)
        if self.error is not None:
            raise self.error
        return "principal"


def test_with_entra_id_on_the_webhook_the_page_needs_the_same_token() -> None:
    from dataclasses import replace

    from functions import http_replies
    from shared.core.outcomes import Denied
    from shared.core.outcomes import Unavailable as Down
    from shared.errors import Rejected, Unavailable

    deps = world("scores")
    refused = replace(deps, token_verifier=_Verifier(Rejected("no bearer token", status=401)))
    forbidden = replace(deps, token_verifier=_Verifier(Rejected("not allowed", status=403)))
    down = replace(deps, token_verifier=_Verifier(Unavailable("keys unreachable")))
    allowed = replace(deps, token_verifier=_Verifier(None))

    assert status.page_request(lambda: refused, None) == Denied("no bearer token", authenticated=False)
    assert http_replies.to_page_response(status.page_request(lambda: forbidden, "Bearer x")).status_code == 403
    assert isinstance(status.page_request(lambda: down, "Bearer x"), Down)
    page = http_replies.to_page_response(status.page_request(lambda: allowed, "Bearer good"))
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "script-src 'none'" in page.headers["Content-Security-Policy"]
