"""Teams delivery through a Workflows webhook ("When a Teams webhook request is received"): a Notifier.

The webhook URL is a secret (its ``sig`` query parameter is the credential), read from configuration
on every send (a Key Vault-referenced app setting) and never from a request. It must not reach a log
line or an error message, which is why this adapter speaks ``http.client`` directly: urllib3 logs
request paths with their query strings at DEBUG, and requests puts the URL into its exceptions.
"""

from __future__ import annotations

import http.client
import json
import logging
import ssl
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from shared.adapters.http import retry_after
from shared.core.models import Message
from shared.errors import ExternalError, Rejected, Throttled, Unavailable

log = logging.getLogger(__name__)

MAX_CARD_BYTES = 28 * 1024          # Teams' message size limit, applied to the whole webhook body
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
_MAX_ANSWER = 64 * 1024
_SUCCESS_TEXT = ("", "1", "accepted", "ok")
_ERROR_WORDS = ("error", "fail", "denied", "invalid", "exceeded")


class DeliveryFailed(ExternalError):
    """The webhook answered 2xx but its body says the message was not delivered."""


class TeamsWorkflowsNotifier:
    """Notifier posting ``Message.card`` (the full webhook envelope) to a Teams Workflows webhook."""

    channel = "teams"

    def __init__(self, url_provider: Callable[[], str], *, timeout: float = 10.0,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self._url_provider = url_provider
        self._timeout = timeout
        self._ssl_context = ssl_context

    def send(self, message: Message) -> None:
        body = encode_envelope(message)
        scheme, host, port, target = self._target()
        try:
            status, headers, answer = self._post(scheme, host, port, target, body)
        except (OSError, http.client.HTTPException) as exc:
            # Not chained on purpose: some http.client errors quote the request target, and the
            # target carries the signature. The exception's type says enough.
            raise Unavailable(f"Teams webhook: cannot deliver ({type(exc).__name__})") from None
        check_answer(status, headers, answer)
        log.info("teams card delivered", extra={"status": status, "bytes": len(body)})

    def _target(self) -> tuple[str, str, int, str]:
        try:
            url = self._url_provider()
            parts = urlsplit(url)
            port = parts.port
        except Exception as exc:
            # Not chained: a parse error may quote part of the URL.
            raise Rejected(f"Teams webhook: the URL setting cannot be read ({type(exc).__name__})") from None
        host = parts.hostname or ""
        loopback = host in ("127.0.0.1", "localhost", "::1")
        if not host or parts.scheme not in ("https", "http") or (parts.scheme == "http" and not loopback):
            raise Rejected("Teams webhook: the URL setting must be an https URL "
                           "(plain http only for a local sink on loopback)")
        target = parts.path or "/"
        if parts.query:
            target = f"{target}?{parts.query}"
        if any(ord(c) <= 32 or ord(c) == 127 for c in target):
            raise Rejected("Teams webhook: the URL setting contains spaces or control characters")
        return parts.scheme, host, port or (443 if parts.scheme == "https" else 80), target

    def _post(self, scheme: str, host: str, port: int, target: str,
              body: bytes) -> tuple[int, dict[str, str], bytes]:
        connection: http.client.HTTPConnection
        if scheme == "https":
            context = self._ssl_context or ssl.create_default_context()
            connection = http.client.HTTPSConnection(host, port, timeout=self._timeout, context=context)
        else:
            connection = http.client.HTTPConnection(host, port, timeout=self._timeout)
        try:
            connection.request("POST", target, body=body, headers={
                "Content-Type": "application/json; charset=utf-8", "Accept": "application/json"})
            response = connection.getresponse()
            answer = response.read(_MAX_ANSWER)
            return response.status, {k.lower(): v for k, v in response.getheaders()}, answer
        finally:
            connection.close()


def encode_envelope(message: Message) -> bytes:
    """The webhook body for ``message``; Rejected (before anything is sent) when it is not a card
    envelope or is larger than Teams accepts."""
    card = message.card
    if card is None:
        raise Rejected("Teams webhook: the message has no Adaptive Card envelope")
    attachments = card.get("attachments")
    if card.get("type") != "message" or not isinstance(attachments, list) or not attachments:
        raise Rejected("Teams webhook: the card envelope must be {type: message, attachments: [...]}")
    if any(not isinstance(a, dict) or a.get("contentType") != ADAPTIVE_CARD for a in attachments):
        raise Rejected(f"Teams webhook: every attachment must have contentType {ADAPTIVE_CARD}")
    try:
        body = json.dumps(card, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise Rejected(f"Teams webhook: the card is not JSON-serialisable ({exc})") from exc
    if len(body) > MAX_CARD_BYTES:
        raise Rejected(f"Teams webhook: the card is {len(body)} bytes, over the {MAX_CARD_BYTES}-byte limit",
                       status=413)
    return body


def check_answer(status: int, headers: dict[str, str], answer: bytes) -> None:
    """Raise unless the webhook accepted the message: a non-2xx or an error body is a failed delivery."""
    detail = _detail(answer)
    if status == 429:
        raise Throttled(f"Teams webhook: throttled ({detail or 'HTTP 429'})", status=429,
                        retry_after=retry_after(headers))
    if status >= 500:
        raise Unavailable(f"Teams webhook: service error {status} ({detail or 'no detail'})", status=status)
    if not 200 <= status < 300:
        raise Rejected(f"Teams webhook: refused with {status} ({detail or 'no detail'})", status=status)
    if _is_error_body(answer):
        raise DeliveryFailed(f"Teams webhook: answered {status} with an error ({detail})", status=status)


def _detail(answer: bytes) -> str:
    text = answer.decode("utf-8", "replace").strip()
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        return text[:300]
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        error = parsed["error"]
        return f"{error.get('code', '')}: {error.get('message', '')}".strip(": ")[:300]
    return text[:300]


def _is_error_body(answer: bytes) -> bool:
    text = answer.decode("utf-8", "replace").strip()
    if text.lower() in _SUCCESS_TEXT:
        return False
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        # Connectors answered 200 with plain text such as "Webhook message delivery failed with error: …".
        return any(word in text.lower() for word in _ERROR_WORDS)
    if isinstance(parsed, dict):
        return bool(parsed.get("error") or parsed.get("errors")) or str(parsed.get("status", "")).lower() in (
            "failed", "error")
    return False

