"""Readable local logs: each record's message followed by its structured fields (the ``extra=`` of the
log call) as ``key=value``, the way Application Insights shows them as customDimensions in Azure.

    12:04:05 INFO    functions.output_guard: output validated dataset=scores batch=2026/11/29 status=fail
                     codes=rows_anomaly,drift

Used by ``python -m sandbox.host``, ``python -m sandbox.stack`` (``make up``) and ``make demo``.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

# Every attribute a plain LogRecord has: anything else on a record came from ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
# Field names whose value is a secret whatever it looks like: never printed.
_SECRET_NAMES = frozenset({"password", "secret", "token", "access_token", "key", "function_key", "master_key",
                           "account_key", "connection_string", "webhook_url", "sig", "signature",
                           "authorization", "credential"})
# Secrets inside values (a connection string, a signed URL, a key in a query): the value part is masked.
_SECRET_PARTS = re.compile(r"(?i)\b(AccountKey|SharedAccessSignature|sig|code|password|token)=([^;&\s\"']+)")
_BEARER = re.compile(r"(?i)\bBearer\s+[A-Za-z0-9._~+/=-]+")
_BARE = re.compile(r"[^\s\"'=\\]+")       # a value that reads unambiguously without quotes
REDACTED = "(redacted)"


def scrub(text: str) -> str:
    """``text`` with key material masked: AccountKey=…, sig=…, code=…, bearer tokens."""
    return _BEARER.sub("Bearer " + REDACTED, _SECRET_PARTS.sub(lambda m: f"{m[1]}={REDACTED}", text))


def render_value(value: Any) -> str:
    """One value as logfmt: bare when it has no spaces, quotes or '=', else double-quoted and escaped."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, datetime):
        text = value.isoformat()
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        text = ",".join(str(v) for v in items)
    else:
        text = str(value)
    text = scrub(text)
    if _BARE.fullmatch(text):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def fields_of(record: logging.LogRecord) -> list[tuple[str, Any]]:
    """The record's ``extra=`` fields in the order the call gave them. A mapping's entries are spread
    (``invocation={"function": …}`` → ``function=…``, or ``invocation.function=…`` when the record has
    its own ``function``), leaving out those whose value the message already says."""
    extra = [(k, v) for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")]
    names = {k for k, _ in extra}
    message = record.getMessage()
    out: list[tuple[str, Any]] = []
    for name, value in extra:
        if not isinstance(value, Mapping):
            out.append((name, value))
            continue
        out += [(k if k not in names else f"{name}.{k}", v) for k, v in value.items()
                if not (isinstance(v, str) and v and v in message)]
    return out


def render_fields(fields: Iterable[tuple[str, Any]]) -> str:
    parts = []
    for name, value in fields:
        if value is None:
            continue
        shown = REDACTED if name.lower() in _SECRET_NAMES else render_value(value)
        parts.append(f"{name}={shown}")
    return " ".join(parts)


class ConsoleFormatter(logging.Formatter):
    """``HH:MM:SS LEVEL logger: message key=value …``, times in UTC (the app's clock), secrets masked.

    ``tracebacks=False`` puts a record's exception on the same line (``error="Type: message"``)
    instead of the stack: for consoles where a failure is expected and the stack says nothing new.
    """

    def __init__(self, *, tracebacks: bool = True) -> None:
        super().__init__()
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        fields = fields_of(record)
        if record.exc_info and record.exc_info[1] is not None and not self.tracebacks:
            fields.append(("error", f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"))
        text = f"{when} {record.levelname:<7} {record.name}: {scrub(record.getMessage())}"
        if rendered := render_fields(fields):
            text += " " + rendered
        if record.exc_info and self.tracebacks:
            text += "\n" + scrub(self.formatException(record.exc_info))
        return text


def configure(level: int = logging.INFO, *, stream: TextIO | None = None, tracebacks: bool = True,
              only: tuple[str, ...] = ()) -> logging.Handler:
    """Send log records to ``stream`` (stderr) through the ConsoleFormatter; return the handler.

    ``only`` keeps records of those loggers (and their children) and warnings from everything else.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(ConsoleFormatter(tracebacks=tracebacks))
    if only:
        handler.addFilter(lambda r: r.levelno >= logging.WARNING
                          or any(r.name == n or r.name.startswith(n + ".") for n in only))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    # The Azure SDKs log every HTTP request at INFO, and aiosmtpd every SMTP command.
    for noisy in ("azure", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return handler
