"""The app's error tree. Adapters map SDK and HTTP errors onto it, always chained (``raise ... from``).

    AutopilotError
    ├── ConfigError            settings or pipelines config are invalid (carries every problem)
    └── ExternalError          an external system failed
        ├── NotFound           the thing asked for does not exist
        ├── Conflict           a conditional write lost (ETag mismatch, entity already exists)
        ├── Throttled          429 after the adapter's own retries (carries retry_after)
        ├── Unavailable        5xx, timeouts, refused connections after retries
        ├── Unauthenticated    the app's identity could not get a token (access not granted, bad setup)
        ├── Superseded         another worker took the work over (a lost claim): this one stopped
        └── Rejected           4xx the caller must fix (bad parameters, forbidden)

Data problems are never exceptions: they are findings (see ``shared.core``).
"""

from __future__ import annotations

from collections.abc import Sequence


class AutopilotError(Exception):
    """Base of every error the app raises on purpose."""


class ConfigError(AutopilotError):
    """Configuration is invalid. ``problems`` lists every problem found, each one line."""

    def __init__(self, problems: Sequence[str], source: str = "configuration") -> None:
        self.problems = tuple(problems)
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        count = len(self.problems)
        head = f"{source_label(self.source)} has {count} problem{'s' if count != 1 else ''}:"
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])


def source_label(source: str) -> str:
    return source if source else "configuration"


class ExternalError(AutopilotError):
    """An external system (storage, ADF, Power BI, a channel) failed."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NotFound(ExternalError):
    """The resource does not exist."""


class Conflict(ExternalError):
    """A conditional write lost: the entity exists already or changed since it was read."""


class Throttled(ExternalError):
    """The service kept answering 429 after retries."""

    def __init__(self, message: str, *, status: int | None = 429, retry_after: float | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class Unavailable(ExternalError):
    """5xx, timeouts or refused connections after retries; the call may have had an effect."""


class Unauthenticated(ExternalError):
    """No token could be had for a service: retrying at once will not help; a person must grant access
    or fix the identity's setup."""


class Superseded(ExternalError):
    """The work was taken over by another worker (e.g. a batch claim that expired during retries):
    this worker stopped before doing it twice."""


class Rejected(ExternalError):
    """A 4xx the caller must fix; retrying the same call will not help."""
