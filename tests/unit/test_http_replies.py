"""One module maps every webhook outcome to HTTP; the core and the services never pick a status."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from functions.http_replies import describe, to_response
from shared.core.events import Problem, parse_event
from shared.core.outcomes import Accepted, Decided, Denied, Invalid, Outcome, Unavailable, Unknown

RUN = "2f1c6a2e-0b7a-4c35-9a4c-1d2e3f4a5b6c"
AT = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize(("outcome", "status", "headers"), [
    (Accepted(RUN, AT), 202, {"Location": f"/api/pipeline-events/{RUN}?accepted={int(AT.timestamp())}",
                              "Retry-After": "5"}),
    (Accepted(RUN), 202, {"Location": f"/api/pipeline-events/{RUN}", "Retry-After": "5"}),
    (Decided({"decision": "refresh_started"}), 200, {}),
    (Unknown(RUN), 404, {}),
    (Invalid(Problem("media_type", "the body must be JSON")), 415, {}),
    (Invalid(Problem("too_large", "the body is too large")), 413, {}),
    (Invalid(Problem("invalid", "the pipeline event is invalid", ("runId: ...",))), 400, {}),
    (Denied("a bearer token is required"), 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}),
    (Denied("this caller may not report runs", authenticated=True), 403, {}),
    (Unavailable("state is unavailable; retry later", 30), 503, {"Retry-After": "30"}),
])
def test_each_outcome_has_one_status_and_the_headers_a_caller_needs(
        outcome: Outcome, status: int, headers: dict[str, str]) -> None:
    code, body, sent = describe(outcome)

    assert (code, sent) == (status, headers)
    if code >= 400:
        assert set(body) == {"error", "details"} and body["error"]


def test_the_response_is_json_with_the_mapped_status() -> None:
    response = to_response(Invalid(Problem("invalid", "the pipeline event is invalid", ("status: ...",))))

    assert response.status_code == 400 and response.mimetype == "application/json"
    assert json.loads(response.get_body()) == {"error": "the pipeline event is invalid", "details": ["status: ..."]}


def test_a_run_id_that_is_not_a_guid_is_a_400_naming_the_fix_not_a_poisoned_event() -> None:
    body = {"factory": "adf-prod", "pipeline": "score_batch", "runId": "not-a-run-id", "status": "Succeeded"}

    problem = parse_event(json.dumps(body).encode(), "application/json")

    assert isinstance(problem, Problem)
    status, reply, _ = describe(Invalid(problem))
    assert status == 400
    assert any(d.startswith("runId: must be the run's id, a GUID") and "@{pipeline().RunId}" in d
               for d in reply["details"])
