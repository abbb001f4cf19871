"""One retry loop for the adapters (Data Factory, Log Analytics, Power BI).

A call is repeated only when its adapter says the failure may be retried, and how soon (its
``wait_for`` answers a wait in seconds, Retry-After included, or None), within a budget of attempts
and of total sleep that tests can make small. Which failures are safe to repeat stays the adapter's
decision: the exactly-once rule lives there (createRun is repeated only when it cannot have taken
effect: throttled, or never sent).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    """``retries`` after the first attempt, exponential ``backoff`` capped at ``max_backoff``, and at
    most ``max_wait`` seconds of sleep in all for one call."""

    retries: int
    backoff: float = 1.0
    max_backoff: float = 30.0
    max_wait: float = 60.0

    def backoff_for(self, attempt: int) -> float:
        return float(min(self.backoff * (2 ** attempt), self.max_backoff))

    def worst_case_seconds(self, attempt_seconds: float) -> float:
        """The longest one call can take: every attempt at its longest, and all the sleep allowed."""
        return (self.retries + 1) * attempt_seconds + self.max_wait


def call[T](attempt: Callable[[], T], *, budget: Budget, wait_for: Callable[[Exception, int], float | None],
            sleep: Callable[[float], None], what: str, log: logging.Logger,
            before_retry: Callable[[], None] | None = None) -> T:
    """``attempt()`` until it returns; on an exception, retry when ``wait_for(exc, attempt)`` gives a
    wait that fits the budget, else re-raise it for the adapter to map. ``before_retry`` runs after the
    wait and before each repeat; it may raise to stop (a caller whose claim on the work was lost)."""
    tries, waited = 0, 0.0
    while True:
        try:
            return attempt()
        except Exception as exc:
            wait = wait_for(exc, tries)
            if wait is None or tries >= budget.retries or waited + wait > budget.max_wait:
                raise
            log.warning("%s failed; retrying", what, extra={"call": what, "attempt": tries + 1, "wait": wait,
                                                           "error_type": type(exc).__name__,
                                                           "status": getattr(exc, "status_code", None)})
            sleep(wait)
            tries, waited = tries + 1, waited + wait
            if before_retry is not None:
                before_retry()
