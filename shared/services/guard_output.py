"""The output guard: validate one output blob against its contract and its own history.

Idempotent per (blob, ETag): blob triggers are at-least-once, so a redelivery of a blob already
judged returns the stored verdict without touching history or alerting again. The per-batch
verdict (worst status of the batch's output files) is what the pipeline webhook's circuit breaker
reads.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared.core import checks, history
from shared.core.findings import Finding, status
from shared.core.models import Alert, BlobInfo, Severity
from shared.core.profile import Profile
from shared.core.report import build_report
from shared.core.spec import DatasetSpec, OutputSpec
from shared.errors import Conflict
from shared.ports import Entity
from shared.services import arrivals
from shared.services.deps import Deps, row_key

log = logging.getLogger(__name__)

HISTORY_DAYS = 180        # how far back history is read for baselines
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


def batch_key(out: OutputSpec, name: str) -> str:
    """The partition the output file belongs to (its batch), e.g. ``2026/11/21``; "" when none."""
    parts = out.partition.split(name[len(out.base):])
    return parts[0] if parts else ""


def validate_blob(deps: Deps, container: str, name: str, now: datetime) -> GuardOutcome:
    found = find_dataset(deps, container, name)
    if found is None:
        return GuardOutcome(name, reason="no dataset declares this output location")
    ds, out = found
    outcome = GuardOutcome(name, ds.name, batch=batch_key(out, name))
    if reason := _skip_reason(out, name):
        outcome.reason = reason
        return outcome
    info = deps.data.get_blob_info(container, name)
    receipt_row = row_key(name)
    receipt = deps.state.get(deps.tables.receipts, ds.name, receipt_row)
    if receipt is not None and receipt.data.get("blob_etag") == info.etag:
        outcome.duplicate, outcome.status = True, str(receipt.data.get("status", "pass"))
        outcome.report_blob = str(receipt.data.get("report", ""))
        return outcome
    assert deps.profiler is not None, "the output guard needs a profiler"
    contract = out.contract
    profile = deps.profiler.profile(container, name, contract, size=info.size)
    findings = checks.check(profile, contract, now, path=name)
    observation = history.from_profile(profile, ts=info.last_modified, dataset=ds.name, stage="output", name=name,
                                       drift_columns=contract.drift.columns)
    if profile.readable:
        findings += history.history_findings(observation, _history(deps, ds.name, info.last_modified), contract)
    outcome.status = status(findings)
    serious = sorted((f for f in findings if f.severity in (Severity.WARN, Severity.FAIL)),
                     key=lambda f: -f.severity.rank)
    outcome.codes = list(dict.fromkeys(f.code for f in serious))
    outcome.report = build_report(profile, findings, file=f"{container}/{name}", dataset=ds.name)
    outcome.report_blob = f"{out.base}{out.reports_prefix.strip('/')}/{name[len(out.base):]}.report.json"
    deps.data.write_bytes(container, outcome.report_blob, json.dumps(outcome.report, indent=2).encode(),
                          content_type="application/json")
    if profile.readable:
        record_history(deps, observation, info)
    for alert in _alerts(ds, container, name, outcome, findings, profile, now):
        deps.alerts.emit(alert)
        outcome.alerts.append(alert.code)
    for alert in arrivals.update(deps, ds.name, "output", out.staleness, now, {name: info.last_modified}):
        deps.alerts.emit(alert)
        outcome.alerts.append(alert.code)
    if outcome.batch:
        _update_verdict(deps, ds.name, outcome.batch, name, outcome.status)
    deps.state.upsert(Entity(deps.tables.receipts, ds.name, receipt_row,
                             {"blob_etag": info.etag, "status": outcome.status, "report": outcome.report_blob,
                              "at": now.isoformat()}))
    return outcome


def _history(deps: Deps, dataset: str, before: datetime) -> list[history.Observation]:
    rows = deps.state.query(deps.tables.history, f"{dataset}|output",
                            (before - timedelta(days=HISTORY_DAYS)).isoformat(), before.isoformat())
    out = []
    for row in rows:
        try:
            out.append(history.parse_observation(str(row.data.get("observation", ""))))
        except ValueError:
            log.warning("unreadable history row skipped", extra={"dataset": dataset, "row": row.row})
    return out


def record_history(deps: Deps, observation: history.Observation, info: BlobInfo) -> None:
    # Deterministic key (blob time + name + ETag): a retried invocation rewrites the same row.
    digest = hashlib.sha256(f"{info.name}|{info.etag}".encode()).hexdigest()[:16]
    deps.state.upsert(Entity(deps.tables.history, f"{observation.dataset}|output",
                             f"{observation.ts.isoformat()}|{digest}", {"observation": observation.to_json()}))


def _update_verdict(deps: Deps, dataset: str, batch: str, name: str, file_status: str) -> None:
    for _ in range(VERDICT_RETRIES):
        current = deps.state.get(deps.tables.verdicts, dataset, row_key(batch))
        files = json.loads(current.data.get("files", "{}")) if current else {}
        files[name] = file_status
        data = {"batch": batch, "files": json.dumps(files, sort_keys=True), "status": _worst(files.values())}
        try:
            if current is None:
                deps.state.insert(Entity(deps.tables.verdicts, dataset, row_key(batch), data))
            else:
                deps.state.replace(Entity(deps.tables.verdicts, dataset, row_key(batch), data, current.etag))
            return
        except Conflict:
            continue
    raise Conflict(f"verdict of {dataset}/{batch} kept changing; the blob will be retried")


def _worst(statuses: Any) -> str:
    order = {"pass": 0, "warn": 1, "fail": 2}
    return max(statuses, key=lambda s: order.get(s, 0), default="pass")


def read_verdict(deps: Deps, dataset: str, batch: str) -> dict[str, Any] | None:
    """The per-batch verdict: ``status`` (pass/warn/fail) and ``files`` (name → status)."""
    row = deps.state.get(deps.tables.verdicts, dataset, row_key(batch))
    if row is None:
        return None
    return {"status": row.data.get("status", "pass"), "files": json.loads(row.data.get("files", "{}"))}


def _alerts(ds: DatasetSpec, container: str, name: str, outcome: GuardOutcome, findings: list[Finding],
            profile: Profile, now: datetime) -> list[Alert]:
    if outcome.status not in ("warn", "fail"):
        return []
    serious = [f for f in findings if f.severity in (Severity.WARN, Severity.FAIL)]
    serious.sort(key=lambda f: -f.severity.rank)
    head = serious[0]
    more = f" (+{len(serious) - 1} more)" if len(serious) > 1 else ""
    code = "output_failed" if outcome.status == "fail" else "output_warning"
    facts = {"file": f"{container}/{name}", "rows": str(profile.rows), "bytes": str(profile.bytes),
             "findings": ", ".join(sorted({f.code for f in serious})),
             "report": f"{container}/{outcome.report_blob}"}
    if outcome.batch:
        facts["batch"] = f"{ds.name}:{outcome.batch}"
    return [Alert(ds.name, code, Severity(outcome.status), f"{name}: {head.message}{more}", now,
                  topic="output_validation", subject=name, facts=facts)]


def report_poison(deps: Deps, message: str, now: datetime) -> Alert:
    """The Functions host gave up on a blob (it moved it to the poison queue): say so, loudly."""
    try:
        body = json.loads(message)
        container, name = str(body.get("ContainerName", "")), str(body.get("BlobName", ""))
    except (ValueError, AttributeError):
        container, name = "", message[:300]
    found = find_dataset(deps, container, name) if container else None
    dataset = found[0].name if found else "unknown"
    alert = Alert(dataset, "output_poison", Severity.FAIL,
                  f"{container}/{name} could not be validated after repeated attempts; it is in the poison "
                  "queue and its batch has no verdict. Check the file and the function logs, then re-upload it.",
                  now, topic="output_validation", subject=name, facts={"file": f"{container}/{name}"})
    deps.alerts.emit(alert)
    return alert
