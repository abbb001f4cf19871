"""Queue: deliver alerts to Teams and email; a message that keeps failing goes to alerts-poison."""

from __future__ import annotations

import logging

import azure.functions as func

log = logging.getLogger(__name__)
bp = func.Blueprint()


@bp.function_name("alert_dispatcher")
@bp.queue_trigger(arg_name="message", queue_name="alerts", connection="AzureWebJobsStorage")
def alert_dispatcher(message: func.QueueMessage) -> None:
    from shared import bootstrap
    from shared.services import alert_dispatcher as service

    deps = bootstrap.get_deps()
    outcome = service.dispatch(deps, message.get_body().decode("utf-8", "replace"),
                                       message.dequeue_count or 1, deps.clock.now())
    log.info("autopilot heartbeat", extra={"component": "alert_dispatcher", "status": outcome.status,
                                           "sent": ",".join(outcome.sent)})


@bp.function_name("alert_poison")
@bp.queue_trigger(arg_name="message", queue_name="alerts-poison", connection="AzureWebJobsStorage")
def alert_poison(message: func.QueueMessage) -> None:
    from shared import bootstrap
    from shared.services import alert_dispatcher as service

    deps = bootstrap.get_deps()
    service.report_poison(deps, message.get_body().decode("utf-8", "replace"), deps.clock.now())
