"""The output guard's decisions, pure: judge one profiled output file (findings, status, report,
alert, what history keeps), and fold a file's status into its batch's verdict."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.core import checks, history
from shared.core.findings import Finding, status, to_alert
from shared.core.models import Alert, Severity
from shared.core.profile import Profile
from shared.core.report import build_report
from shared.core.spec import OutputSpec

_ORDER = {"pass": 0, "warn": 1, "fail": 2}


@dataclass(frozen=True)
class FileJudgement:
    """Everything the guard writes about one file, decided before anything is written."""

    status: str                          # pass | warn | fail
    codes: tuple[str, ...]               # warn and fail finding codes, worst first
    report: dict[str, Any]               # the validation report (DESIGN 3.3)
    report_blob: str                     # where the report goes, beside the output
    observation: history.Observation | None   # the history record to keep (None: the file was unreadable)
    alerts: tuple[Alert, ...]


def report_blob(out: OutputSpec, name: str) -> str:
    return f"{out.base}{out.reports_prefix.strip('/')}/{name[len(out.base):]}.report.json"


def judge_file(dataset: str, out: OutputSpec, container: str, name: str, batch: str, profile: Profile,
               observation: history.Observation, past: Sequence[history.Observation], now: datetime,
               *, part: bool = False) -> FileJudgement:
    """Contract checks, then (for a readable file) the history checks against ``past``. A ``part`` of a
    batched dataset gets its contract checks only and raises no alert: its batch is judged against
    history and alerted as one (``batch_judgement``)."""
    contract = out.contract
    findings = checks.check(profile, contract, now, path=name)
    if profile.readable and not part:
        findings += history.history_findings(observation, past, contract)
    file_status = status(findings)
    serious = sorted((f for f in findings if f.severity in (Severity.WARN, Severity.FAIL)),
                     key=lambda f: -f.severity.rank)
    blob = report_blob(out, name)
    # One alert per file, and none for a file whose every finding continues an episode an earlier file
    # already raised: the rule the backtest scores (findings.to_alert).
    alerts = _alerts(dataset, container, name, batch, file_status, serious, profile, blob, now) \
        if to_alert(findings) and not part else ()
    return FileJudgement(file_status, tuple(dict.fromkeys(f.code for f in serious)),
                         build_report(profile, findings, file=f"{container}/{name}", dataset=dataset), blob,
                         observation if profile.readable else None, alerts)


def _alerts(dataset: str, container: str, name: str, batch: str, file_status: str, serious: list[Finding],
            profile: Profile, blob: str, now: datetime) -> tuple[Alert, ...]:
    if file_status not in ("warn", "fail"):
        return ()
    head = serious[0]
    more = f" (+{len(serious) - 1} more)" if len(serious) > 1 else ""
    code = "output_failed" if file_status == "fail" else "output_warning"
    facts = {"file": f"{container}/{name}", "rows": str(profile.rows), "bytes": str(profile.bytes),
             "findings": ", ".join(sorted({f.code for f in serious})), "report": f"{container}/{blob}"}
    if batch:
        facts["batch"] = f"{dataset}:{batch}"
    return (Alert(dataset, code, Severity(file_status), f"{name}: {head.message}{more}", now,
                  topic="output_validation", subject=name, facts=facts),)


def worst(statuses: Iterable[str]) -> str:
    return max(statuses, key=lambda s: _ORDER.get(s, 0), default="pass")


def merge_file(files: Mapping[str, str], name: str, file_status: str) -> tuple[dict[str, str], str]:
    """The batch's files with ``name`` judged ``file_status``, and the batch's status (the worst)."""
    merged = {**files, name: file_status}
    return merged, worst(merged.values())
