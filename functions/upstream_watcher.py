"""Timer: find new upstream batches and start one ADF run per complete batch."""

from __future__ import annotations

import logging

import azure.functions as func

log = logging.getLogger(__name__)
bp = func.Blueprint()


@bp.function_name("upstream_watcher")
@bp.timer_trigger(arg_name="timer", schedule="%UPSTREAM_SCHEDULE%", use_monitor=True)
def upstream_watcher(timer: func.TimerRequest) -> None:
    # Imported on first invocation, not at indexing: cold start stays close to azure.functions alone.
    from shared import bootstrap
    from shared.services import upstream_watcher as service

    deps = bootstrap.get_deps()
    outcome = service.run_tick(deps, now=deps.clock.now(), past_due=timer.past_due)
    log.info("autopilot heartbeat", extra={"component": "upstream_watcher", **outcome.summary()})
