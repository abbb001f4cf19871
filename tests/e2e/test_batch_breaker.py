"""A Spark-style batch of many files on the sandbox: the breaker waits for the whole batch."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sandbox.demo import upstream_csv, wait
from sandbox.stack import Stack
from shared.core.outcomes import Decided
from shared.services import pipeline_events
from shared.services.ledgers import Ledgers

ROOT = Path(__file__).resolve().parents[2]


def with_marker(tmp_path: Path) -> Path:
    """The shipped config, its scores outputs laid out as Spark writes them: parts, then _SUCCESS."""
    text = (ROOT / "pipelines.yaml").read_text()
    assert "      prefix: scores\n" in text
    config = tmp_path / "pipelines.yaml"
    config.write_text(text.replace("      prefix: scores\n", "      prefix: scores\n      batch: {marker: _SUCCESS}\n",
                                   1))
    return config


def output_csv(rows: int) -> bytes:
    now = datetime.now(UTC).replace(microsecond=0)
    lines = ["id,ts,score,label"] + [f"{900_000 + i},{(now - timedelta(minutes=i)).isoformat()},0.{i % 10}5,{i % 2}"
                                     for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def test_a_bad_part_landing_after_the_webhook_holds_the_refresh_and_is_named(tmp_path: Path) -> None:
    with Stack(tmp_path / "stack", pipelines_config=with_marker(tmp_path), verdict_wait="60s") as stack:
        day = datetime.now(UTC)
        key = f"{day:%Y/%m/%d}"
        rng = random.Random(5)
        stack.blobs.write_bytes("outputs", f"scores/{key}/part-00000.csv", output_csv(120))   # a first good part
        stack.blobs.write_bytes("upstream", f"raw/scores/{key}/part-0.csv", upstream_csv(200, rng))
        stack.blobs.write_bytes("upstream", f"raw/scores/{key}/_SUCCESS", b"")
        assert stack.host.fire_timer("upstream_watcher").succeeded
        [run] = stack.adf.runs(batch_id=f"scores:{key}")
        stack.adf.wait_finished(run["runId"], timeout=90)        # its part written, the webhook called
        stack.host.wait_for("pipeline_events", timeout=30)
        verdicts = Ledgers.of(stack.deps).verdicts
        assert wait(lambda: (v := verdicts.find("scores", key)) is not None and len(v.files) == 2, 30)

        late = f"scores/{key}/part-00002.csv"
        stack.blobs.write_bytes("outputs", late, b"id,ts,score,label\n")   # a bad part, after the webhook
        stack.blobs.write_bytes("outputs", f"scores/{key}/_SUCCESS", b"")

        decided = wait(lambda: isinstance(d := pipeline_events.status_of(stack.deps, run["runId"]), Decided) and d,
                       90)
        assert isinstance(decided, Decided), "the run was never decided"
        decision = decided.decision
        assert decision["decision"] == "refresh_held" and decision["outputs"] == "fail"
        assert "1 of 3 files failed: part-00002.csv" in decision["refreshes"][0]["reason"]
        assert stack.powerbi.refreshes() == []
