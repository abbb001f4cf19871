"""HTTP: the pipeline's final Web activity reports the run (202 + Location); a queue worker verifies it,
refreshes or holds, and alerts."""

from __future__ import annotations

import logging

import azure.functions as func

log = logging.getLogger(__name__)
bp = func.Blueprint()


@bp.function_name("pipeline_events")
@bp.route(route="pipeline-events", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def pipeline_events(req: func.HttpRequest) -> func.HttpResponse:
    from functions import http_replies
    from shared import bootstrap
    from shared.services import webhook

    outcome = webhook.handle_request(bootstrap.get_deps, req.headers.get("authorization"), req.get_body(),
                                     req.headers.get("content-type", ""))
    return http_replies.to_response(outcome)


@bp.function_name("pipeline_event_status")
@bp.route(route="pipeline-events/{run_id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def pipeline_event_status(req: func.HttpRequest) -> func.HttpResponse:
    from functions import http_replies
    from shared import bootstrap
    from shared.services import webhook

    outcome = webhook.status_request(bootstrap.get_deps, req.headers.get("authorization"),
                                     req.route_params.get("run_id", ""), req.params.get("accepted"))
    return http_replies.to_response(outcome)


@bp.function_name("pipeline_events_worker")
@bp.queue_trigger(arg_name="message", queue_name="pipeline-events", connection="AzureWebJobsStorage")
def pipeline_events_worker(message: func.QueueMessage) -> None:
    from shared import bootstrap
    from shared.services import pipeline_events as service

    deps = bootstrap.get_deps()
    outcome = service.process(deps, message.get_body().decode("utf-8", "replace"), deps.clock.now())
    log.info("pipeline event processed", extra={"outcome": outcome})


@bp.function_name("pipeline_events_poison")
@bp.queue_trigger(arg_name="message", queue_name="pipeline-events-poison", connection="AzureWebJobsStorage")
def pipeline_events_poison(message: func.QueueMessage) -> None:
    from shared import bootstrap
    from shared.services import pipeline_events as service

    deps = bootstrap.get_deps()
    service.report_poison(deps, message.get_body().decode("utf-8", "replace"), deps.clock.now())
