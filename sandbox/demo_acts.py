"""The demo's later acts: a Spark-style batch, retraining on drift, a Databricks failure with its link, a
late output's Azure DevOps work item (created, then resolved), and the operator's status view.
``sandbox.demo`` plays them after the main story, on the same sandbox."""

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
  - name: forecasts                           # a daily output whose late episode is an Azure DevOps work item
    output:
      container: outputs
      prefix: forecasts
      contract:
        format: csv
        columns:
          id: {type: integer, nullable: false}
          forecast: {type: float, min: 0}
        rows: {min: 10}
      staleness: {cadence: 1d}
    alerts:
      devops: {organization: contoso, project: "Data Platform", min_severity: warn}   # a Bug: New → Resolved
"""


class Timeline(Protocol):
    def say(self, actor: str, text: str) -> None: ...

    def check(self, ok: bool, text: str) -> bool: ...


Wait = Callable[[Callable[[], Any], float], Any]


def demo_config(workdir: Path) -> Path:
    """The shipped pipelines.yaml, plus what the later acts need (a retrain block for scores, a Spark-style
    output dataset, a Databricks pipeline's dataset and a daily output routed to Azure DevOps)."""
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


def work_item(stack: Any, timeline: Timeline, wait: Wait) -> None:
    """A daily output stops arriving: the watcher's output_late opens one Azure DevOps work item; the output
    lands, the output guard's output_recovered resolves it."""
    from shared.services import arrivals

    deps, devops = stack.deps, stack.devops
    spec = deps.config.dataset("forecasts").output.staleness
    now = deps.clock.now()
    for days in (5, 4, 3, 2):     # as if Autopilot had seen four daily outputs, the last two days ago
        at = now - timedelta(days=days)
        arrivals.update(deps, "forecasts", "output", spec, at, {f"forecasts/{at:%Y/%m/%d}/forecasts.csv": at})
    timeline.say("history", "forecasts: daily outputs seen until 2 days ago (cadence 1d, late after 1.5 × 1d); "
                            "its alerts go to Azure DevOps (contoso / Data Platform)")

    def items() -> list[tuple[int, dict[str, Any]]]:
        return [(i, f) for i in sorted(devops.items) if "forecasts" in (f := devops.fields(i))["System.Title"]]

    tick = stack.host.fire_timer("upstream_watcher")
    created = wait(items, 30) or []
    for item, fields in created:
        timeline.say("devops", f"work item #{item} created: {fields['System.WorkItemType']} "
                               f"\"{fields['System.Title']}\", State {fields['System.State']}")
    timeline.check(tick.succeeded and len(created) == 1 and created[0][1]["System.State"] == "New",
                   "the watcher found forecasts late (output_late): one work item created in Azure DevOps")
    key = f"{now:%Y/%m/%d}"
    rows = "".join(f"{i},{i / 10:.1f}\n" for i in range(24))
    stack.blobs.write_bytes("outputs", f"forecasts/{key}/forecasts.csv", ("id,forecast\n" + rows).encode())
    timeline.say("output", f"forecasts/{key}/forecasts.csv landed at last")
    item = created[0][0] if created else 0
    resolved = bool(wait(lambda: item and devops.fields(item)["System.State"] == "Resolved", 60))
    state = devops.fields(item)["System.State"] if item else "no work item"
    if resolved:
        timeline.say("devops", f"work item #{item} resolved: State {state} (output_recovered, raised by the "
                               "output guard when the file landed)")
    timeline.check(resolved and len(items()) == 1, f"the output arrived again (output_recovered): work item #{item} "
                                                   f"resolved in Azure DevOps, State {state}")


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
