"""The webhook's requests: authentication and failures of ours around pipeline_events.

Nothing the caller sends can fail the function: malformed input is ``Invalid``; a failure of ours
(configuration, state or ADF down) is ``Unavailable``, which tells the Web activity to retry. The HTTP
edge maps these outcomes to status codes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from shared.core.events import RUN_ID, Problem
from shared.core.outcomes import Denied, Invalid, Outcome, Unavailable
from shared.errors import ConfigError, ExternalError, Rejected
from shared.services import pipeline_events
from shared.services.deps import Deps

log = logging.getLogger(__name__)


def _deps_or_outcome(get_deps: Callable[[], Deps]) -> Deps | Unavailable:
    try:
        return get_deps()
    except ConfigError as exc:
        log.error("configuration is invalid", extra={"problems": len(exc.problems)})
        return Unavailable("the app's configuration is invalid; its operator must fix it", 300)


def _authenticate(deps: Deps, authorization: str | None) -> Denied | Unavailable | None:
    if deps.token_verifier is None:
        return None
    try:
        deps.token_verifier.verify(authorization)
    except Rejected as exc:
        return Denied(str(exc), authenticated=exc.status == 403)
    except ExternalError:
        return Unavailable("the token could not be checked right now; retry", 30)
    return None


def handle_request(get_deps: Callable[[], Deps], authorization: str | None, body: bytes,
                   content_type: str) -> Outcome:
    deps = _deps_or_outcome(get_deps)
    if isinstance(deps, Unavailable):
        return deps
    if (denied := _authenticate(deps, authorization)) is not None:
        return denied
    try:
        return pipeline_events.accept(deps, body, content_type, deps.clock.now())
    except ExternalError as exc:
        log.warning("pipeline event failed on a dependency", extra={"error_type": type(exc).__name__})
        return Unavailable("a dependency is unavailable; retry later", 30, (type(exc).__name__,))


def status_request(get_deps: Callable[[], Deps], authorization: str | None, run_id: str,
                   accepted: str | None = None) -> Outcome:
    deps = _deps_or_outcome(get_deps)
    if isinstance(deps, Unavailable):
        return deps
    if (denied := _authenticate(deps, authorization)) is not None:
        return denied
    if not RUN_ID.match(run_id):
        return Invalid(Problem("invalid", "the run id is malformed",
                               ("use the run's id, a GUID such as 2f1c6a2e-0b7a-4c35-9a4c-1d2e3f4a5b6c",)))
    try:
        return pipeline_events.status_of(deps, run_id, accepted)
    except ExternalError:
        return Unavailable("state is unavailable; retry later", 30)
