"""The HTTP edge of the pipeline webhook: authentication and error mapping around pipeline_events.

Nothing the caller sends can produce a 500: malformed input is a 4xx with a message; a failure of
ours (configuration, ADF down) is a 503 that tells the Web activity to retry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from shared.core.events import RUN_ID
from shared.errors import ConfigError, ExternalError, Rejected
from shared.services import pipeline_events
from shared.services.deps import Deps
from shared.services.pipeline_events import Reply

log = logging.getLogger(__name__)


def _deps_or_reply(get_deps: Callable[[], Deps]) -> Deps | Reply:
    try:
        return get_deps()
    except ConfigError as exc:
        log.error("configuration is invalid", extra={"problems": len(exc.problems)})
        return Reply(503, {"error": "the app's configuration is invalid; its operator must fix it",
                           "details": []}, {"Retry-After": "300"})


def _authenticate(deps: Deps, authorization: str | None) -> Reply | None:
    if deps.token_verifier is None:
        return None
    try:
        deps.token_verifier.verify(authorization)
    except Rejected as exc:
        status = exc.status if exc.status in (401, 403) else 401
        headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else {}
        return Reply(status, {"error": str(exc), "details": []}, headers)
    except ExternalError:
        return Reply(503, {"error": "the token could not be checked right now; retry", "details": []},
                     {"Retry-After": "30"})
    return None


def handle_request(get_deps: Callable[[], Deps], authorization: str | None, body: bytes,
                   content_type: str) -> Reply:
    deps = _deps_or_reply(get_deps)
    if isinstance(deps, Reply):
        return deps
    if (denied := _authenticate(deps, authorization)) is not None:
        return denied
    try:
        return pipeline_events.accept(deps, body, content_type, deps.clock.now())
    except ExternalError as exc:
        log.warning("pipeline event failed on a dependency", extra={"error_type": type(exc).__name__})
        return Reply(503, {"error": "a dependency is unavailable; retry later", "details": [type(exc).__name__]},
                     {"Retry-After": "30"})


def status_request(get_deps: Callable[[], Deps], authorization: str | None, run_id: str,
                   accepted: str | None = None) -> Reply:
    deps = _deps_or_reply(get_deps)
    if isinstance(deps, Reply):
        return deps
    if (denied := _authenticate(deps, authorization)) is not None:
        return denied
    if not RUN_ID.match(run_id):
        return Reply(400, {"error": "the run id is malformed", "details": ["use letters, digits and hyphens"]})
    try:
        return pipeline_events.status_of(deps, run_id, accepted)
    except ExternalError:
        return Reply(503, {"error": "state is unavailable; retry later", "details": []}, {"Retry-After": "30"})
