"""Email delivery: SMTP with STARTTLS (smtplib) and Azure Communication Services Email. Both are Notifiers.

Each message goes out as plain text plus HTML (multipart/alternative). Failed sends raise
``shared.errors``: a 4xx SMTP reply, a refused connection or a timeout is Unavailable (try again), a
5xx reply or a refused login is Rejected. Passwords and tokens never reach a log line or an error.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any, Literal
from urllib.parse import urlsplit

from shared.core.models import Message
from shared.errors import ConfigError, ExternalError, NotFound, Rejected, Throttled, Unavailable

log = logging.getLogger(__name__)

TlsMode = Literal["auto", "starttls", "implicit"]


class DeliveryFailed(ExternalError):
    """The service took the message but reports that it was not delivered."""


def recipients_of(message: Message, default_to: Sequence[str]) -> list[str]:
    """The message's recipients (else the configured ones), each a plain address; Rejected when none."""
    chosen = list(message.to) or list(default_to)
    if not chosen:
        raise Rejected("email: the message has no recipients and none are configured")
    addresses = []
    for raw in chosen:
        _, address = parseaddr(raw)
        if "@" not in address or any(c in address for c in "\r\n,; "):
            raise Rejected(f"email: {raw[:100]!r} is not an email address")
        addresses.append(address)
    return addresses


def one_line(text: str, limit: int = 250) -> str:
    """A header-safe subject: line breaks folded into spaces (they would inject headers)."""
    return " ".join(text.split())[:limit] or "(no subject)"


def build_mime(message: Message, sender: str, recipients: Sequence[str]) -> EmailMessage:
    mime = EmailMessage()
    mime["Subject"] = one_line(message.subject)
    mime["From"] = sender
    mime["To"] = ", ".join(recipients)
    mime["Date"] = formatdate(localtime=False, usegmt=True)
    mime["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    mime["Auto-Submitted"] = "auto-generated"        # RFC 3834: no auto-replies to alerts
    mime.set_content(message.text or one_line(message.subject), subtype="plain", charset="utf-8")
    if message.html:
        mime.add_alternative(message.html, subtype="html", charset="utf-8")
    return mime


class SmtpNotifier:
    """Notifier over SMTP. ``tls``: "auto" upgrades with STARTTLS when the server offers it,
    "starttls" requires it, "implicit" speaks TLS from the first byte (port 465). A login is only
    ever sent over TLS."""

    channel = "email"

    def __init__(self, host: str, port: int = 587, *, sender: str, default_to: Sequence[str] = (),
                 username: str | None = None, password: str | None = None, tls: TlsMode = "auto",
                 timeout: float = 15.0, ssl_context: ssl.SSLContext | None = None) -> None:
        if tls not in ("auto", "starttls", "implicit"):
            raise ConfigError([f"SMTP tls mode {tls!r}: use 'auto', 'starttls' or 'implicit'"],
                              "SMTP adapter")
        self._host, self._port = host, port
        self._sender = sender
        self._default_to = tuple(default_to)
        self._username = username
        self._password = password
        self._tls = tls
        self._timeout = timeout
        self._ssl_context = ssl_context

    def __repr__(self) -> str:
        return f"SmtpNotifier({self._host!r}, {self._port}, tls={self._tls!r})"

    def send(self, message: Message) -> None:
        recipients = recipients_of(message, self._default_to)
        mime = build_mime(message, self._sender, recipients)
        what = f"email via {self._host}:{self._port}"
        try:
            refused = self._deliver(mime, recipients)
        except smtplib.SMTPAuthenticationError as exc:
            raise Rejected(f"{what}: login refused ({exc.smtp_code})", status=exc.smtp_code) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            raise _by_code(f"{what}: every recipient was refused {codes}", max(codes, default=550)) from exc
        except smtplib.SMTPResponseException as exc:    # sender refused, data refused, connect refused, …
            raise _by_code(f"{what}: {exc.smtp_code} {_reply(exc.smtp_error)}", exc.smtp_code) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise Rejected(f"{what}: the server does not support {exc}") from exc
        except (smtplib.SMTPException, OSError) as exc:  # disconnects, refused connections, timeouts, TLS
            raise Unavailable(f"{what}: cannot deliver ({type(exc).__name__}: {_short(exc)})") from exc
        if refused:
            log.warning("email partly delivered", extra={"refused_recipients": len(refused),
                                                        "recipients": len(recipients)})
        log.info("email delivered", extra={"channel": "smtp", "recipients": len(recipients)})

    def _deliver(self, mime: EmailMessage, recipients: Sequence[str]) -> dict[str, tuple[int, bytes]]:
        context = self._ssl_context or ssl.create_default_context()
        smtp: smtplib.SMTP
        if self._tls == "implicit":
            smtp = smtplib.SMTP_SSL(self._host, self._port, timeout=self._timeout, context=context)
        else:
            smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
        with smtp:
            smtp.ehlo()
            secure = self._tls == "implicit"
            if not secure and smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
                secure = True
            elif not secure and self._tls == "starttls":
                raise Rejected(f"email via {self._host}:{self._port}: STARTTLS is required by the "
                               "configuration but the server does not offer it")
            if self._username:
                if not secure:
                    raise Rejected(f"email via {self._host}:{self._port}: refusing to send the login "
                                   "over a connection without TLS")
                smtp.login(self._username, self._password or "")
            refused: dict[str, tuple[int, bytes]] = smtp.send_message(mime, from_addr=self._sender,
                                                                       to_addrs=list(recipients))
            return refused


def _by_code(text: str, code: int) -> ExternalError:
    return Unavailable(text, status=code) if 400 <= code < 500 else Rejected(text, status=code)


def _reply(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(text.split())[:200]


def _short(value: object) -> str:
    return " ".join(str(value).split())[:200]


class AcsEmailNotifier:
    """Notifier over Azure Communication Services Email (``EmailClient.begin_send``), authenticated
    with the function's managed identity. The send is waited for at most ``wait_seconds``: a message
    still being processed then counts as accepted (a retry would send it twice)."""

    channel = "email"

    def __init__(self, endpoint: str, *, sender: str, default_to: Sequence[str] = (),
                 client_id: str | None = None, credential: Any = None, wait_seconds: float = 30.0,
                 polling_interval: float = 2.0, **client_options: Any) -> None:
        parts = urlsplit(endpoint)
        loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if not parts.hostname or not (parts.scheme == "https" or (parts.scheme == "http" and loopback)):
            raise ConfigError(["the ACS endpoint must be an https URL "
                               "(plain http only for a local emulator)"], "ACS email adapter")
        self._endpoint = endpoint.rstrip("/")
        self._sender = sender
        self._default_to = tuple(default_to)
        self._client_id = client_id
        self._credential = credential
        self._wait = wait_seconds
        self._polling_interval = polling_interval
        self._options = {"retry_total": 2, "connection_timeout": 10, "read_timeout": 30, **client_options}
        # Bearer tokens only travel over TLS, except to an emulator on this machine.
        self._call_options: dict[str, Any] = {"enforce_https": False} if parts.scheme == "http" else {}
        self._client: Any = None

    def _email_client(self) -> Any:
        if self._client is None:
            from azure.communication.email import EmailClient

            credential = self._credential
            if credential is None:
                from azure.identity import DefaultAzureCredential

                credential = DefaultAzureCredential(managed_identity_client_id=self._client_id)
            self._client = EmailClient(self._endpoint, credential, **self._options)
        return self._client

    def send(self, message: Message) -> None:
        recipients = recipients_of(message, self._default_to)
        content: dict[str, str] = {"subject": one_line(message.subject),
                                   "plainText": message.text or one_line(message.subject)}
        if message.html:
            content["html"] = message.html
        payload = {"senderAddress": self._sender, "content": content,
                   "recipients": {"to": [{"address": a} for a in recipients]},
                   "headers": {"Auto-Submitted": "auto-generated"}}
        what = "email via Azure Communication Services"
        started = time.monotonic()
        outcome = _map_azure(lambda: self._send(payload), what)
        if outcome is None:
            waited = round(time.monotonic() - started, 1)
            log.warning("email accepted, still being processed",
                        extra={"channel": "acs", "recipients": len(recipients), "waited_s": waited})
            return
        status = str(outcome.get("status") or "")
        if status != "Succeeded":
            error = outcome.get("error") if isinstance(outcome.get("error"), Mapping) else {}
            detail = f"{error.get('code', '')}: {error.get('message', '')}".strip(": ") or status
            raise DeliveryFailed(f"{what}: the send ended {status or 'without a status'} ({detail[:300]})")
        log.info("email delivered", extra={"channel": "acs", "recipients": len(recipients),
                                           "operation_id": str(outcome.get("id", ""))})

    def _send(self, payload: dict[str, Any]) -> Mapping[str, Any] | None:
        poller = self._email_client().begin_send(payload, polling_interval=self._polling_interval,
                                                 **self._call_options)
        poller.wait(timeout=self._wait)
        if not poller.done():
            return None
        result = poller.result()
        return result if isinstance(result, Mapping) else {"status": poller.status()}


def _map_azure(call: Any, what: str) -> Any:
    from azure.core import exceptions as az

    try:
        return call()
    except az.ClientAuthenticationError as exc:
        raise Rejected(f"{what}: not authorised ({type(exc).__name__})", status=exc.status_code) from exc
    except az.ResourceNotFoundError as exc:
        raise NotFound(f"{what}: endpoint or resource not found", status=404) from exc
    except az.HttpResponseError as exc:
        status = exc.status_code or 0
        reason = _short(exc.message or exc.reason or "")
        if status == 429:
            headers = getattr(exc.response, "headers", None) or {}
            from shared.adapters.http import retry_after

            raise Throttled(f"{what}: throttled ({reason})", status=429, retry_after=retry_after(headers)) from exc
        if status >= 500:
            raise Unavailable(f"{what}: service error {status} ({reason})", status=status) from exc
        if status >= 400:
            raise Rejected(f"{what}: refused with {status} ({reason})", status=status) from exc
        # A long-running operation that ended Failed arrives here without an HTTP error status.
        raise DeliveryFailed(f"{what}: the send failed ({reason})", status=status or None) from exc
    except (az.ServiceRequestError, az.ServiceResponseError) as exc:
        raise Unavailable(f"{what}: cannot reach the service ({type(exc).__name__})") from exc
    except az.AzureError as exc:
        raise ExternalError(f"{what}: {_short(exc)}") from exc
