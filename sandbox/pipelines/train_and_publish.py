"""The local pipeline ``train_and_publish``: the shape of seed 004 (a Databricks notebook, a step on
Azure Batch, then a Copy of the scored rows into a SQL table), doing no real work, so its activity
runs carry the outputs ADF gives for those activities:

- ``TrainModel`` (DatabricksNotebook): ``runPageUrl`` from the start; fails when the run's parameter
  ``notebookFails`` is true (or when the emulator is told to fail it), with the notebook's ``runError``.
- ``ScoreOnBatch`` (Custom, Azure Batch): ``exitcode`` and ``outputs`` (stdout.txt and stderr.txt URLs).
- ``CopyToSql`` (Copy): ``rowsRead``, ``rowsCopied``, ``rowsSkipped`` from the parameters of the same
  names (defaults: 10000 read, all copied, none skipped), with ``dataRead`` / ``dataWritten``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from sandbox.pipelines.runtime import ActivityFailed, RunContext

WORKSPACE = "adb-1234567890123456.7.azuredatabricks.net"
BATCH_STORAGE = "https://adfbatchsandbox.blob.core.windows.net/adfjobs"
ROW_BYTES = 64


def run_page_url(run_id: str) -> str:
    """A Databricks job run page, stable per pipeline run."""
    number = int(hashlib.sha256(run_id.encode()).hexdigest()[:8], 16)
    return f"https://{WORKSPACE}/?o=1234567890123456#job/{number % 1000}/run/{number}"


def batch_logs(run_id: str) -> list[str]:
    return [f"{BATCH_STORAGE}/{run_id}/output/stdout.txt", f"{BATCH_STORAGE}/{run_id}/output/stderr.txt"]


def _flag(value: object) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes")


def _count(parameters: Mapping[str, Any], name: str, default: int) -> int:
    value = parameters.get(name)
    try:
        return default if value in (None, "") else int(str(value))
    except ValueError as exc:
        raise ActivityFailed(f"parameter {name} must be a whole number, got {value!r}") from exc


def run(ctx: RunContext) -> None:
    """TrainModel → ScoreOnBatch → CopyToSql."""
    params = ctx.parameters
    page = run_page_url(ctx.run_id)
    notebook = {"runPageUrl": page,
                "effectiveIntegrationRuntime": "AutoResolveIntegrationRuntime",
                "executionDuration": 61, "durationInQueue": {"integrationRuntimeQueue": 0}}
    with ctx.activity("TrainModel", "DatabricksNotebook", {"notebookPath": "/Repos/ml/train"}, notebook) as out:
        if _flag(params.get("notebookFails")):
            out["runError"] = "ValueError: feature f2 has 40% nulls (cell 7)"
            raise ActivityFailed("Notebook failed: ValueError: feature f2 has 40% nulls (cell 7)\n"
                                 f"Run page: {page}", error_code="3204", failure_type="UserError")
        out["runOutput"] = {"model": "scores-v1"}
    custom = {"exitcode": 0, "outputs": batch_logs(ctx.run_id),
              "effectiveIntegrationRuntime": "DefaultIntegrationRuntime"}
    with ctx.activity("ScoreOnBatch", "Custom", {"command": "python score.py"}, custom):
        pass
    with ctx.activity("CopyToSql", "Copy", {"sink": "AzureSqlTable", "table": "dbo.scores"}) as out:
        read = _count(params, "rowsRead", 10_000)
        copied = _count(params, "rowsCopied", read)
        skipped = _count(params, "rowsSkipped", 0)
        out.update(rowsRead=read, rowsCopied=copied, rowsSkipped=skipped, dataRead=read * ROW_BYTES,
                   dataWritten=copied * ROW_BYTES, copyDuration=3, throughput=12.5,
                   effectiveIntegrationRuntime="AutoResolveIntegrationRuntime")
