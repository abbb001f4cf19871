"""What the pipeline webhook's use cases answer, in the product's words; the HTTP edge
(``functions/http_replies.py``) alone turns each outcome into a status code and headers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.core.events import Problem


@dataclass(frozen=True)
class Accepted:
    """The event is queued (or being decided): ask again at the run's status URL."""

    run_id: str
    accepted: datetime | None = None    # when it was queued: the status URL answers before it is recorded


@dataclass(frozen=True)
class Decided:
    """The one decision made for the run (verified, refresh started / held, alerts)."""

    decision: dict[str, Any]


@dataclass(frozen=True)
class Unknown:
    """No event was ever recorded for this run."""

    run_id: str


@dataclass(frozen=True)
class Invalid:
    """The caller sent something we cannot take; the problem says what to send instead."""

    problem: Problem


@dataclass(frozen=True)
class Unavailable:
    """Something of ours (configuration, state, a dependency) failed: the caller should retry later."""

    error: str
    retry_after_seconds: int
    details: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Denied:
    """Authentication failed (no or a bad token) or the caller is not allowed (a valid token)."""

    error: str
    authenticated: bool = False


Outcome = Accepted | Decided | Unknown | Invalid | Unavailable | Denied
