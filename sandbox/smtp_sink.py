"""A local SMTP server (aiosmtpd) that keeps every message it receives, for tests and the demo.

Optionally offers STARTTLS with a self-signed certificate made at start (for 127.0.0.1 and
localhost; nothing is stored in the repository), requires it, and accepts a login (only over TLS).
``reject_next`` makes the next messages fail with a chosen SMTP reply.

    python -m sandbox.smtp_sink --port 0 --starttls
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import shutil
import ssl
import tempfile
import threading
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class _NoLoginDataWarning(logging.Filter):
    """aiosmtpd warns about its own deprecated attribute on every successful login; not our concern."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()


_QUIET = _NoLoginDataWarning()


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    tls: bool                        # the message came over a TLS-protected session
    login: str | None                # the user that logged in, if any

    @property
    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=default_policy).parsebytes(self.data)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def part(self, content_type: str) -> str | None:
        """The decoded body part of this type (``text/plain``, ``text/html``), if present."""
        for part in self.message.walk():
            if part.get_content_type() == content_type and not part.is_multipart():
                content = part.get_content()
                return content if isinstance(content, str) else None
        return None


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A throwaway key and certificate for 127.0.0.1 / localhost, valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "sink-cert.pem", directory / "sink-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


class _Controller(Controller):
    """aiosmtpd's threaded controller, able to listen on a free port (port 0)."""

    def _trigger_server(self) -> None:
        server: Any = self.server
        if self.port == 0 and server is not None:
            self.port = server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return self.sink._receive(session, envelope)


class SmtpSink:
    """The sink; ``with SmtpSink(starttls=True) as smtp: smtp.port, smtp.messages`` …"""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, starttls: bool = False,
                 require_starttls: bool = False, login: tuple[str, str] | None = None) -> None:
        if require_starttls and not starttls:
            raise ValueError("require_starttls needs starttls")
        self.host = host
        self._port = port
        self.starttls = starttls
        self.require_starttls = require_starttls
        self._login = login
        self.messages: list[ReceivedMail] = []
        self.failed_logins = 0
        self._rejections: deque[str] = deque()
        self._lock = threading.Lock()
        self._controller: _Controller | None = None
        self._cert_dir: Path | None = None
        self.cert_pem = ""

    def start(self) -> SmtpSink:
        tls_context = None
        if self.starttls:
            self._cert_dir = Path(tempfile.mkdtemp(prefix="smtp-sink-"))
            cert, key = self_signed_certificate(self._cert_dir)
            self.cert_pem = cert.read_text()
            tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls_context.load_cert_chain(cert, key)
        options: dict[str, Any] = {"tls_context": tls_context, "require_starttls": self.require_starttls}
        if self._login is not None:
            if _QUIET not in logging.getLogger("mail.log").filters:
                logging.getLogger("mail.log").addFilter(_QUIET)
            options.update(authenticator=self._authenticate, auth_require_tls=True)
        self._controller = _Controller(_Handler(self), hostname=self.host, port=self._port, **options)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        if self._cert_dir is not None:
            shutil.rmtree(self._cert_dir, ignore_errors=True)
            self._cert_dir = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._controller is not None, "the sink is not started"
        return int(self._controller.port)

    def client_context(self) -> ssl.SSLContext:
        """A client TLS context that trusts this sink's certificate (and nothing else)."""
        if not self.cert_pem:
            raise RuntimeError("the sink was started without STARTTLS")
        return ssl.create_default_context(cadata=self.cert_pem)

    def reject_next(self, count: int = 1, reply: str = "550 5.7.1 Message rejected by policy") -> None:
        """The next ``count`` messages are refused at DATA with ``reply`` (4xx: transient, 5xx: permanent)."""
        with self._lock:
            self._rejections.extend([reply] * count)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedMail]:
        deadline = datetime.now(UTC) + timedelta(seconds=timeout)
        while datetime.now(UTC) < deadline:
            with self._lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            threading.Event().wait(0.02)
        with self._lock:
            return list(self.messages)

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                      auth_data: Any) -> AuthResult:
        expected = self._login
        if (expected is not None and isinstance(auth_data, LoginPassword)
                and auth_data.login.decode() == expected[0] and auth_data.password.decode() == expected[1]):
            return AuthResult(success=True, auth_data=expected[0])
        with self._lock:
            self.failed_logins += 1
        return AuthResult(success=False, handled=False)

    def _receive(self, session: Any, envelope: Any) -> str:
        with self._lock:
            if self._rejections:
                return self._rejections.popleft()
            data = envelope.original_content or envelope.content
            if isinstance(data, str):
                data = data.encode("utf-8")
            login = session.auth_data if session.authenticated else None
            self.messages.append(ReceivedMail(str(envelope.mail_from), tuple(envelope.rcpt_tos), bytes(data),
                                              tls=session.ssl is not None,
                                              login=login if isinstance(login, str) else None))
        return "250 2.0.0 Message accepted for delivery"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.smtp_sink", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--starttls", action="store_true", help="offer STARTTLS (self-signed certificate)")
    parser.add_argument("--require-starttls", action="store_true")
    args = parser.parse_args(argv)
    with SmtpSink(port=args.port, starttls=args.starttls or args.require_starttls,
                  require_starttls=args.require_starttls) as sink:
        tls = "yes" if sink.starttls else "no"
        print(f"SMTP sink at 127.0.0.1:{sink.port} (STARTTLS: {tls})", flush=True)
        seen = 0
        try:
            while True:
                for mail in sink.wait_for(seen + 1, timeout=1.0)[seen:]:
                    print(f"mail from {mail.mail_from} to {', '.join(mail.rcpt_tos)}: "
                          f"{mail.message['Subject']}", flush=True)
                    seen += 1
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
