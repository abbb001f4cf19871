"""The output guard: validate one output blob against its contract and its own history.

Idempotent per (blob, ETag): blob triggers are at-least-once, so a redelivery of a blob already
judged returns the stored verdict without touching history or alerting again. The per-batch
verdict (worst status of the batch's output files) is what the pipeline webhook's circuit breaker
reads.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from shared.core import history, metrics, verdict
from shared.core.models import Alert, BlobInfo, Severity
from shared.core.profile import Profile
from shared.core.spec import DatasetSpec, OutputSpec
from shared.errors import Conflict
from shared.services import arrivals, batch_guard, retraining
from shared.services.deps import Deps
from shared.services.ledgers import Ledgers
from shared.services.ledgers.history import HistoryRecord
from shared.services.ledgers.parts import PartRecord
from shared.services.ledgers.receipts import Receipt
from shared.services.ledgers.verdicts import Verdict

log = logging.getLogger(__name__)

VERDICT_RETRIES = 5       # concurrent files of one batch race for the verdict row


@dataclass
class GuardOutcome:
    file: str
    dataset: str = ""
    status: str = "skipped"            # pass | warn | fail | skipped
    reason: str = ""                   # why it was skipped
    duplicate: bool = False            # this (blob, ETag) was judged before
    report: dict[str, Any] = field(default_factory=dict)
    report_blob: str = ""
    batch: str = ""
    alerts: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)   # warn and fail finding codes, worst first


def find_dataset(deps: Deps, container: str, name: str) -> tuple[DatasetSpec, OutputSpec] | None:
    for ds in deps.config.datasets:
        out = ds.output
        if out is None or out.container != container:
            continue
        if name.startswith(out.base):
            return ds, out
    return None


def _skip_reason(out: OutputSpec, name: str) -> str:
    relative = name[len(out.base):]
    basename = relative.rsplit("/", 1)[-1]
    if relative.startswith(out.reports_prefix.strip("/") + "/"):
        return "a validation report"
    if basename.startswith(("_", ".")):
        return "a marker or hidden file"
    return ""


def validate_blob(deps: Deps, container: str, name: str, now: datetime) -> GuardOutcome:
    """Gather (blob, receipt, profile, history) → judge (``core.verdict``) → apply (report, history,
    alerts, arrivals, batch verdict, receipt)."""
    found = find_dataset(deps, container, name)
    if found is None:
        return GuardOutcome(name, reason="no dataset declares this output location")
    ds, out = found
    if out.contract.format == "delta":   # one judgement per table version, from its commit
        from shared.services import delta_guard

        return delta_guard.validate_version(deps, ds, out, container, name, now)
    outcome = GuardOutcome(name, ds.name, batch=out.batch_of(name))
    if reason := _skip_reason(out, name):
        outcome.reason = reason
        if out.batch.configured and name == f"{out.base}{outcome.batch}/{out.batch.marker}":
            _settle(deps, ds, outcome, now)   # the marker completes the batch: judge it as one
        return outcome
    ledgers = Ledgers.of(deps)
    info = deps.data.get_blob_info(container, name)
    receipt = ledgers.receipts.find(ds.name, name)
    if receipt is not None and receipt.blob_etag == info.etag:
        outcome.duplicate, outcome.status, outcome.report_blob = True, receipt.status, receipt.report
        return outcome
    assert deps.profiler is not None, "the output guard needs a profiler"
    started = time.perf_counter()
    profile = deps.profiler.profile(container, name, out.contract, size=info.size)
    return apply_profile(deps, ds, out, outcome, info, profile, started, now,
                         batched=out.batch.configured and bool(outcome.batch))


def apply_profile(deps: Deps, ds: DatasetSpec, out: OutputSpec, outcome: GuardOutcome, info: BlobInfo,
                  profile: Profile, started: float, now: datetime, *, batched: bool) -> GuardOutcome:
    """Judge a profiled output (a file, or a Delta version) and apply the judgement: report, history (or
    the part row of a batch), alerts and retraining, arrivals, the batch verdict, the receipt, metrics."""
    ledgers = Ledgers.of(deps)
    container, name = out.container, info.name
    observation = history.from_profile(profile, ts=info.last_modified, dataset=ds.name, stage="output", name=name,
                                       drift_columns=out.contract.drift.columns)
    past = _history(ledgers, ds.name, info.last_modified) if profile.readable and not batched else []
    judged = verdict.judge_file(ds.name, out, container, name, outcome.batch, profile, observation, past, now,
                                part=batched)
    outcome.status, outcome.codes = judged.status, list(judged.codes)
    outcome.report, outcome.report_blob = judged.report, judged.report_blob
    deps.data.write_bytes(container, judged.report_blob, json.dumps(judged.report, indent=2).encode(),
                          content_type="application/json")
    if batched:   # the part is kept for its batch; history learns the batch's observation, not the part's
        ledgers.parts.upsert(_part_record(ds.name, outcome.batch, name, judged, profile))
    elif judged.observation is not None:
        record_history(deps, judged.observation, info)
    if not batched:
        _emit(deps, outcome, retraining.announced(
            retraining.maybe_start(deps, ds, outcome.batch, judged.codes, now), judged.alerts))
    _emit(deps, outcome, arrivals.update(deps, ds.name, "output", out.staleness, now, {name: info.last_modified}))
    if outcome.batch:
        _update_verdict(ledgers, ds.name, outcome.batch, name, judged.status)
    ledgers.receipts.upsert(Receipt(ds.name, name, info.etag, judged.status, judged.report_blob, now))
    if batched:   # the last part of a complete batch settles it
        _settle(deps, ds, outcome, now)
    if deps.metrics is not None:   # after the receipt: a retried invocation does not count the file twice
        contract = out.contract
        deps.metrics.record(metrics.validation_points(
            ds.name, "output", judged.status, time.perf_counter() - started, profile, judged.observation, past,
            tuple(contract.columns), contract.drift.columns, min(contract.history.min_history, 7)))
    return outcome


def _part_record(dataset: str, batch: str, name: str, judged: verdict.FileJudgement,
                 profile: Profile) -> PartRecord:
    serious = judged.report.get("findings") or []
    message = next((str(f.get("message", "")) for level in ("fail", "warn") for f in serious
                    if f.get("severity") == level), "")
    schema = {c: col.type for c, col in profile.columns.items()}
    return PartRecord(dataset, batch, name, judged.status, judged.codes, message, MappingProxyType(schema),
                      judged.observation.to_json() if judged.observation is not None else "")


def _settle(deps: Deps, ds: DatasetSpec, outcome: GuardOutcome, now: datetime) -> None:
    judged = batch_guard.settle(deps, ds, outcome.batch, now)
    if judged is not None:
        outcome.alerts += [a.code for a in judged.alerts]


def _emit(deps: Deps, outcome: GuardOutcome, alerts: Sequence[Alert]) -> None:
    for alert in alerts:
        deps.alerts.emit(alert)
        outcome.alerts.append(alert.code)


def _history(ledgers: Ledgers, dataset: str, before: datetime) -> list[history.Observation]:
    return batch_guard.past_observations(ledgers, dataset, before)


def record_history(deps: Deps, observation: history.Observation, info: BlobInfo) -> None:
    # Deterministic key (blob time + name + ETag): a retried invocation rewrites the same row.
    Ledgers.of(deps).history.upsert(HistoryRecord.of(observation, info.name, info.etag))


def _update_verdict(ledgers: Ledgers, dataset: str, batch: str, name: str, file_status: str) -> None:
    for _ in range(VERDICT_RETRIES):
        current = ledgers.verdicts.find(dataset, batch)
        files, batch_status = verdict.merge_file(current.files if current else {}, name, file_status)
        try:
            if current is None:
                ledgers.verdicts.insert(Verdict(dataset, batch, MappingProxyType(files), batch_status))
            else:
                ledgers.verdicts.replace(replace(current, files=MappingProxyType(files), status=batch_status))
            return
        except Conflict:
            continue
    raise Conflict(f"verdict of {dataset}/{batch} kept changing; the blob will be retried")


def read_verdict(deps: Deps, dataset: str, batch: str) -> dict[str, Any] | None:
    """The per-batch verdict: ``status`` (pass/warn/fail) and ``files`` (name → status)."""
    row = Ledgers.of(deps).verdicts.find(dataset, batch)
    if row is None:
        return None
    return {"status": row.status, "files": dict(row.files)}


def report_poison(deps: Deps, message: str, now: datetime) -> Alert:
    """The Functions host gave up on a blob (it moved it to the poison queue): say so, loudly."""
    try:
        body = json.loads(message)
        container, name = str(body.get("ContainerName", "")), str(body.get("BlobName", ""))
    except (ValueError, AttributeError):
        container, name = "", message[:300]
    found = find_dataset(deps, container, name) if container else None
    dataset = found[0].name if found else "unknown"
    batch = found[1].batch_of(name) if found else ""
    if batch:   # a file that cannot be judged fails its batch: the breaker never refreshes on it
        _update_verdict(Ledgers.of(deps), dataset, batch, name, "fail")
    alert = Alert(dataset, "output_poison", Severity.FAIL,
                  f"{container}/{name} could not be validated after repeated attempts; it is in the poison "
                  "queue and fails its batch" + (f" {batch}" if batch else "") + " (no Power BI refresh comes "
                  "of it). Check the file and the function logs, then re-upload it.",
                  now, topic="output_validation", subject=name, facts={"file": f"{container}/{name}"})
    deps.alerts.emit(alert)
    return alert
