"""ADF's run-query language as the emulator evaluates it: time windows, filters, ordering, paging.

Also ``ArmError``, the ARM error answer every emulator operation raises.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

RUN_FILTERS = {"PipelineName": "pipelineName", "Status": "status", "RunGroupId": "runGroupId"}
ACTIVITY_FILTERS = {"ActivityName": "activityName", "Status": "status", "ActivityType": "activityType"}
_ORDER_FIELDS = {"RunStart": "runStart", "RunEnd": "runEnd", "PipelineName": "pipelineName",
                 "Status": "status", "ActivityName": "activityName", "ActivityRunStart": "activityRunStart",
                 "ActivityRunEnd": "activityRunEnd"}


class ArmError(Exception):
    """An ARM error answer: status plus the ``{"error": {"code", "message"}}`` body."""

    def __init__(self, status: int, code: str, message: str,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.headers = status, code, dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": str(self), "target": None, "details": None}}


def parse_time(value: Any, field: str) -> datetime:
    if not isinstance(value, str) or not value:
        raise ArmError(400, "BadRequest", f"'{field}' is required and must be an ISO 8601 timestamp")
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    text = re.sub(r"\.(\d{6})\d+", r".\1", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ArmError(400, "BadRequest", f"'{field}' is not a valid timestamp: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _token(offset: int, basis: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset, "q": basis}).encode()).decode()


def _offset(token: Any, basis: str) -> int:
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        if data["q"] == basis and isinstance(data["o"], int) and data["o"] >= 0:
            return int(data["o"])
    except (ValueError, KeyError, TypeError):
        pass
    raise ArmError(400, "BadRequest", "the continuation token is not valid for this query")


def select(items: list[dict[str, Any]], filters: Any, allowed: Mapping[str, str]) -> list[dict[str, Any]]:
    if filters is None:
        return items
    if not isinstance(filters, list):
        raise ArmError(400, "BadRequest", "'filters' must be a list")
    for f in filters:
        if not isinstance(f, dict) or not isinstance(f.get("values"), list):
            raise ArmError(400, "BadRequest", "each filter needs 'operand', 'operator' and a 'values' list")
        key = allowed.get(str(f.get("operand")))
        if key is None:
            raise ArmError(400, "BadRequest", f"filter operand {f.get('operand')!r} is not supported here; "
                           f"use one of {sorted(allowed)}")
        values, operator = [str(v) for v in f["values"]], str(f.get("operator"))
        if operator not in ("Equals", "NotEquals", "In", "NotIn"):
            raise ArmError(400, "BadRequest", f"filter operator {operator!r} is not valid")
        if operator in ("Equals", "NotEquals") and len(values) != 1:
            raise ArmError(400, "BadRequest", f"operator {operator} takes exactly one value")
        keep = operator in ("Equals", "In")
        items = [i for i in items if (str(i.get(key)) in values) == keep]
    return items


def order(items: list[dict[str, Any]], order_by: Any) -> list[dict[str, Any]]:
    items = sorted(items, key=lambda i: (str(i.get("runStart") or i.get("activityRunStart") or ""),
                                         str(i.get("runId") or i.get("activityRunId"))))
    for rule in reversed(order_by or []):
        key = _ORDER_FIELDS.get(str(rule.get("orderBy")) if isinstance(rule, dict) else "")
        if key is None:
            raise ArmError(400, "BadRequest", f"orderBy {rule!r} is not supported")
        items.sort(key=lambda i: str(i.get(key) or ""), reverse=str(rule.get("order")).upper() == "DESC")
    return items


def window(payload: Any) -> tuple[dict[str, Any], datetime, datetime]:
    """The RunFilterParameters body and its required [lastUpdatedAfter, lastUpdatedBefore] window."""
    if not isinstance(payload, dict):
        raise ArmError(400, "BadRequest", "the body must be a RunFilterParameters JSON object")
    after = parse_time(payload.get("lastUpdatedAfter"), "lastUpdatedAfter")
    before = parse_time(payload.get("lastUpdatedBefore"), "lastUpdatedBefore")
    if before < after:
        raise ArmError(400, "BadRequest", "'lastUpdatedBefore' is earlier than 'lastUpdatedAfter'")
    return payload, after, before


def page(items: list[dict[str, Any]], payload: Mapping[str, Any], size: int) -> dict[str, Any]:
    """One page of ``items``; the token is bound to the query so it cannot be replayed on another."""
    basis = json.dumps({k: v for k, v in payload.items() if k != "continuationToken"}, sort_keys=True)
    start = _offset(payload.get("continuationToken"), basis)
    end = start + size
    return {"value": items[start:end], "continuationToken": _token(end, basis) if end < len(items) else None}
