"""Which upstream batches exist, and which of them are complete. Pure: listings in, decisions out."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.core.models import Batch, BlobInfo
from shared.core.spec import PipelineSpec, UpstreamSpec


@dataclass(frozen=True)
class BatchState:
    batch: Batch
    complete: bool
    waiting_for: str = ""   # why it is not complete yet, in words


def listing_prefixes(upstream: UpstreamSpec, now: datetime, since: datetime | None = None) -> list[str]:
    """Full blob prefixes one tick lists: the look-back window, widened back to ``since`` if earlier
    (a past-due tick catches up on the whole gap)."""
    start = now - upstream.lookback
    if since is not None and since < start:
        start = since
    return [upstream.base + p for p in upstream.partition.listing_prefixes(start, now)]


def group_batches(dataset: str, upstream: UpstreamSpec, listing: Iterable[BlobInfo]) -> list[Batch]:
    """Group listed blobs into batches by partition. Blobs outside the pattern are ignored."""
    base = upstream.base
    rule = upstream.batch
    grouped: dict[str, tuple[list[BlobInfo], list[BlobInfo]]] = {}
    for blob in listing:
        if not blob.name.startswith(base):
            continue
        parts = upstream.partition.split(blob.name[len(base):])
        if parts is None:
            continue
        key, rest = parts
        files, markers = grouped.setdefault(key, ([], []))
        basename = rest.rsplit("/", 1)[-1]
        if rule.marker is not None and rest == rule.marker:
            markers.append(blob)
        elif rule.is_data_file(basename):
            files.append(blob)
    return [Batch(dataset, key, base + key + "/", tuple(sorted(files, key=lambda b: b.name)),
                  markers[0] if markers else None)
            for key, (files, markers) in sorted(grouped.items())]


def assess(batch: Batch, upstream: UpstreamSpec, now: datetime) -> BatchState:
    """Apply the completeness rule: marker present, quiet period passed, enough files."""
    rule = upstream.batch
    reasons = []
    if rule.marker is not None and batch.marker is None:
        reasons.append(f"marker {rule.marker}")
    if len(batch.files) < rule.min_files:
        reasons.append(f"{rule.min_files} files (has {len(batch.files)})")
    if not batch.files and batch.marker is None:
        reasons.append("any file")
    else:
        quiet = rule.effective_quiet_period
        since_change = now - batch.last_change
        if quiet > timedelta(0) and since_change < quiet:
            reasons.append(f"{_words(quiet - since_change)} more of quiet")
    return BatchState(batch, not reasons, ", ".join(reasons))


def _words(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 3600:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def run_parameters(pipeline: PipelineSpec, batch: Batch, container: str) -> dict[str, Any]:
    """Render the pipeline's parameter templates for ``batch``."""
    files = [f.name for f in batch.files]
    facts: Mapping[str, Any] = {
        "batch_id": batch.batch_id, "dataset": batch.dataset, "key": batch.key, "prefix": batch.prefix,
        "container": container, "files": json.dumps(files), "file_count": len(files),
        "bytes": batch.total_bytes,
    }
    out: dict[str, Any] = {}
    for name, template in pipeline.parameters.items():
        out[name] = files if template == "{files}" else template.format_map(facts)
    return out


def running_slots(pipeline: PipelineSpec, in_progress: int) -> int:
    """How many new runs the concurrency policy allows now."""
    limit = 1 if pipeline.concurrency.policy == "wait" else pipeline.concurrency.max_runs
    return max(0, limit - in_progress)


def late_files(batch: Batch, started_files: Sequence[str]) -> list[str]:
    """Files of an already-started batch that were not in the run's file list."""
    known = set(started_files)
    return [f.name for f in batch.files if f.name not in known]
