"""How long a pipeline's runs normally take, and whether one run took much longer (``run_slow``).

Both the webhook's worker (a finished run) and the follow-up timer (a run still in progress) ask for
the band; it is learned from Log Analytics' ADFPipelineRun when configured, else from the factory's
run history, and cached for a few minutes (history moves slowly).
"""

from __future__ import annotations

import logging
import statistics
import time
from datetime import datetime, timedelta

from shared.core import breaker
from shared.core.baseline import Judgement, Point, judge
from shared.core.models import Alert, RunStatus, Severity
from shared.core.spec import HistorySpec
from shared.errors import ExternalError
from shared.services import engines
from shared.services.deps import Deps

log = logging.getLogger(__name__)

DURATION_HISTORY = timedelta(days=30)
DURATION_SPEC = HistorySpec(min_history=5, window=60, sensitivity=3.5, seasonality="none")
BAND_TTL = timedelta(minutes=5)


def duration_band(deps: Deps, pipeline: str, now: datetime, engine: str = "adf") -> Judgement | None:
    """The pipeline's normal duration band, learned from its successful runs; cached for a few minutes
    (history moves slowly, and every event would otherwise re-read and re-learn it)."""
    key = f"duration_band|{engine}|{pipeline}"
    cached = deps.cache.get(key)
    if cached is not None and cached[0] > time.monotonic():
        band: Judgement | None = cached[1]
        return band
    history: list[tuple[datetime, float]] = []
    if deps.durations is not None and engine == "adf":     # Log Analytics holds ADFPipelineRun
        try:
            history = deps.durations(pipeline, now - DURATION_HISTORY, now)
        except ExternalError as exc:
            # Log Analytics down or empty must not block the run's decision: use the factory's history.
            log.warning("run history from Log Analytics unavailable", extra={"error_type": type(exc).__name__})
    runner = engines.runner(deps, engine)
    if not history and runner is not None:
        history = [(r.run_start, (r.run_end - r.run_start).total_seconds())
                   for r in runner.query_runs(pipeline, now - DURATION_HISTORY, now)
                   if r.run_start and r.run_end and r.status is RunStatus.SUCCEEDED]
    band = None
    if len(history) >= DURATION_SPEC.min_history:
        center = statistics.median(d for _, d in history)
        band = judge([Point(t, d) for t, d in history], Point(now, center), DURATION_SPEC)
    deps.cache[key] = (time.monotonic() + BAND_TTL.total_seconds(), band)
    return band


def slow_run_alert(deps: Deps, pipeline: str, facts: breaker.RunFacts, now: datetime,
                   engine: str = "adf") -> Alert | None:
    if facts.duration_s is None:
        return None
    band = duration_band(deps, pipeline, now, engine)
    if band is None or band.high is None or facts.duration_s <= band.high:
        return None
    return Alert("", "run_slow", Severity.WARN,
                 f"Run {facts.run_id} of {pipeline} took {facts.duration_s / 60:.1f} min, longer than usual "
                 f"(normal up to {band.high / 60:.1f} min, median {(band.expected or 0) / 60:.1f} min over "
                 f"{band.history} runs).", now, subject=facts.run_id,
                 facts={"run_id": facts.run_id, "duration_min": f"{facts.duration_s / 60:.1f}"})
