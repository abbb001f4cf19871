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
from shared.errors import ExternalError
from shared.services import access, pipeline_events
from shared.services.deps import Deps

log = logging.getLogger(__name__)


def handle_request(get_deps: Callable[[], Deps], authorization: str | None, body: bytes,
                   content_type: str) -> Outcome:
    deps = access.admit(get_deps, authorization)
    if isinstance(deps, (Denied, Unavailable)):
        return deps
    try:
        return pipeline_events.accept(deps, body, content_type, deps.clock.now())
    except ExternalError as exc:
        log.warning("pipeline event failed on a dependency", extra={"error_type": type(exc).__name__})
        return Unavailable("a dependency is unavailable; retry later", 30, (type(exc).__name__,))


def status_request(get_deps: Callable[[], Deps], authorization: str | None, run_id: str,
                   accepted: str | None = None) -> Outcome:
    deps = access.admit(get_deps, authorization)
    if isinstance(deps, (Denied, Unavailable)):
        return deps
    if not RUN_ID.match(run_id):
        return Invalid(Problem("invalid", "the run id is malformed",
                               ("use the run's id, a GUID such as 2f1c6a2e-0b7a-4c35-9a4c-1d2e3f4a5b6c",)))
    try:
        return pipeline_events.status_of(deps, run_id, accepted)
    except ExternalError:
        return Unavailable("state is unavailable; retry later", 30)
