"""Feedback on alerts: signed, expiring tokens for the "false alarm" / "expected" actions of a card or
an email, and the labels and snoozes they leave. Pure: the key, the base URL and ``now`` are parameters.

A token is ``<payload>.<signature>``, both base64url without padding: the payload is compact JSON of the
alert's dataset, code, subject, fingerprint, episode (the alert's time), the action and the expiry (epoch
seconds); the signature is HMAC-SHA256 of the payload's bytes with the signing key. Its id (a digest of
the whole token) is what the replay ledger inserts once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from urllib.parse import parse_qs, quote

from shared.core.models import Alert, Link

_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
MAX_TOKEN = 2048               # a token is a few hundred bytes; anything longer is not one of ours


class Action(StrEnum):
    FALSE_ALARM = "false_alarm"     # the alert was wrong: the observation stays in the baseline
    EXPECTED = "expected"           # a real change, the new normal: learned at once

    @property
    def button(self) -> str:
        return "False alarm" if self is Action.FALSE_ALARM else "Expected (new normal)"


@dataclass(frozen=True)
class Claims:
    """What a token says: which alert, which episode of it, what to do, until when."""

    dataset: str
    code: str
    subject: str
    fingerprint: str
    episode: str                    # the alert's time (ISO 8601): one episode of the fingerprint
    action: Action
    expires: datetime

    def payload(self) -> bytes:
        body = {"d": self.dataset, "c": self.code, "s": self.subject, "f": self.fingerprint, "e": self.episode,
                "a": self.action.value, "x": int(self.expires.timestamp())}
        return json.dumps(body, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


class Refusal(StrEnum):
    """Why a token is refused, each a sentence a person can act on."""

    MALFORMED = "malformed"
    FORGED = "forged"
    EXPIRED = "expired"
    REPLAYED = "replayed"


REFUSAL_TEXT = {
    Refusal.MALFORMED: "the feedback token is malformed: use the link from the alert as it was sent",
    Refusal.FORGED: "the feedback token's signature does not match: it was altered or not issued by Autopilot",
    Refusal.EXPIRED: "the feedback token has expired: label the alert with `autopilot label` instead",
    Refusal.REPLAYED: "this feedback token was already used: each action of an alert counts once",
}


@dataclass(frozen=True)
class Refused:
    reason: Refusal

    @property
    def error(self) -> str:
        return REFUSAL_TEXT[self.reason]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()


def sign(claims: Claims, key: bytes) -> str:
    payload = claims.payload()
    return f"{_b64(payload)}.{_b64(_signature(key, payload))}"


def token_id(token: str) -> str:
    """The replay ledger's key for a token (a digest: the token itself is never stored)."""
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()[:32]


def verify(token: str, key: bytes, now: datetime) -> Claims | Refused:
    """The token's claims, or why it is refused (malformed, forged, expired). Replays are the ledger's
    business: a valid token's ``token_id`` is inserted once."""
    if len(token) > MAX_TOKEN or not _SHAPE.match(token):
        return Refused(Refusal.MALFORMED)
    encoded, _, mac = token.partition(".")
    try:
        payload, signature = _unb64(encoded), _unb64(mac)
    except (binascii.Error, ValueError):
        return Refused(Refusal.MALFORMED)
    # The signature is checked before the payload is even parsed: nothing unsigned is interpreted.
    if not hmac.compare_digest(signature, _signature(key, payload)):
        return Refused(Refusal.FORGED)
    try:
        body = json.loads(payload)
        claims = Claims(str(body["d"]), str(body["c"]), str(body["s"]), str(body["f"]), str(body["e"]),
                        Action(body["a"]), datetime.fromtimestamp(int(body["x"]), UTC))
    except (ValueError, KeyError, TypeError, OverflowError):
        return Refused(Refusal.MALFORMED)
    if now >= claims.expires:
        return Refused(Refusal.EXPIRED)
    return claims


MAX_BODY = 8 * 1024


def token_from(body: bytes, content_type: str, query: str | None) -> str | Refused:
    """The token a feedback request carries: a form field ``token`` (the confirmation page's button), a
    JSON ``{"token": ...}``, or ``?token=``. Anything else is malformed."""
    if len(body) > MAX_BODY:
        return Refused(Refusal.MALFORMED)
    kind = content_type.split(";", maxsplit=1)[0].strip().lower()
    found: object = None
    try:
        if body and kind == "application/x-www-form-urlencoded":
            found = parse_qs(body.decode("ascii"), strict_parsing=True).get("token", [None])[0]
        elif body and kind == "application/json":
            parsed = json.loads(body)
            found = parsed.get("token") if isinstance(parsed, dict) else None
    except (ValueError, UnicodeDecodeError):
        return Refused(Refusal.MALFORMED)
    found = found or query
    return found if isinstance(found, str) and found else Refused(Refusal.MALFORMED)


def claims_for(alert: Alert, action: Action, expires: datetime) -> Claims:
    return Claims(alert.dataset, alert.code, alert.subject, alert.fingerprint, alert.ts.isoformat(), action,
                  expires)


def links(alert: Alert, key: bytes, base_url: str, now: datetime, ttl: timedelta) -> tuple[Link, ...]:
    """The two feedback actions of one alert (none for a "resolved" follow-up: there is nothing to judge).

    The link opens a confirmation page (GET, no effect: mail scanners that follow links change nothing);
    its button POSTs the token to ``/api/feedback``."""
    if alert.resolves:
        return ()
    expires = now + ttl
    return tuple(Link(action.button, f"{base_url.rstrip('/')}/api/feedback?token="
                      f"{quote(sign(claims_for(alert, action, expires), key), safe='')}")
                 for action in Action)


@dataclass(frozen=True)
class Snooze:
    """An alert kind silenced until a time: ``code`` "*" silences every code of the dataset."""

    dataset: str
    code: str
    until: datetime


def snoozed(snoozes: list[Snooze], dataset: str, code: str, now: datetime) -> Snooze | None:
    """The snooze silencing this alert kind now, if any (the one that lasts longest)."""
    live = [s for s in snoozes if s.dataset == dataset and s.code in (code, "*") and s.until > now]
    return max(live, key=lambda s: s.until) if live else None
