"""A Spark-style batch on the sandbox judged as one: one observation in history, one alert naming the
failing part, a part of another schema found, a redelivered marker alerting nothing more."""

from __future__ import annotations

import json
import time
from pathlib import Path

from sandbox.demo import wait
from sandbox.stack import Stack
from shared.core.history import Observation
from shared.services.ledgers import Ledgers
from tests.e2e.test_batch_breaker import output_csv, with_marker

KEY = "2026/11/02"


def cards_of(stack: Stack, text: str) -> list[dict[str, object]]:
    return [c for c in stack.teams.cards if text in json.dumps(c)]


def guard_runs(stack: Stack, blob: str) -> int:
    return sum(1 for r in stack.host.invocations
               if r.function == "output_guard" and blob in json.dumps(r.detail, default=str))


def test_a_spark_batch_is_one_observation_and_one_alert_naming_its_odd_part(tmp_path: Path) -> None:
    with Stack(tmp_path / "stack", pipelines_config=with_marker(tmp_path)) as stack:
        root = f"scores/{KEY}"
        for part in range(3):
            stack.blobs.write_bytes("outputs", f"{root}/part-0000{part}-3f2a.c000.csv", output_csv(120))
        odd = f"{root}/part-00003-3f2a.c000.csv"   # written by another code version: no label column
        stack.blobs.write_bytes("outputs", odd, b"id,ts,score\n" + b"".join(
            f"{i},2026-11-02T00:00:00+00:00,0.5\n".encode() for i in range(120)))
        for bookkeeping in ("_started_8812", "_committed_8812", "_SUCCESS"):
            stack.blobs.write_bytes("outputs", f"{root}/{bookkeeping}", b"")

        led = Ledgers.of(stack.deps)
        judged = wait(lambda: led.batch_judgements.get("scores|batch", KEY.replace("/", "$2F")), 90)
        assert judged is not None, "the batch was never judged as one"
        assert judged.status == "fail" and "part_schema_mismatch" in judged.codes

        def history() -> list[Observation]:
            return [r.parsed() for r in led.history.between("scores", "output", "2000", "9999")]

        assert wait(history, 30)
        observations = history()
        assert [o.name for o in observations] == [f"batch:{KEY}"]      # the batch's, not the parts'
        assert observations[0].rows == 4 * 120
        assert len(led.parts.of_batch("scores", KEY)) == 4
        # The batch's status is the guard's last write after its judgement and history: wait for it.
        verdict = wait(lambda: (v := led.verdicts.find("scores", KEY)) is not None and v.batch_status and v, 30)
        assert verdict is not None and verdict.batch_status == "fail" and len(verdict.files) == 4

        cards = wait(lambda: cards_of(stack, f"Batch {KEY} of scores"), 60)
        assert cards and len(cards) == 1
        text = json.dumps(cards[0])
        assert "part-00003-3f2a.c000.csv" in text and "part-00000-3f2a.c000.csv" not in text
        assert [c for c in cards_of(stack, root) if f"Batch {KEY}" not in json.dumps(c)] == [], "no alert per part"

        before = guard_runs(stack, f"{root}/_SUCCESS")
        stack.blobs.write_bytes("outputs", f"{root}/_SUCCESS", b"")   # the marker delivered again
        assert wait(lambda: guard_runs(stack, f"{root}/_SUCCESS") > before, 60)
        time.sleep(5)   # time for any alert it raised to reach Teams
        assert len(cards_of(stack, f"Batch {KEY} of scores")) == 1
        assert len(history()) == 1
