"""``make demo``: the product's story on this machine, printed as a timeline.

Azurite, the ADF emulator and the local Functions host run the real app (``function_app.app``) with
the demo config (``pipelines.yaml``). Exit 0 only when every step played as designed.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import random
import sys
import tempfile
import time
import uuid
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
    from shared.services import guard_output

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
        guard_output.record_history(deps, observation, BlobInfo(name, len(data), ts, f"seed-{day}"))
    timeline.say("history", f"seeded {SEED_DAYS} days of output history (profiles of generated normal outputs)")


def read_alerts(connection_string: str) -> list[dict[str, Any]]:
    from azure.storage.queue import QueueClient

    queue = QueueClient.from_connection_string(connection_string, "alerts")
    try:
        messages = list(queue.peek_messages(max_messages=32))
    except Exception:
        return []
    return [json.loads(base64.b64decode(m.content)) for m in messages]


def main() -> int:
    from sandbox.adf_emulator import ADFEmulator
    from sandbox.azurite import Azurite
    from sandbox.host import LocalHost
    from shared import bootstrap
    from shared.adapters.storage import AzureBlobStore
    from shared.config import StorageTarget
    from shared.services import guard_output

    timeline = Timeline()
    workdir = Path(tempfile.mkdtemp(prefix="autopilot-demo-", dir=ROOT / ".sandbox" if (ROOT / ".sandbox").exists()
                                    else None))
    with Azurite(workdir / "azurite") as azurite:
        conn = azurite.connection_string
        timeline.say("azurite", "storage emulator up (blob, queue, table) on free ports")
        with ADFEmulator(config={"DATA_STORAGE": conn}) as adf:
            timeline.say("adf", f"ADF emulator up at {adf.url}, pipeline score_batch registered")
            settings = {
                "AzureWebJobsStorage": conn, "DATA_STORAGE": conn,
                "PIPELINES_CONFIG": str(ROOT / "pipelines.yaml"), "UPSTREAM_SCHEDULE": "0 0 * * * *",
                "OUTPUT_CONTAINER": "outputs", "FOLLOWUP_SCHEDULE": "0 */5 * * * *",
                "ADF_SUBSCRIPTION_ID": adf.subscription_id,
                "ADF_RESOURCE_GROUP": adf.resource_group, "ADF_FACTORY_NAME": adf.factory_name,
                "ADF_ENDPOINT": adf.url, "STATE_TABLE_PREFIX": "demo" + uuid.uuid4().hex[:6],
            }
            deps = bootstrap.build_deps(settings)
            seed_history(deps, timeline)
            blobs = AzureBlobStore(StorageTarget(connection_string=conn))
            import function_app

            with LocalHost(function_app.app, settings, host_json=ROOT / "host.json") as host:
                timeline.say("host", "local Functions host up: " + ", ".join(f.name for f in host.functions))
                rng = random.Random(11)
                day = datetime.now(UTC)
                prefix = f"raw/scores/{day:%Y/%m/%d}"
                blobs.write_bytes("upstream", f"{prefix}/region=eu/part-0.csv", upstream_csv(NORMAL_ROWS, rng))
                blobs.write_bytes("upstream", f"{prefix}/region=us/part-0.csv",
                                  upstream_csv(NORMAL_ROWS, rng, start_id=NORMAL_ROWS))
                timeline.say("upstream", f"2 files landed in {prefix}/ (region=eu, region=us); no marker yet")
                tick = host.fire_timer("upstream_watcher")
                timeline.check(tick.succeeded and adf.runs() == [],
                               "tick 1: batch incomplete (no _SUCCESS marker), nothing started")
                blobs.write_bytes("upstream", f"{prefix}/_SUCCESS", b"")
                timeline.say("upstream", f"marker {prefix}/_SUCCESS written last")
                tick = host.fire_timer("upstream_watcher")
                batch_id = f"scores:{day:%Y/%m/%d}"
                runs = adf.runs(batch_id=batch_id)
                timeline.check(tick.succeeded and len(runs) == 1,
                               f"tick 2: exactly one ADF run started for batch {batch_id}")
                if runs:
                    finished = adf.wait_finished(runs[0]["runId"], timeout=60)
                    timeline.say("adf", f"run {runs[0]['runId'][:8]}… {finished['status']}: scored the batch "
                                        "into outputs/scores/…")
                verdict = wait(lambda: guard_output.read_verdict(deps, "scores", f"{day:%Y/%m/%d}"), 30)
                timeline.check(bool(verdict) and verdict["status"] == "pass",
                               f"output guard: good output validated, verdict {verdict and verdict['status']}")
                tick = host.fire_timer("upstream_watcher")
                timeline.check(tick.succeeded and len(adf.runs()) == 1,
                               "tick 3: the batch already ran, nothing new started")

                # An anomalous batch: a third of the rows, and a feature shift that moves the scores.
                other = day - timedelta(days=1)
                other_prefix = f"raw/scores/{other:%Y/%m/%d}"
                blobs.write_bytes("upstream", f"{other_prefix}/region=eu/part-0.csv",
                                  upstream_csv(NORMAL_ROWS * 2 // 3, rng, shift=2.5))
                blobs.write_bytes("upstream", f"{other_prefix}/_SUCCESS", b"")
                timeline.say("upstream", f"a late batch landed in {other_prefix}/: a third of the usual rows, "
                                         "shifted features")
                tick = host.fire_timer("upstream_watcher")
                runs2 = adf.runs(batch_id=f"scores:{other:%Y/%m/%d}")
                timeline.check(tick.succeeded and len(runs2) == 1, "tick 4: one run started for that batch")
                if runs2:
                    adf.wait_finished(runs2[0]["runId"], timeout=60)
                verdict2 = wait(lambda: guard_output.read_verdict(deps, "scores", f"{other:%Y/%m/%d}"), 30)
                timeline.check(bool(verdict2) and verdict2["status"] == "fail",
                               f"output guard: anomalous output judged {verdict2 and verdict2['status']}")
                alerts = wait(lambda: [a for a in read_alerts(conn) if a["code"] == "output_failed"], 10)
                for alert in alerts:
                    timeline.say("alert", f"[{alert['severity']}] {alert['code']}: {alert['message']}")
                    timeline.say("alert", f"        findings: {alert['facts'].get('findings', '')}")
                findings = alerts[0]["facts"].get("findings", "") if alerts else ""
                timeline.check("rows_anomaly" in findings and "drift" in findings,
                               "the alert names the row-count anomaly and the score drift")
    if timeline.failures:
        timeline.say("demo", f"FAILED: {len(timeline.failures)} step(s) did not play as designed")
        return 1
    timeline.say("demo", "every step played as designed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
