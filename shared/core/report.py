"""The validation report (DESIGN 3.3): a profile and its findings as one JSON-ready mapping."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from shared.core.findings import Finding, status
from shared.core.profile import ColumnProfile, Profile, Scalar


def build_report(profile: Profile, findings: Sequence[Finding], *, file: str, dataset: str = "") -> dict[str, Any]:
    """``status`` is the worst finding's severity, ``pass`` when there is none."""
    body: dict[str, Any] = {"bytes": profile.bytes, "rows": profile.rows,
                            "columns": {name: column_json(col) for name, col in profile.columns.items()}}
    if profile.content_bytes is not None:
        body["content_bytes"] = profile.content_bytes
    if not profile.complete:
        body["complete"] = False
    return {"status": status(findings), "file": file, "dataset": dataset, "format": profile.format,
            "profile": body, "findings": [f.to_dict() for f in findings]}


def column_json(col: ColumnProfile) -> dict[str, Any]:
    out: dict[str, Any] = {"type": col.type, "nulls": col.nulls, "min": json_scalar(col.min),
                           "max": json_scalar(col.max)}
    if col.mean is not None:
        out["mean"] = json_scalar(col.mean)
    if col.std is not None:
        out["std"] = json_scalar(col.std)
    if col.non_finite:
        out["non_finite"] = col.non_finite
    if col.histogram is not None:
        h = col.histogram
        out["histogram"] = {"lo": h.lo, "hi": h.hi, "counts": list(h.counts), "below": h.below,
                            "above": h.above}
    return out


def json_scalar(value: Scalar | None) -> Any:
    """JSON has no NaN, infinity or dates: spell them as strings ("nan", "inf", ISO 8601)."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return str(value)
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value
