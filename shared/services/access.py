"""Who may call the app's HTTP functions beyond the host's function key: the app's dependencies (a broken
configuration is a 503 its operator must fix) and the Entra ID token, when the app checks one. The
webhook, the run status and the status page admit a request the same way."""

from __future__ import annotations

import logging
from collections.abc import Callable

from shared.core.outcomes import Denied, Unavailable
from shared.errors import ConfigError, ExternalError, Rejected
from shared.services.deps import Deps

log = logging.getLogger(__name__)


def admit(get_deps: Callable[[], Deps], authorization: str | None) -> Deps | Denied | Unavailable:
    """The dependencies to serve the request with, or the answer that turns it away."""
    try:
        deps = get_deps()
    except ConfigError as exc:
        log.error("configuration is invalid", extra={"problems": len(exc.problems)})
        return Unavailable("the app's configuration is invalid; its operator must fix it", 300)
    if deps.token_verifier is None:
        return deps
    try:
        deps.token_verifier.verify(authorization)
    except Rejected as exc:
        return Denied(str(exc), authenticated=exc.status == 403)
    except ExternalError:
        return Unavailable("the token could not be checked right now; retry", 30)
    return deps
