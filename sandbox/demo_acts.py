"""The demo's later acts: a Spark-style batch, retraining on drift, a Databricks failure with its link, and
the operator's status view. ``sandbox.demo`` plays them after the main story, on the same sandbox."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parent.parent
EXTRA_CONFIG = """\
    retrain:                                  # the demo's drift starts a retraining run
      pipeline: retrain_scores
      parameters: {dataset: "{dataset}", incident: "{incident}", reason: "{codes}"}
      on: [drift]
      cooldown: 7d
  - name: features                            # written by a Spark job: part files, then _SUCCESS
    output:
      container: outputs
      prefix: features
      batch: {marker: _SUCCESS}
      contract:
        format: csv
        columns:
          id: {type: integer, nullable: false}
          value: {type: float, min: 0, max: 1}
        rows: {min: 10}
  - name: models                              # a Databricks notebook, Azure Batch and a Copy (seed 004)
    upstream: {container: upstream, prefix: raw/models, staleness: {enabled: false}}
    pipeline:
      name: train_and_publish
      parameters: {batchId: "{batch_id}"}
"""


class Timeline(Protocol):
    def say(self, actor: str, text: str) -> None: ...

    def check(self, ok: bool, text: str) -> bool: ...


Wait = Callable[[Callable[[], Any], float], Any]


def demo_config(workdir: Path) -> Path:
    """The shipped pipelines.yaml, plus what the later acts need (a retrain block for scores, a Spark-style
    output dataset and a Databricks pipeline's dataset)."""
    text = (ROOT / "pipelines.yaml").read_text(encoding="utf-8").rstrip("\n") + "\n"
    path = workdir / "pipelines.demo.yaml"
    path.write_text(text + EXTRA_CONFIG, encoding="utf-8")
    return path


def spark_batch(stack: Any, timeline: Timeline, wait: Wait, day: datetime) -> None:
    """Three part files, Spark's bookkeeping files and _SUCCESS land; each part is judged, the batch as one."""
    from shared.services.ledgers import Ledgers

    key = f"{day:%Y/%m/%d}"
    root = f"features/{key}"
    for part in range(3):
        rows = "".join(f"{part * 100 + i},{(i % 10) / 10 + 0.05:.2f}\n" for i in range(60))
        stack.blobs.write_bytes("outputs", f"{root}/part-0000{part}-3f2a.c000.csv", ("id,value\n" + rows).encode())
    for bookkeeping in ("_started_8812", "_committed_8812", "_SUCCESS"):
        stack.blobs.write_bytes("outputs", f"{root}/{bookkeeping}", b"")
    timeline.say("spark", f"a Spark job wrote {root}/: 3 part files, _started_*, _committed_* and _SUCCESS")
    verdicts = Ledgers.of(stack.deps).verdicts
    found = wait(lambda: (v := verdicts.find("features", key)) is not None and len(v.files) == 3 and v, 30)
    timeline.check(bool(found) and found.status == "pass",
                   "output guard: the batch's 3 parts judged one by one (bookkeeping files skipped), batch "
                   f"verdict {found.status if found else 'missing'} over {len(found.files) if found else 0} files")
    led = Ledgers.of(stack.deps)
    judged = wait(lambda: (v := verdicts.find("features", key)) is not None and v.batch_status and v, 30)
    kept = [r.parsed() for r in led.history.between("features", "output", "2000", "9999")]
    timeline.check(bool(judged) and [o.name for o in kept] == [f"batch:{key}"],
                   f"the batch judged as one ({judged.batch_status if judged else 'not judged'}): history "
                   f"keeps one observation of {kept[0].rows if kept else 0} rows for it, not one per part")


def retraining(stack: Any, timeline: Timeline, wait: Wait) -> None:
    """The drifting batch of the main story started the dataset's retraining pipeline, once."""
    runs = wait(lambda: stack.adf.runs(pipeline="retrain_scores"), 30) or []
    timeline.check(len(runs) == 1, f"drift started the retraining pipeline retrain_scores once "
                                   f"(run {runs[0]['runId'][:8]}…, reason {runs[0]['parameters'].get('reason')})"
                   if runs else "drift started the retraining pipeline retrain_scores")


def databricks_failure(stack: Any, timeline: Timeline, wait: Wait, day: datetime) -> None:
    """A training run whose Databricks notebook fails: run_failed links to the notebook run, not only ADF."""
    run_id = stack.deps.runner.start_run("train_and_publish", {"batchId": f"models:{day:%Y/%m/%d}",
                                                               "notebookFails": "true"})
    finished = stack.adf.wait_finished(run_id, timeout=60)
    timeline.say("adf", f"run {run_id[:8]}… of train_and_publish {finished['status']}: its TrainModel notebook "
                        "failed on Databricks; the failure Web activity called the webhook")
    card = wait(lambda: next((c for c in stack.teams.cards if run_id in json.dumps(c)
                              and "run failed" in c["body"][0]["text"]), None), 60)
    text = json.dumps(card) if card else ""
    timeline.check("azuredatabricks.net" in text,
                   "run_failed reached Teams with a link to the Databricks notebook run and the error")


def status(stack: Any, timeline: Timeline) -> None:
    """What `autopilot status` shows for the demo's datasets."""
    from shared.core.status_text import render_text
    from shared.services import status as status_service

    now = stack.deps.clock.now()
    text = render_text(status_service.view(stack.deps, now, now - timedelta(days=7)))   # every dataset of the demo
    for line in text.splitlines():
        timeline.say("status", line)
    timeline.say("status", "the same as a page, while `make up` runs: http://127.0.0.1:7071/api/status?code=<the "
                           "function key make up prints> (the CLI: python -m cli.main status --settings ...)")
