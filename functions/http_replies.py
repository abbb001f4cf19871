"""The webhook's one HTTP mapping: every outcome of its use cases → status code, headers and JSON body.

The core says what is wrong (``Problem.kind``) and the services what happened (``shared.core.outcomes``);
only this module knows that an event is accepted with 202 + Location, that a body of the wrong media
type is a 415, or that a failure of ours is a 503 with Retry-After, so the Web activity retries.
"""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func

from shared.core.outcomes import Accepted, Decided, Denied, Invalid, Outcome, Unavailable, Unknown

STATUS_URL = "/api/pipeline-events/{run_id}"
PROBLEM_STATUS = {"media_type": 415, "too_large": 413, "invalid": 400}
POLL_AFTER_SECONDS = 5


def location(run_id: str, accepted: Any = None) -> str:
    """The status URL; ``accepted`` (when the event was queued) lets it answer before the worker ran."""
    path = STATUS_URL.format(run_id=run_id)
    return f"{path}?accepted={int(accepted.timestamp())}" if accepted is not None else path


def describe(outcome: Outcome) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status code, JSON body and headers for one outcome."""
    match outcome:
        case Accepted(run_id, accepted):
            return 202, {"state": "accepted", "runId": run_id,
                         "detail": "the run is being verified; GET the Location for the decision"}, \
                {"Location": location(run_id, accepted), "Retry-After": str(POLL_AFTER_SECONDS)}
        case Decided(decision):
            return 200, decision, {}
        case Unknown(run_id):
            return 404, {"error": f"no pipeline event for run {run_id}", "details": []}, {}
        case Invalid(problem):
            return PROBLEM_STATUS[problem.kind], {"error": problem.error, "details": list(problem.details)}, {}
        case Denied(error, authenticated):
            headers = {} if authenticated else {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            return (403 if authenticated else 401), {"error": error, "details": []}, headers
        case Unavailable(error, retry_after, details):
            return 503, {"error": error, "details": list(details)}, {"Retry-After": str(retry_after)}
    raise TypeError(f"no HTTP mapping for {type(outcome).__name__}")


def to_response(outcome: Outcome) -> func.HttpResponse:
    status, body, headers = describe(outcome)
    return func.HttpResponse(json.dumps(body), status_code=status, headers=headers, mimetype="application/json")


def to_page_response(outcome: Any) -> func.HttpResponse:
    """The status page (200, text/html, its strict Content-Security-Policy), or the JSON error of a denied
    or failed request as ``describe`` maps it."""
    from shared.services.status import Page

    if isinstance(outcome, Page):
        return func.HttpResponse(outcome.html, status_code=200, mimetype="text/html", charset="utf-8", headers={
            "Content-Security-Policy": outcome.csp, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Frame-Options": "DENY"})
    return to_response(outcome)


FEEDBACK_REFUSAL_STATUS = {"malformed": 400, "forged": 403, "expired": 410, "replayed": 409}


def to_feedback_response(outcome: Any) -> func.HttpResponse:
    """``/api/feedback``: the confirmation page (200 HTML), the label recorded (200 JSON), or why the token
    is refused: malformed 400, forged 403, expired 410, replayed 409 (each body says which)."""
    from shared.core.feedback import Refused
    from shared.services.feedback import ConfirmPage, Labelled

    match outcome:
        case ConfirmPage(page, csp):
            return func.HttpResponse(page, status_code=200, mimetype="text/html", charset="utf-8", headers={
                "Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                "Cache-Control": "no-store", "X-Frame-Options": "DENY"})
        case Labelled(claims):
            body = {"state": "labelled", "dataset": claims.dataset, "code": claims.code, "subject": claims.subject,
                    "fingerprint": claims.fingerprint, "label": claims.action.value}
            return func.HttpResponse(json.dumps(body), status_code=200, mimetype="application/json",
                                     headers={"Cache-Control": "no-store"})
        case Refused(reason):
            return func.HttpResponse(json.dumps({"error": outcome.error, "reason": reason.value, "details": []}),
                                     status_code=FEEDBACK_REFUSAL_STATUS[reason.value], mimetype="application/json",
                                     headers={"Cache-Control": "no-store"})
    return to_response(outcome)
