"""The local pipelines the ADF emulator runs, by ADF pipeline name."""

from __future__ import annotations

from sandbox.pipelines import score_batch, train_and_publish
from sandbox.pipelines.runtime import Pipeline

PIPELINES: dict[str, Pipeline] = {
    "score_batch": Pipeline("score_batch", score_batch.run, required=("batchId",)),
    # Databricks, Azure Batch and Copy activity outputs, for run links and copy_mismatch.
    "train_and_publish": Pipeline("train_and_publish", train_and_publish.run, required=("batchId",)),
}
