"""Timer: find new upstream batches and start one ADF run per complete batch."""

from __future__ import annotations

import logging

import azure.functions as func

from shared import bootstrap
from shared.services import watch_upstream

log = logging.getLogger(__name__)
bp = func.Blueprint()


@bp.function_name("upstream_watcher")
@bp.timer_trigger(arg_name="timer", schedule="%UPSTREAM_SCHEDULE%", use_monitor=True)
def upstream_watcher(timer: func.TimerRequest) -> None:
    deps = bootstrap.get_deps()
    outcome = watch_upstream.run_tick(deps, now=deps.clock.now(), past_due=timer.past_due)
    log.info("autopilot heartbeat", extra={"component": "upstream_watcher", **outcome.summary()})
