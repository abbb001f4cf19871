"""The local pipelines the ADF emulator runs, by ADF pipeline name."""

from __future__ import annotations

from sandbox.pipelines import score_batch
from sandbox.pipelines.runtime import Pipeline

PIPELINES: dict[str, Pipeline] = {
    "score_batch": Pipeline("score_batch", score_batch.run, required=("batchId",)),
}
