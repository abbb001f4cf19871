"""``make demo``: the product's story on this machine, printed as a timeline.

Azurite, the ADF emulator and the local Functions host run the real app (``function_app.app``) with
the demo config (``pipelines.yaml``); a second act runs one dataset on each engine (ADF, Synapse,
Fabric) side by side (``sandbox.demo_engines``). Exit 0 only when every step played as designed.
"""

from __future__ import annotations

import csv
import io
import logging
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SEED_DAYS = 21
NORMAL_ROWS = 300          # per upstream file; a batch has two files (region=eu, region=us)


class Timeline:
    def __init__(self) -> None:
        self.start = time.monotonic()
        self.failures: list[str] = []

    def say(self, actor: str, text: str) -> None:
        print(f"[{time.monotonic() - self.start:6.1f}s] {actor:<10} {text}", flush=True)

    def check(self, ok: bool, text: str) -> bool:
        self.say("check", ("PASS  " if ok else "FAIL  ") + text)
        if not ok:
            self.failures.append(text)
        return ok


def wait(condition: Callable[[], Any], timeout: float, interval: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    return condition()


def upstream_csv(rows: int, rng: random.Random, *, shift: float = 0.0, start_id: int = 0) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "ts", "f1", "f2", "f3"])
    now = datetime.now(UTC).replace(microsecond=0)
    for i in range(rows):
        writer.writerow([start_id + i, (now - timedelta(minutes=i)).isoformat(),
                         f"{rng.gauss(0 + shift, 1):.4f}", f"{rng.gauss(0, 1):.4f}", f"{rng.gauss(0, 1):.4f}"])
    return out.getvalue().encode()


def seed_history(deps: Any, timeline: Timeline) -> None:
    """Profile SEED_DAYS generated output files (same model, normal data) into the output history,
    as if Autopilot had been watching this dataset for three weeks."""
    from sandbox.pipelines.score_batch import score
    from shared.adapters import profilers
    from shared.core import history
    from shared.core.models import BlobInfo
    from shared.services import output_guard

    contract = deps.config.dataset("scores").output.contract
    rng = random.Random(7)
    today = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0)
    for day in range(SEED_DAYS, 0, -1):
        ts = today - timedelta(days=day)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["id", "ts", "score", "label"])
        rows = int(2 * NORMAL_ROWS * (1 + rng.gauss(0, 0.03)))
        for i in range(rows):
            s = score({"f1": str(rng.gauss(0, 1)), "f2": str(rng.gauss(0, 1)), "f3": str(rng.gauss(0, 1))})
            writer.writerow([i, ts.isoformat(), f"{s:.6f}", int((s or 0) >= 0.5)])
        data = out.getvalue().encode()
        name = f"scores/{ts:%Y/%m/%d}/scores-seed.csv"
        profile = profilers.profile_file(io.BytesIO(data), contract, fmt="csv", size=len(data))
        observation = history.from_profile(profile, ts=ts, dataset="scores", stage="output", name=name,
                                           drift_columns=contract.drift.columns)
        output_guard.record_history(deps, observation, BlobInfo(name, len(data), ts, f"seed-{day}"))
    timeline.say("history", f"seeded {SEED_DAYS} days of output history (profiles of generated normal outputs)")


def decided(deps: Any, run_id: str) -> dict[str, Any]:
    """The webhook answers 202 at once; its worker decides moments later (what GET Location shows)."""
    from shared.core.outcomes import Decided
    from shared.services import pipeline_events

    reply = wait(lambda: r if isinstance(r := pipeline_events.status_of(deps, run_id), Decided) else None, 60)
    return reply.decision if isinstance(reply, Decided) else {}


def main() -> int:
    from sandbox.logs import configure

    # The timeline (stdout) tells the story; stderr shows the app's own log lines an operator reads
    # (output validated, pipeline run started, alert sent…) and every warning, one line each.
    handler = configure(logging.INFO, tracebacks=False, only=("functions.output_guard", "shared.services"))
    try:
        return play()
    finally:
        logging.getLogger().removeHandler(handler)


def play() -> int:
    from sandbox import demo_acts
    from sandbox.stack import Stack
    from shared.services import output_guard

    timeline = Timeline()
    (ROOT / ".sandbox").mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="demo-", dir=ROOT / ".sandbox"))
    with Stack(workdir, pipelines_config=demo_acts.demo_config(workdir), queue_visibility="00:00:03") as stack:
        adf, blobs, deps = stack.adf, stack.blobs, stack.deps
        timeline.say("sandbox", "Azurite, ADF, Power BI, Teams and Azure DevOps emulators, an SMTP sink and the "
                                "local Functions host are up")
        timeline.say("host", "functions: " + ", ".join(f.name for f in stack.host.functions))
        seed_history(deps, timeline)
        rng = random.Random(11)
        day = datetime.now(UTC)
        prefix = f"raw/scores/{day:%Y/%m/%d}"
        blobs.write_bytes("upstream", f"{prefix}/region=eu/part-0.csv", upstream_csv(NORMAL_ROWS, rng))
        blobs.write_bytes("upstream", f"{prefix}/region=us/part-0.csv",
                          upstream_csv(NORMAL_ROWS, rng, start_id=NORMAL_ROWS))
        timeline.say("upstream", f"2 files landed in {prefix}/ (region=eu, region=us); no marker yet")
        tick = stack.host.fire_timer("upstream_watcher")
        timeline.check(tick.succeeded and adf.runs() == [],
                       "tick 1: batch incomplete (no _SUCCESS marker), nothing started")
        blobs.write_bytes("upstream", f"{prefix}/_SUCCESS", b"")
        timeline.say("upstream", f"marker {prefix}/_SUCCESS written last")
        tick = stack.host.fire_timer("upstream_watcher")
        batch_id = f"scores:{day:%Y/%m/%d}"
        runs = adf.runs(batch_id=batch_id)
        timeline.check(tick.succeeded and len(runs) == 1, f"tick 2: exactly one ADF run started for batch {batch_id}")
        if runs:
            finished = adf.wait_finished(runs[0]["runId"], timeout=90)
            timeline.say("adf", f"run {runs[0]['runId'][:8]}… {finished['status']}: scored the batch into "
                                "outputs/scores/…, then called /api/pipeline-events")
            verdict = wait(lambda: output_guard.read_verdict(deps, "scores", f"{day:%Y/%m/%d}"), 30)
            timeline.check(verdict is not None and verdict["status"] == "pass",
                           "output guard: the output passed its contract and history")
            decision = decided(deps, runs[0]["runId"])
            timeline.say("webhook", f"run verified with ADF; decision: {decision.get('decision')}")
            timeline.check(decision.get("decision") == "refresh_started" and len(stack.powerbi.refreshes()) == 1,
                           "Power BI: one refresh requested because the run succeeded and its outputs passed")
            rows = [m for m in stack.metrics("autopilot.output.rows") if m["dimensions"].get("dataset") == "scores"]
            outcomes = [m["dimensions"].get("outcome") for m in stack.metrics("autopilot.runs")]
            timeline.check(bool(rows) and "succeeded" in outcomes,
                           "metrics recorded (customMetrics in Azure): autopilot.output.rows "
                           f"{rows[0]['sum'] if rows else 0:,.0f} for scores, autopilot.runs outcome={outcomes}")
        tick = stack.host.fire_timer("upstream_watcher")
        timeline.check(tick.succeeded and len(adf.runs()) == 1, "tick 3: the batch already ran, nothing new started")

        stack.teams.set_down(True)
        timeline.say("teams", "the Teams webhook goes down (503) from now on")
        other = day - timedelta(days=1)
        other_prefix = f"raw/scores/{other:%Y/%m/%d}"
        blobs.write_bytes("upstream", f"{other_prefix}/region=eu/part-0.csv",
                          upstream_csv(NORMAL_ROWS * 2 // 3, rng, shift=2.5))
        blobs.write_bytes("upstream", f"{other_prefix}/_SUCCESS", b"")
        timeline.say("upstream", f"a late batch landed in {other_prefix}/: a third of the usual rows, shifted "
                                 "features")
        tick = stack.host.fire_timer("upstream_watcher")
        runs2 = adf.runs(batch_id=f"scores:{other:%Y/%m/%d}")
        timeline.check(tick.succeeded and len(runs2) == 1, "tick 4: one run started for that batch")
        if runs2:
            adf.wait_finished(runs2[0]["runId"], timeout=90)
            verdict2 = wait(lambda: output_guard.read_verdict(deps, "scores", f"{other:%Y/%m/%d}"), 30)
            timeline.check(verdict2 is not None and verdict2["status"] == "fail",
                           f"output guard: the anomalous output failed ({verdict2 and verdict2['status']})")
            drift = [m for m in stack.metrics("autopilot.output.drift") if m["dimensions"].get("column") == "score"]
            if drift:
                timeline.say("metrics", f"autopilot.output.drift column=score: highest PSI {drift[0]['max']:.2f} "
                                        "(the workbook's drift chart; the drift alert rule fires at 0.25)")
            decision2 = decided(deps, runs2[0]["runId"])
            timeline.say("webhook", f"decision: {decision2.get('decision')}; "
                                    + "; ".join(r.get("reason", "") for r in decision2.get("refreshes", [])))
            timeline.check(decision2.get("decision") == "refresh_held" and len(stack.powerbi.refreshes()) == 1,
                           "Power BI: refresh held, dashboards keep the last good data")
        mails = stack.smtp.wait_for(2, timeout=30)
        for mail in mails:
            timeline.say("email", f"to {mail.message['To']}: {mail.message['Subject']}")
        timeline.check(len(mails) >= 2, "the alerts reached email at once, Teams being down")
        failed = wait(lambda: [i for i in stack.host.invocations
                               if i.function == "alert_dispatcher" and not i.succeeded], 30) or []
        timeline.say("dispatch", f"{len(failed)} delivery attempt(s) to Teams failed (503); the queue retries them")
        timeline.check(stack.teams.cards == [], "nothing reached Teams while it was down, and nothing was dropped")
        stack.teams.set_down(False)
        timeline.say("teams", "the Teams webhook is back")
        cards = wait(lambda: stack.teams.cards if len(stack.teams.cards) >= 2 else None, 60) or []
        for card in cards:
            timeline.say("teams", "card: " + card["body"][0]["text"].replace("\\", ""))
        titles = " ".join(c["body"][0]["text"] for c in cards)
        timeline.check("output failed" in titles and "refresh held" in titles,
                       "after the outage the retried alerts reached Teams (output failed, refresh held)")
        facts = " ".join(str(f.get("value", "")) for c in cards for b in c["body"] if b["type"] == "FactSet"
                         for f in b["facts"])
        timeline.check("rows\\_anomaly" in facts and "drift" in facts,
                       "the output alert names the row-count anomaly and the score drift")
        sent_twice = len(stack.teams.cards) - len({c["body"][0]["text"] for c in stack.teams.cards})
        timeline.check(sent_twice == 0, "each alert reached Teams once")
        demo_acts.retraining(stack, timeline, wait)
        demo_acts.spark_batch(stack, timeline, wait, day)
        demo_acts.databricks_failure(stack, timeline, wait, day)
        demo_acts.work_item(stack, timeline, wait)
        demo_acts.status(stack, timeline)
    from sandbox.demo_engines import play_engines

    play_engines(timeline, workdir)
    if timeline.failures:
        timeline.say("demo", f"FAILED: {len(timeline.failures)} step(s) did not play as designed")
        return 1
    timeline.say("demo", "every step played as designed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
