"""A local Teams Workflows webhook: accepts Adaptive Card envelopes the way the real trigger does.

It checks the request the way Teams would care about: the signature in the URL, a JSON body of at most
28 KB shaped ``{"type": "message", "attachments": [{"contentType":
"application/vnd.microsoft.card.adaptive", "content": {"type": "AdaptiveCard", "version": …,
"body": […]}}]}``
→ 202 Accepted; otherwise 400 (shape), 401 (signature) or 413 (size). Knobs: an outage switch (503, or
connections closed without an answer), 429s with Retry-After, and 2xx answers with an error body.
``received`` holds the accepted envelopes. From another process: ``GET /_sink/messages``,
``POST /_sink/mode`` with ``{"down": true, "down_mode": "503"|"close", "throttle_next": n,
"retry_after": s, "error_body_next": n}``.

    python -m sandbox.teams_sink --port 0
"""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sandbox.local_server import JsonHandler, LocalServer, error_body, set_knobs, wait_until_interrupted

log = logging.getLogger(__name__)

MAX_CARD_BYTES = 28 * 1024
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
WORKFLOW_PATH = "/workflows/{flow}/triggers/manual/paths/invoke"
_MAX_READ = 1 << 20


@dataclass
class _Mode:
    down: bool = False
    down_mode: str = "503"          # "503": answer 503; "close": drop the connection unanswered
    throttle_next: int = 0
    retry_after: int = 5
    error_body_next: int = 0


def validate_envelope(envelope: Any) -> list[str]:
    """Problems with a Workflows webhook body, as Teams would see them (empty when acceptable)."""
    if not isinstance(envelope, dict):
        return ["the body must be a JSON object"]
    problems: list[str] = []
    if envelope.get("type") != "message":
        problems.append("type must be 'message'")
    attachments = envelope.get("attachments")
    if not isinstance(attachments, list) or len(attachments) != 1:
        return [*problems, "attachments must be a list of exactly one Adaptive Card"]
    attachment = attachments[0]
    if not isinstance(attachment, dict):
        return [*problems, "attachments[0] must be an object"]
    if attachment.get("contentType") != ADAPTIVE_CARD:
        problems.append(f"attachments[0].contentType must be {ADAPTIVE_CARD!r}")
    content = attachment.get("content")
    if not isinstance(content, dict):
        return [*problems, "attachments[0].content must be the Adaptive Card object"]
    if content.get("type") != "AdaptiveCard":
        problems.append("content.type must be 'AdaptiveCard'")
    version = content.get("version")
    if not isinstance(version, str) or not version.replace(".", "").isdigit():
        problems.append("content.version must be a version string such as '1.5'")
    if not isinstance(content.get("body"), list):
        problems.append("content.body must be a list of elements")
    return problems


class TeamsSink(LocalServer):
    """The sink; ``with TeamsSink() as teams: teams.url`` …"""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._address = (host, port)
        self.flow_id = secrets.token_hex(16)
        self.signature = secrets.token_urlsafe(32)
        self.mode = _Mode()
        self.received: list[dict[str, Any]] = []
        self.refused: list[tuple[int, str]] = []
        self.attempts = 0
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """The webhook URL, shaped like a real Workflows trigger URL (its ``sig`` is the secret)."""
        path = WORKFLOW_PATH.format(flow=self.flow_id)
        return (f"http://127.0.0.1:{self.port}{path}?api-version=2016-06-01"
                f"&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={self.signature}")

    @property
    def cards(self) -> list[dict[str, Any]]:
        """The Adaptive Cards received (the ``content`` of each accepted envelope)."""
        with self._lock:
            return [e["attachments"][0]["content"] for e in self.received]

    def set_down(self, down: bool = True, mode: str = "503") -> None:
        if mode not in ("503", "close"):
            raise ValueError("mode is '503' or 'close'")
        with self._lock:
            self.mode.down, self.mode.down_mode = down, mode

    def throttle_next(self, count: int = 1, retry_after: int = 5) -> None:
        with self._lock:
            self.mode.throttle_next += count
            self.mode.retry_after = retry_after

    def error_body_next(self, count: int = 1) -> None:
        """The next ``count`` requests get 202 with an error body (a failure the status hides)."""
        with self._lock:
            self.mode.error_body_next += count

    def answer(self, path: str, query: dict[str, list[str]], content_type: str,
               body: bytes, declared_length: int) -> tuple[int, dict[str, str], Any] | None:
        """The sink's answer; None means: close the connection without answering."""
        with self._lock:
            self.attempts += 1
            status, headers, payload = self._answer(path, query, content_type, body, declared_length)
            if status == 0:
                return None
            if status == 202 and payload is None:
                self.received.append(json.loads(body))
            elif status >= 300:
                self.refused.append((status, json.dumps(payload)[:300]))
            return status, headers, payload

    def _answer(self, path: str, query: dict[str, list[str]], content_type: str, body: bytes,
                declared_length: int) -> tuple[int, dict[str, str], Any]:
        mode = self.mode
        if mode.down:
            return (0, {}, None) if mode.down_mode == "close" else \
                (503, {}, error_body("ServiceUnavailable", "The service is temporarily unavailable."))
        if path != WORKFLOW_PATH.format(flow=self.flow_id):
            return 404, {}, error_body("WorkflowNotFound", "The workflow could not be found.")
        if query.get("sig", [""])[-1] != self.signature:
            return 401, {}, error_body("DirectApiAuthorizationRequired",
                                   "The request must be authenticated by a valid signature (sig).")
        if mode.throttle_next > 0:
            mode.throttle_next -= 1
            return 429, {"Retry-After": str(mode.retry_after)}, error_body(
                "WorkflowTriggerIsThrottled", "Rate limit is exceeded. Try again later.")
        if declared_length > MAX_CARD_BYTES:
            return 413, {}, error_body("MessageSizeExceeded",
                                   f"The message is {declared_length} bytes; the limit is {MAX_CARD_BYTES}.")
        if "application/json" not in content_type.lower():
            return 415, {}, error_body("UnsupportedMediaType", "The content type must be application/json.")
        try:
            envelope = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return 400, {}, error_body("InvalidRequestContent", "The request body is not valid JSON.")
        if problems := validate_envelope(envelope):
            return 400, {}, error_body("InvalidRequestContent", "; ".join(problems))
        if mode.error_body_next > 0:
            mode.error_body_next -= 1
            return 202, {}, error_body("FlowRunFailed", "The flow run failed to post the card to the channel.")
        return 202, {}, None

    def control(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        if method == "GET" and path == "/_sink/messages":
            with self._lock:
                return 200, {"received": list(self.received), "refused": self.refused,
                             "attempts": self.attempts}
        if method == "POST" and path == "/_sink/mode":
            return set_knobs(self.mode, self._lock, body, _check_down_mode)
        return 404, {"error": f"no control route {method} {path}"}



def _check_down_mode(values: dict[str, Any]) -> None:
    if values.get("down_mode", "503") not in ("503", "close"):
        raise ValueError("down_mode is '503' or 'close'")


class _Handler(JsonHandler):
    owner: TeamsSink
    server_version = "TeamsSink/1.0"

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path.startswith("/_sink/"):
            self.send_json(*self.owner.control("GET", parts.path, b""))
        else:
            self.send_json(405, error_body("MethodNotAllowed", "The trigger accepts POST only."))

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.send_json(411, error_body("LengthRequired", "A valid Content-Length is required."))
            return
        body = self.rfile.read(min(length, _MAX_READ))
        if length > _MAX_READ:
            self.close_connection = True        # the rest of the body is never read
        if parts.path.startswith("/_sink/"):
            self.send_json(*self.owner.control("POST", parts.path, body))
            return
        answer = self.owner.answer(parts.path, parse_qs(parts.query), self.headers.get("Content-Type", ""),
                                   body, length)
        if answer is None:                      # "down" by dropping the connection unanswered
            self.close_connection = True
            return
        status, headers, payload = answer
        self.send_json(status, payload, headers)


    def log_message(self, format: str, *args: Any) -> None:
        # The request line carries the signature: log the status only.
        log.debug("teams sink answered", extra={"status": args[1] if len(args) > 1 else ""})


TeamsSink.handler = _Handler
TeamsSink.thread_name = "teams-sink"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.teams_sink", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    with TeamsSink(port=args.port) as sink:
        # A throwaway local signature: printing it is how the sandbox hands it to the app's settings.
        print(f"Teams Workflows sink; webhook URL: {sink.url}", flush=True)
        wait_until_interrupted()


if __name__ == "__main__":
    main()
