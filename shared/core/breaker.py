"""The circuit breaker in front of Power BI: refresh only when the run succeeded and its outputs are good.

When the breaker holds, dashboards keep the last good data, and the reasons say why in words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.core.spec import PowerBIDataset


@dataclass(frozen=True)
class RunFacts:
    """What ADF says about the run (never only what the caller's body says)."""

    run_id: str
    pipeline: str
    succeeded: bool
    status: str                     # ADF's status of the run
    failed_activity: str = ""
    error: str = ""
    started: datetime | None = None
    duration_s: float | None = None


def hold_reasons(run: RunFacts, verdict: str | None, outputs_expected: bool, target: PowerBIDataset,
                 outputs_detail: str = "") -> list[str]:
    """Why this dataset must not be refreshed now; empty when it may be. ``outputs_detail`` says why the
    outputs have no verdict, or which of them failed."""
    detail = f" ({outputs_detail})" if outputs_detail else ""
    reasons = []
    if not run.succeeded:
        where = f" in activity {run.failed_activity}" if run.failed_activity else ""
        reasons.append(f"the run {run.status.lower()}{where}" + (f": {run.error}" if run.error else ""))
    if outputs_expected:
        if verdict is None:
            reasons.append(f"its outputs have not been validated{detail}")
        elif verdict == "fail":
            reasons.append(f"its outputs failed validation{detail}")
        elif verdict == "warn" and not target.refresh_on_warn:
            reasons.append("its outputs passed with warnings (refresh_on_warn is off)")
    return reasons


def summarize(reasons: Sequence[str]) -> str:
    if not reasons:
        return ""
    return "; ".join(reasons[:-1]) + (" and " if len(reasons) > 1 else "") + reasons[-1]
