"""A local Azure Communication Services Email endpoint, enough for the real EmailClient to run unchanged.

    POST /emails:send?api-version=…            → 202, Operation-Location …/emails/operations/{id}
    GET  /emails/operations/{id}?api-version=… → {"id", "status": Running → Succeeded | Failed, "error"}

It wants a bearer token, validates the message shape, and can be told to throttle (429 + Retry-After),
to fail (503), to let a send end Failed, or to stay Running for a while.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sandbox.local_server import JsonHandler, LocalServer, error_body

_OPERATION = re.compile(r"^/emails/operations/([^/]+)$")


@dataclass
class _Operation:
    id: str
    message: dict[str, Any]
    polls_left: int
    fail: bool


@dataclass
class AcsEmailEmulator(LocalServer):
    running_polls: int = 1                 # polls that still answer Running before the final status
    throttle_next: int = 0
    retry_after: int = 7
    error_next: int = 0
    fail_next: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    _operations: dict[str, _Operation] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
               body: bytes) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            self.authorizations.append(headers.get("authorization", ""))
            if not headers.get("authorization", "").startswith("Bearer "):
                return 401, {}, error_body("Unauthorized", "Bearer token required.")
            if not query.get("api-version"):
                return 400, {}, error_body("MissingApiVersionParameter", "The api-version parameter is required.")
            if self.throttle_next > 0:
                self.throttle_next -= 1
                wait = {"Retry-After": str(self.retry_after)}
                return 429, wait, error_body("TooManyRequests", "Too many requests.")
            if self.error_next > 0:
                self.error_next -= 1
                return 503, {}, error_body("ServiceUnavailable", "The service is unavailable.")
            if method == "POST" and path == "/emails:send":
                return self._send(body)
            match = _OPERATION.match(path)
            if method == "GET" and match and match.group(1) in self._operations:
                return self._poll(self._operations[match.group(1)])
            return 404, {}, error_body("NotFound", f"{method} {path} is not found.")

    def _send(self, body: bytes) -> tuple[int, dict[str, str], Any]:
        try:
            message = json.loads(body)
        except ValueError:
            return 400, {}, error_body("BadRequest", "The body is not JSON.")
        problems = []
        if not isinstance(message, dict):
            return 400, {}, error_body("BadRequest", "The body must be an object.")
        if "@" not in str(message.get("senderAddress", "")):
            problems.append("senderAddress")
        to = (message.get("recipients") or {}).get("to")
        if not isinstance(to, list) or not to or any("@" not in str(r.get("address", "")) for r in to):
            problems.append("recipients.to")
        content = message.get("content") or {}
        if not content.get("subject") or not (content.get("plainText") or content.get("html")):
            problems.append("content")
        if problems:
            return 400, {}, error_body("BadRequest", f"Invalid fields: {', '.join(problems)}.")
        op = _Operation(str(uuid.uuid4()), message, self.running_polls, self.fail_next > 0)
        self.fail_next = max(0, self.fail_next - 1)
        self._operations[op.id] = op
        self.sent.append(message)
        location = f"{self.endpoint}/emails/operations/{op.id}?api-version=2025-09-01"
        return 202, {"Operation-Location": location}, {"id": op.id, "status": "Running"}

    def _poll(self, op: _Operation) -> tuple[int, dict[str, str], Any]:
        if op.polls_left > 0:
            op.polls_left -= 1
            return 200, {}, {"id": op.id, "status": "Running"}
        if op.fail:
            return 200, {}, {"id": op.id, "status": "Failed",
                             "error": {"code": "EmailDroppedAllRecipientsSuppressed",
                                       "message": "Every recipient is on the suppression list."}}
        return 200, {}, {"id": op.id, "status": "Succeeded"}



class _Handler(JsonHandler):
    owner: AcsEmailEmulator
    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, payload = self.owner.answer(method, parts.path, parse_qs(parts.query), headers, body)
        self.send_json(status, payload, extra)

    def log_message(self, format: str, *args: Any) -> None:
        pass


AcsEmailEmulator.handler = _Handler
