"""The pipeline webhook's request body (DESIGN 3.5), validated strictly.

Every problem is collected, each naming the field and saying what to send instead, so the pipeline's
owner can fix the Web activity from the answer alone. What is wrong is a ``Problem`` of a kind; which
HTTP status each kind is answered with is the edge's business (``functions/http_replies.py``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

MAX_BODY_BYTES = 64 * 1024
MAX_TEXT = 4000
MAX_NAME = 260
STATUSES = ("Succeeded", "Failed")
# An ADF run id is a GUID (``@{pipeline().RunId}``); anything else cannot be verified with ADF.
RUN_ID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")
FIELDS = {"factory", "pipeline", "runId", "status", "batchId", "error", "engine"}
ENGINES = ("adf", "synapse", "fabric")


@dataclass(frozen=True)
class PipelineEvent:
    factory: str
    pipeline: str
    run_id: str
    status: str                   # as the body claims; the webhook verifies it with ADF
    batch_id: str = ""
    error_message: str = ""
    error_activity: str = ""
    engine: str = ""              # adf | synapse | fabric when the body names it ("": from factory or config)


ProblemKind = Literal["media_type", "too_large", "invalid"]


@dataclass(frozen=True)
class Problem:
    """What is wrong with a request: its kind (not sent as JSON, too large, or invalid content), one
    sentence, and one detail per problem naming the field and what to send instead."""

    kind: ProblemKind
    error: str
    details: tuple[str, ...] = ()


def _text(body: dict[str, object], key: str, problems: list[str], *, required: bool, limit: int) -> str:
    value = body.get(key)
    if value is None:
        if required:
            problems.append(f"{key}: required; send it as a string (e.g. \"@{{pipeline().{_hint(key)}}}\")")
        return ""
    if not isinstance(value, str):
        problems.append(f"{key}: must be a string, got {type(value).__name__}")
        return ""
    if required and not value.strip():
        problems.append(f"{key}: must not be empty")
    if len(value) > limit:
        problems.append(f"{key}: longer than {limit} characters")
        return ""
    if any(ord(c) < 32 and c not in "\t\n\r" for c in value):
        problems.append(f"{key}: contains control characters")
        return ""
    return value


def _hint(key: str) -> str:
    return {"factory": "DataFactory", "pipeline": "Pipeline", "runId": "RunId",
            "batchId": "parameters.batchId"}.get(key, key)


def parse_event(body: bytes, content_type: str) -> PipelineEvent | Problem:
    """The event, or a Problem whose details list every problem."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media != "application/json":
        return Problem("media_type", "the body must be JSON", (f"Content-Type: send application/json, got "
                                                               f"{media or 'nothing'}",))
    if len(body) > MAX_BODY_BYTES:
        return Problem("too_large", "the body is too large", (f"at most {MAX_BODY_BYTES} bytes, got {len(body)}",))
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        return Problem("invalid", "the body is not UTF-8", ("encode the JSON body as UTF-8",))
    except (json.JSONDecodeError, RecursionError) as exc:
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        return Problem("invalid", "the body is not valid JSON", (f"JSON syntax error{where}",))
    if not isinstance(data, dict):
        return Problem("invalid", "the body must be a JSON object", ("send {\"factory\": ..., \"pipeline\": ..., "
                                                                     "\"runId\": ..., \"status\": ...}",))
    problems = [f"{key}: unknown field; allowed fields are {', '.join(sorted(FIELDS))}"
                for key in sorted(set(data) - FIELDS, key=str)][:10]
    factory = _text(data, "factory", problems, required=True, limit=MAX_NAME)
    pipeline = _text(data, "pipeline", problems, required=True, limit=MAX_NAME)
    run_id = _text(data, "runId", problems, required=True, limit=100)
    if run_id and not RUN_ID.match(run_id):
        problems.append("runId: must be the run's id, a GUID such as 2f1c6a2e-0b7a-4c35-9a4c-1d2e3f4a5b6c; "
                        "send \"@{pipeline().RunId}\"")
    status = _text(data, "status", problems, required=True, limit=40)
    if status and status not in STATUSES:
        problems.append(f"status: must be one of {', '.join(STATUSES)}, got {status[:40]!r}")
    batch_id = _text(data, "batchId", problems, required=False, limit=MAX_NAME)
    message = activity = ""
    error = data.get("error")
    if error is not None and not isinstance(error, dict):
        problems.append("error: must be an object {\"message\": ..., \"activity\": ...} or absent")
    elif isinstance(error, dict):
        extra = sorted(set(error) - {"message", "activity"}, key=str)
        if extra:
            problems.append(f"error.{extra[0]}: unknown field; allowed: message, activity")
        message = _text(error, "message", problems, required=False, limit=MAX_TEXT)
        activity = _text(error, "activity", problems, required=False, limit=MAX_NAME)
    engine = _text(data, "engine", problems, required=False, limit=20)
    if engine and engine not in ENGINES:
        problems.append(f"engine: must be one of {', '.join(ENGINES)} (where the pipeline runs), got {engine!r}")
    if problems:
        return Problem("invalid", "the pipeline event is invalid", tuple(problems))
    return PipelineEvent(factory, pipeline, run_id, status, batch_id, message, activity, engine)
