"""The demo pipeline ``score_batch``: score one upstream batch and write its scores CSV.

Upstream files are CSV with a header row holding ``id``, ``ts`` and the numeric features ``f1``,
``f2``, ``f3`` (any order; other columns are ignored). The output is written to container ``outputs``
as ``scores/<yyyy>/<MM>/<dd>/scores-<batch>.csv`` with columns id,ts,score,label, the contract of the
``scores`` dataset in pipelines.yaml. The storage account is the emulator's ``DATA_STORAGE`` setting.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from sandbox.pipelines.runtime import ActivityFailed, RunContext

WEIGHTS = {"f1": 1.2, "f2": -0.8, "f3": 0.5}   # a fixed logistic model: deterministic by design
BIAS = -0.1
THRESHOLD = 0.5
OUTPUT_COLUMNS = ("id", "ts", "score", "label")


@dataclass(frozen=True)
class BatchParameters:
    batch_id: str
    dataset: str
    prefix: str
    files: tuple[str, ...]
    container: str


@dataclass
class ScoreStats:
    rows: int = 0
    scored: int = 0
    unscored: int = 0        # a feature was missing or not a number: score left empty
    skipped: int = 0         # no usable id: the row is dropped
    files: int = 0
    by_file: dict[str, int] = field(default_factory=dict)


def parse_parameters(parameters: Mapping[str, Any], default_container: str) -> BatchParameters:
    """The run's parameters, checked. ``files`` arrives as a list or as JSON text of one."""
    batch_id = str(parameters.get("batchId") or "")
    if not batch_id:
        raise ActivityFailed("parameter batchId is empty")
    files: Any = parameters.get("files", [])
    if isinstance(files, str):
        try:
            files = json.loads(files) if files.strip() else []
        except json.JSONDecodeError as exc:
            raise ActivityFailed(f"parameter files is not a JSON list: {exc}") from exc
    if not isinstance(files, list) or not all(isinstance(f, str) and f for f in files):
        raise ActivityFailed("parameter files must be a list of blob names")
    return BatchParameters(batch_id, str(parameters.get("dataset") or batch_id.split(":", 1)[0]),
                           str(parameters.get("prefix") or ""), tuple(files),
                           str(parameters.get("container") or default_container))


def output_name(prefix: str, batch_id: str, now: datetime) -> str:
    """``<prefix>/<yyyy>/<MM>/<dd>/scores-<batch>.csv``: the batch's own date, else the run's."""
    key = batch_id.split(":", 1)[-1]
    match = re.search(r"(\d{4})[/-](\d{2})[/-](\d{2})", key)
    yyyy, mm, dd = match.groups() if match else (f"{now:%Y}", f"{now:%m}", f"{now:%d}")
    label = re.sub(r"[^A-Za-z0-9._-]+", "-", key).strip("-") or now.strftime("%Y-%m-%d")
    return f"{prefix.strip('/')}/{yyyy}/{mm}/{dd}/scores-{label}.csv"


def score(features: Mapping[str, str]) -> float | None:
    """The logistic model; None when a feature is missing or not a finite number."""
    total = BIAS
    for name, weight in WEIGHTS.items():
        try:
            value = float(features.get(name) or "")
        except ValueError:
            return None
        if not math.isfinite(value):
            return None
        total += weight * value
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, total))))


def score_files(files: Iterable[tuple[str, str]], stats: ScoreStats) -> str:
    """Score every row of the (name, CSV text) files; returns the output CSV text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(OUTPUT_COLUMNS)
    for name, text in files:
        stats.files += 1
        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames is None or "id" not in reader.fieldnames:
            raise ActivityFailed(f"{name}: the header has no 'id' column (got {reader.fieldnames})")
        count = 0
        try:
            for row in reader:
                count += 1
                row_id = (row.get("id") or "").strip()
                if not row_id.lstrip("-").isdigit():
                    stats.skipped += 1
                    continue
                value = score(row)
                stats.rows += 1
                if value is None:
                    stats.unscored += 1
                    writer.writerow((row_id, (row.get("ts") or "").strip(), "", ""))
                else:
                    stats.scored += 1
                    writer.writerow((row_id, (row.get("ts") or "").strip(), f"{value:.6f}",
                                     "high" if value >= THRESHOLD else "low"))
        except csv.Error as exc:
            raise ActivityFailed(f"{name}: not valid CSV near row {count + 1}: {exc}") from exc
        stats.by_file[name] = count
    return out.getvalue()


def run(ctx: RunContext) -> None:
    """The pipeline body: LoadUpstream → ScoreRows → WriteScores."""
    from azure.core.exceptions import AzureError, ResourceExistsError
    from azure.storage.blob import BlobServiceClient, ContentSettings

    connection = ctx.config.get("DATA_STORAGE", "")
    if not connection:
        with ctx.activity("LoadUpstream", "Copy"):
            raise ActivityFailed("the emulator has no DATA_STORAGE connection string", error_code="2103")
    service = BlobServiceClient.from_connection_string(
        connection, retry_total=2, retry_backoff_factor=0.2, connection_timeout=5, read_timeout=30)
    texts: list[tuple[str, str]] = []
    with ctx.activity("LoadUpstream", "Copy", dict(ctx.parameters)) as out:
        params = parse_parameters(ctx.parameters, ctx.config.get("UPSTREAM_CONTAINER", "upstream"))
        if not params.files:
            raise ActivityFailed(f"batch {params.batch_id} lists no files")
        upstream = service.get_container_client(params.container)
        try:
            for blob in params.files:
                ctx.check_cancelled()
                data = upstream.download_blob(blob).readall()
                texts.append((blob, data.decode("utf-8-sig", errors="replace")))
        except AzureError as exc:
            raise ActivityFailed(f"reading {params.container}/{blob} failed: {exc.message}",
                                 error_code="2200") from exc
        out.update(filesRead=len(texts), dataRead=sum(len(t) for _, t in texts))
    stats = ScoreStats()
    with ctx.activity("ScoreRows", "Custom", {"model": "logistic", "weights": WEIGHTS}) as out:
        scored = score_files(texts, stats)
        out.update(rows=stats.rows, scored=stats.scored, unscored=stats.unscored, skipped=stats.skipped)
    container = ctx.config.get("OUTPUT_CONTAINER", "outputs")
    name = output_name(ctx.config.get("OUTPUT_PREFIX", "scores"), params.batch_id, datetime.now(UTC))
    with ctx.activity("WriteScores", "Copy", {"container": container, "blob": name}) as out:
        try:
            with contextlib.suppress(ResourceExistsError):
                service.create_container(container)
            metadata = {"batch_id": quote(params.batch_id, safe=":/-_."), "run_id": ctx.run_id,
                        "pipeline": ctx.pipeline, "dataset": quote(params.dataset, safe="-_.")}
            service.get_blob_client(container, name).upload_blob(
                scored.encode("utf-8"), overwrite=True, metadata=metadata,
                content_settings=ContentSettings(content_type="text/csv"))
        except AzureError as exc:
            raise ActivityFailed(f"writing {container}/{name} failed: {exc.message}",
                                 error_code="2200") from exc
        out.update(container=container, blob=name, rowsWritten=stats.rows, bytesWritten=len(scored.encode()))
