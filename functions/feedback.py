"""HTTP: the "false alarm" / "expected" actions of alert cards and emails. ``GET /api/feedback?token=``
shows what the action will record (changes nothing); its button POSTs the token, which records the label.

Anonymous on purpose: the signed, expiring, single-use token is the credential (a card cannot carry a
function key without handing it to everyone who reads the alert)."""

from __future__ import annotations

import azure.functions as func

bp = func.Blueprint()


@bp.function_name("feedback")
@bp.route(route="feedback", methods=["GET", "POST"], auth_level=func.AuthLevel.ANONYMOUS)
def feedback(req: func.HttpRequest) -> func.HttpResponse:
    from functions import http_replies
    from shared import bootstrap
    from shared.services import feedback as service

    outcome = service.handle_request(bootstrap.get_deps, req.method.upper(), req.get_body(),
                                     req.headers.get("content-type", ""), req.params.get("token"))
    return http_replies.to_feedback_response(outcome)
