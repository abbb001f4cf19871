"""Start with history: profile a dataset's existing outputs into the history table (``autopilot history
import``), so the output guard judges from its first file; and write the table back out as observations
(``autopilot history export``) for ``autopilot backtest``.

An imported file's time is its blob's last write when that falls within two days of its partition's
date (the producer wrote it then), else the partition's date: copied or migrated outputs carry the copy's
time, which says nothing of when the data was made. Rows are keyed by that time, the blob's name and
ETag, so importing twice writes the same rows; a file the output guard already judged is left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from shared.core import batch_judgement, history
from shared.core.models import BlobInfo
from shared.core.spec import DatasetSpec, OutputSpec
from shared.errors import ExternalError
from shared.services.deps import Deps
from shared.services.ledgers import Ledgers
from shared.services.ledgers.history import HistoryRecord
from shared.services.ledgers.parts import BatchJudged

log = logging.getLogger(__name__)
NEAR_PARTITION = timedelta(days=2)


@dataclass
class ImportOutcome:
    dataset: str
    files: int = 0                 # output files found in the window
    imported: int = 0              # observations written (one per batch for a dataset with output.batch)
    judged_already: int = 0        # files the output guard had judged (their history is there)
    unreadable: list[str] = field(default_factory=list)   # files that are not readable as the contract's format
    failed: list[str] = field(default_factory=list)       # files whose read failed (storage), with why


def _output(deps: Deps, dataset: str) -> tuple[DatasetSpec, OutputSpec]:
    """Raises KeyError for an unknown dataset, ValueError for one without an output block."""
    ds = deps.config.dataset(dataset)
    if ds.output is None:
        raise ValueError(f"dataset {dataset!r} has no output block: it has no outputs to import")
    return ds, ds.output


def observed_at(out: OutputSpec, info: BlobInfo) -> datetime | None:
    """When an output file was made (see the module docstring); None when its path names no partition date."""
    parts = out.partition.split(info.name[len(out.base):])
    start = out.partition.date(parts[0]) if parts else None
    if start is None:
        return None
    if start <= info.last_modified < start + NEAR_PARTITION:
        return info.last_modified
    return start


def outputs(deps: Deps, out: OutputSpec, since: datetime, now: datetime) -> list[tuple[BlobInfo, datetime]]:
    """The dataset's output files dated in [since, now], oldest first, reports and markers left out."""
    found: dict[str, tuple[BlobInfo, datetime]] = {}
    for prefix in out.partition.listing_prefixes(since, now):
        for info in deps.data.list_blobs(out.container, out.base + prefix):
            relative = info.name[len(out.base):]
            if relative.startswith(out.reports_prefix.strip("/") + "/") or \
                    relative.rsplit("/", 1)[-1].startswith(("_", ".")):
                continue
            ts = observed_at(out, info)
            if ts is not None and since <= ts <= now:
                found[info.name] = (info, ts)
    return sorted(found.values(), key=lambda pair: (pair[1], pair[0].name))


def import_history(deps: Deps, dataset: str, since: datetime, now: datetime,
                   progress: Callable[[int, int], None] | None = None) -> ImportOutcome:
    """Profile every output file of ``dataset`` dated since ``since`` into the history table.
    ``progress(bytes done, bytes in all)`` is called after each file."""
    ds, out = _output(deps, dataset)
    assert deps.profiler is not None, "history import needs a profiler"
    ledgers = Ledgers.of(deps)
    files = outputs(deps, out, since, now)
    outcome = ImportOutcome(ds.name, files=len(files))
    batched = out.batch.configured      # a batch of many files is one observation, as the guard learns it
    parts: dict[str, list[history.Observation]] = {}
    total, done = sum(info.size for info, _ in files), 0
    for info, ts in files:
        key = out.batch_of(info.name) if batched else ""
        receipt = ledgers.receipts.find(ds.name, info.name)
        if batched and ledgers.batch_judgements.get(f"{ds.name}|batch", _batch_row(key)) is not None:
            outcome.judged_already += 1     # the guard judged the whole batch: its observation is there
        elif not batched and receipt is not None and receipt.blob_etag == info.etag:
            outcome.judged_already += 1
        else:
            try:
                profile = deps.profiler.profile(out.container, info.name, out.contract, size=info.size)
            except ExternalError as exc:
                outcome.failed.append(f"{info.name}: {exc}")
                log.warning("history import could not read a file", extra={"dataset": ds.name, "file": info.name,
                                                                           "error_type": type(exc).__name__})
            else:
                if profile.readable:
                    obs = history.from_profile(profile, ts=ts, dataset=ds.name, stage="output", name=info.name,
                                               drift_columns=out.contract.drift.columns)
                    if batched:
                        parts.setdefault(key, []).append(obs)
                    else:
                        ledgers.history.upsert(HistoryRecord.of(obs, info.name, info.etag))
                        outcome.imported += 1
                else:
                    outcome.unreadable.append(info.name)
        done += info.size
        if progress is not None:
            progress(done, total)
    for key, observations in parts.items():
        merged = batch_judgement.merge(observations, name=f"batch:{key}")
        if merged is not None:        # keyed as the guard keys a batch's row: importing twice rewrites it
            ledgers.history.upsert(HistoryRecord.of(merged, f"batch:{key}", ""))
            outcome.imported += 1
    log.info("history imported", extra={"dataset": ds.name, "files": outcome.files, "imported": outcome.imported})
    return outcome


def export_history(deps: Deps, dataset: str | None, since: datetime, now: datetime) -> Iterator[history.Observation]:
    """The observations of one dataset (or every dataset) in [since, now], oldest first per dataset and
    stage, each with the label people gave its alert (``history.LABELS``), if any."""
    ledgers = Ledgers.of(deps)
    names = [deps.config.dataset(dataset).name] if dataset else [ds.name for ds in deps.config.datasets]
    for name in names:
        labels = ledgers.labels.by_subject(name)
        for stage in ("upstream", "output"):
            for row in ledgers.history.between(name, stage, since.isoformat(), now.isoformat() + "~"):
                try:
                    obs = row.parsed()
                except ValueError:
                    log.warning("unreadable history row skipped", extra={"dataset": name, "row": row.row})
                    continue
                yield replace(obs, label=labels[obs.name]) if obs.name in labels else obs


def _batch_row(key: str) -> str:
    return BatchJudged("", key, "").to_row("").row
