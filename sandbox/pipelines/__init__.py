"""The local pipelines the ADF emulator runs, by ADF pipeline name."""

from __future__ import annotations

from sandbox.pipelines import score_batch, train_and_publish
from sandbox.pipelines.runtime import Pipeline, RunContext


def retrain_scores(context: RunContext) -> None:
    """The demo's retraining pipeline: started by Autopilot when the scores drift (retrain block)."""
    with context.activity("RetrainModel", "DatabricksNotebook", {"notebookPath": "/models/retrain"}) as out:
        out["runPageUrl"] = train_and_publish.run_page_url(context.run_id)

PIPELINES: dict[str, Pipeline] = {
    "score_batch": Pipeline("score_batch", score_batch.run, required=("batchId",)),
    # Databricks, Azure Batch and Copy activity outputs, for run links and copy_mismatch.
    "train_and_publish": Pipeline("train_and_publish", train_and_publish.run, required=("batchId",)),
    "retrain_scores": Pipeline("retrain_scores", retrain_scores),
}
