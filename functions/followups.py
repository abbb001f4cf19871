"""Timer (every few minutes): Power BI refresh outcomes, owed refreshes, alert digests, stuck runs."""

from __future__ import annotations

import logging

import azure.functions as func

log = logging.getLogger(__name__)
bp = func.Blueprint()


@bp.function_name("followups")
@bp.timer_trigger(arg_name="timer", schedule="%FOLLOWUP_SCHEDULE%", use_monitor=True)
def followups(timer: func.TimerRequest) -> None:
    from shared import bootstrap
    from shared.services import followups as service

    deps = bootstrap.get_deps()
    summary = service.run(deps, deps.clock.now())
    log.info("autopilot heartbeat", extra={"component": "followups", **summary})
