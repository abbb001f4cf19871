"""Shared check of the integration tests: a secret appears in no log record and no raised error."""

from __future__ import annotations

import logging

import pytest

NOISY_LOGGERS = ("urllib3", "requests", "azure", "azure.core.pipeline.policies.http_logging_policy",
                 "mail.log")


def capture_everything(caplog: pytest.LogCaptureFixture) -> None:
    """Capture DEBUG and up from the root and from the HTTP libraries' own loggers."""
    caplog.set_level(logging.DEBUG)
    for name in NOISY_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)


def assert_nowhere(secret: str, caplog: pytest.LogCaptureFixture, errors: list[BaseException]) -> None:
    assert secret
    assert caplog.records, "nothing was logged: the check would prove nothing"
    for record in caplog.records:
        rendered = f"{record.name} {record.getMessage()} {record.__dict__!r}"
        assert secret not in rendered, f"the secret is in a log record of {record.name}"
    assert secret not in caplog.text
    for error in errors:
        chain: BaseException | None = error
        while chain is not None:
            assert secret not in f"{chain} {chain!r}", f"the secret is in a {type(chain).__name__}"
            chain = chain.__cause__ or (None if chain.__suppress_context__ else chain.__context__)
