"""HTTP: the status page, every dataset's batches, runs, verdicts, refreshes, alerts and history charts
as one server-rendered HTML page (``GET /api/status``)."""

from __future__ import annotations

import azure.functions as func

bp = func.Blueprint()


@bp.function_name("status_page")
@bp.route(route="status", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def status_page(req: func.HttpRequest) -> func.HttpResponse:
    from functions import http_replies
    from shared import bootstrap
    from shared.services import status

    return http_replies.to_page_response(status.page_request(bootstrap.get_deps, req.headers.get("authorization")))
