"""The local console's log lines: message, then the call's ``extra=`` fields as key=value, secrets masked."""

from __future__ import annotations

import io
import logging

import pytest

from sandbox.logs import ConsoleFormatter, configure

CONNECTION = ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=c2VjcmV0a2V5==;"
              "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;")


def line(message: str, **extra: object) -> str:
    record = logging.makeLogRecord({"name": "functions.output_guard", "levelno": logging.INFO,
                                    "levelname": "INFO", "msg": message, **extra})
    return ConsoleFormatter().format(record)


def test_the_fields_of_a_log_call_follow_its_message_in_the_order_given() -> None:
    text = line("output validated", dataset="scores", batch="2026/11/29", status="fail",
                codes=["rows_anomaly", "drift"])
    assert text.endswith("INFO    functions.output_guard: output validated dataset=scores batch=2026/11/29 "
                         "status=fail codes=rows_anomaly,drift")


def test_values_with_spaces_or_quotes_are_quoted_and_escaped() -> None:
    text = line("alert suppressed", reason='duplicate within the "cooldown"', empty="", flag=True, gone=None)
    assert 'reason="duplicate within the \\"cooldown\\""' in text
    assert 'empty=""' in text and "flag=true" in text and "gone" not in text


def test_a_mapping_field_is_spread_into_its_keys_without_repeating_the_message() -> None:
    text = line("Executed 'Functions.output_guard'", status="ok",
                invocation={"function": "output_guard", "duration_ms": 12.5, "status": "done"})
    assert text.endswith("Executed 'Functions.output_guard' status=ok duration_ms=12.5 invocation.status=done")


def test_secrets_never_reach_the_console_by_name_or_inside_a_value() -> None:
    text = line(f"connecting with {CONNECTION}", connection_string=CONNECTION, password="hunter2",
                url="https://prod.example/workflows/x?api-version=1&sig=s3cr3tsig", note=CONNECTION,
                header="Bearer eyJhbGciOi.abc.def")
    for secret in ("c2VjcmV0a2V5", "hunter2", "s3cr3tsig", "eyJhbGciOi"):
        assert secret not in text
    assert "AccountName=devstoreaccount1" in text and "api-version=1" in text


def test_an_exception_is_one_field_when_tracebacks_are_off() -> None:
    try:
        raise ValueError("bad row")
    except ValueError as exc:
        error = exc
    record = logging.makeLogRecord({"name": "x", "levelno": logging.ERROR, "levelname": "ERROR", "msg": "failed",
                                    "exc_info": (ValueError, error, error.__traceback__)})
    assert ConsoleFormatter(tracebacks=False).format(record).endswith('failed error="ValueError: bad row"')
    assert "Traceback (most recent call last)" in ConsoleFormatter().format(record)


def test_configure_keeps_other_loggers_to_warnings_when_asked_for_some(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", logging.WARNING)
    out = io.StringIO()
    configure(stream=out, only=("functions", "shared"))
    logging.getLogger("functions.output_guard").info("output validated", extra={"status": "pass"})
    logging.getLogger("sandbox.host").info("Executed 'Functions.output_guard'")
    logging.getLogger("sandbox.host").warning("poller not ready")
    assert "output validated status=pass" in out.getvalue()
    assert "Executed" not in out.getvalue() and "poller not ready" in out.getvalue()
