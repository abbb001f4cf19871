"""Batches of many output files judged as one (``output.batch`` configured): once the batch is
complete (its marker is there, or no file arrived for the quiet period) and every part is judged,
its parts' observations are merged, their schemas compared and the batch judged against batch history
(``core.batch_judgement``); the batch's observation is what history keeps, and one alert names the
failing parts.

Called by the output guard after each part and on the marker, and by the run decision (a quiet-period
batch is complete only once time has passed). Exactly once per batch: the judgement is claimed by a
conditional insert before anything is written, so a redelivered marker or two last parts judged at
once make one history row and one alert.
"""

from __future__ import annotations

import logging
import posixpath
from dataclasses import replace
from datetime import datetime, timedelta

from shared.core import batch_outputs, history
from shared.core.batch_judgement import BatchJudgement, Part, judge_batch
from shared.core.spec import DatasetSpec
from shared.errors import Conflict, NotFound
from shared.services import retraining
from shared.services.deps import Deps
from shared.services.ledgers import Ledgers
from shared.services.ledgers.history import HistoryRecord
from shared.services.ledgers.parts import BatchJudged

log = logging.getLogger(__name__)

HISTORY_DAYS = 180        # how far back history is read for baselines
VERDICT_RETRIES = 5


def past_observations(ledgers: Ledgers, dataset: str, before: datetime) -> list[history.Observation]:
    rows = ledgers.history.between(dataset, "output", (before - timedelta(days=HISTORY_DAYS)).isoformat(),
                                   before.isoformat())
    # What people said of earlier alerts (false alarm / expected) goes to the baselines with the files.
    labels = ledgers.labels.by_subject(dataset)
    out = []
    for row in rows:
        try:
            obs = row.parsed()
            out.append(replace(obs, label=labels[obs.name]) if obs.name in labels else obs)
        except ValueError:
            log.warning("unreadable history row skipped", extra={"dataset": dataset, "row": row.row})
    return out


def outputs_seen(deps: Deps, ds: DatasetSpec, key: str) -> batch_outputs.OutputsSeen:
    """The batch's output files as they are now (one listing) and the verdicts of those judged."""
    assert ds.output is not None
    out = ds.output
    root = f"{out.base}{key}/"
    files, newest, marker_seen = [], None, False
    for blob in deps.data.list_blobs(out.container, root):
        relative = blob.name[len(out.base):]
        basename = posixpath.basename(blob.name)
        if out.batch.marker and blob.name == root + out.batch.marker:
            marker_seen = True
        elif not relative.startswith(out.reports_prefix.strip("/") + "/") and not basename.startswith(("_", ".")):
            files.append(blob.name)
            newest = blob.last_modified if newest is None or blob.last_modified > newest else newest
    found = Ledgers.of(deps).verdicts.find(ds.name, key)
    return batch_outputs.OutputsSeen(tuple(sorted(files)), dict(found.files) if found else {}, out.batch.marker,
                                     marker_seen, newest, out.batch.configured,
                                     found.batch_status if found else "", found.batch_reason if found else "")


def settle(deps: Deps, ds: DatasetSpec, key: str, now: datetime) -> BatchJudgement | None:
    """Judge the batch as one if it is complete, fully judged part by part, and not judged before;
    the judgement made now (None: not yet, not batched, or made before)."""
    out = ds.output
    if out is None or not out.batch.configured or not key:
        return None
    if out.batch.marker and not _exists(deps, out.container, f"{out.base}{key}/{out.batch.marker}"):
        return None   # one HEAD after each part instead of listing a folder of hundreds of parts
    seen = outputs_seen(deps, ds, key)
    if seen.batch_status or batch_outputs.waiting(seen, out.batch.quiet_period, now):
        return None
    ledgers = Ledgers.of(deps)
    made = ledgers.batch_judgements.get(f"{ds.name}|batch", _row(key))
    if made is not None and made.alerted:   # judged before, its verdict perhaps not written: write it
        _record_status(ledgers, ds.name, key, made.status, made.reason)
        return None
    records = {r.name: r for r in ledgers.parts.of_batch(ds.name, key)}
    # A part judged with nothing kept of it (poisoned: the host gave up on it) counts by its verdict alone.
    parts = [records[name].part() if name in records else
             Part(name, seen.judged[name], message="not profiled (it could not be validated)")
             for name in seen.files]
    newest = max((p.observation.ts for p in parts if p.observation is not None), default=now)
    past = [o for o in past_observations(ledgers, ds.name, newest) if o.name != f"batch:{key}"]
    judged = judge_batch(ds.name, out.contract, out.container, key, parts, past, now)
    if made is None:
        try:
            made = ledgers.batch_judgements.insert(BatchJudged(ds.name, key, judged.status, judged.codes,
                                                               judged.reason, alerted=False))
        except Conflict:
            return None   # judged at the same moment by another invocation
    # Claimed but not yet alerted: this invocation, or a retry of one that died before its alerts were on
    # the queue (the dispatcher drops a second copy of an alert it already has, by fingerprint).
    if judged.observation is not None:
        ledgers.history.upsert(HistoryRecord.of(judged.observation, f"batch:{key}", ""))
    started = retraining.maybe_start(deps, ds, key, judged.codes, now)
    for alert in retraining.announced(started, judged.alerts):
        deps.alerts.emit(alert)
    try:
        ledgers.batch_judgements.replace(replace(made, alerted=True))
    except Conflict:
        pass      # another retry marked it first
    _record_status(ledgers, ds.name, key, judged.status, judged.reason)   # last: the breaker waits for it
    return judged


def _exists(deps: Deps, container: str, name: str) -> bool:
    try:
        deps.data.get_blob_info(container, name)
    except NotFound:
        return False
    return True


def _row(key: str) -> str:
    return BatchJudged("", key, "").to_row("").row


def _record_status(ledgers: Ledgers, dataset: str, key: str, status: str, reason: str) -> None:
    """The batch's own status beside its files' in the verdict the breaker reads."""
    for _ in range(VERDICT_RETRIES):
        current = ledgers.verdicts.find(dataset, key)
        if current is None:
            return
        try:
            ledgers.verdicts.replace(replace(current, batch_status=status, batch_reason=reason))
            return
        except Conflict:
            continue
    raise Conflict(f"verdict of {dataset}/{key} kept changing; the batch will be settled again")
