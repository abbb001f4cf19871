"""Email notifiers over real sockets: SMTP against the aiosmtpd sink, ACS Email against a local endpoint
that the real EmailClient talks to."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.credentials import AccessToken

from sandbox.smtp_sink import SmtpSink
from shared.adapters.email import AcsEmailNotifier, DeliveryFailed, SmtpNotifier
from shared.core.models import Message
from shared.errors import ConfigError, ExternalError, Rejected, Throttled, Unavailable
from tests.integration.acs_email_emulator import AcsEmailEmulator
from tests.integration.secrets_in_logs import assert_nowhere, capture_everything

SENDER = "autopilot@alerts.example.test"
ONCALL = "oncall@example.test"
PASSWORD = f"smtp-test-password-{uuid.uuid4().hex}"
ACS_TOKEN = f"acs-test-token-{uuid.uuid4().hex}"
ALERT = Message(subject="[FAIL] scores: refresh held",
                text="The outputs of run 42 failed validation; the dashboard keeps yesterday's data.",
                html="<p>The outputs of run <b>42</b> failed validation.</p>", to=(ONCALL,))


@pytest.fixture
def smtp_tls() -> Iterator[SmtpSink]:
    with SmtpSink(starttls=True, login=("alerts", PASSWORD)) as sink:
        yield sink


@pytest.fixture
def smtp_plain() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


def over_tls(sink: SmtpSink, **options: Any) -> SmtpNotifier:
    options.setdefault("username", "alerts")
    options.setdefault("password", PASSWORD)
    return SmtpNotifier("127.0.0.1", sink.port, sender=SENDER, ssl_context=sink.client_context(), timeout=5,
                        **options)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- SMTP ------------------------------------------------------------------------------------------

def test_a_message_goes_out_over_starttls_as_text_and_html_alternatives(smtp_tls: SmtpSink) -> None:
    over_tls(smtp_tls).send(ALERT)
    (mail,) = smtp_tls.messages
    assert mail.tls and mail.login == "alerts"
    assert mail.mail_from == SENDER and mail.rcpt_tos == (ONCALL,)
    parsed = mail.message
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed["Subject"] == ALERT.subject and parsed["To"] == ONCALL
    assert parsed["Auto-Submitted"] == "auto-generated" and parsed["Message-ID"]
    assert mail.part("text/plain") is not None and "failed validation" in (mail.part("text/plain") or "")
    assert mail.part("text/html") is not None and "<b>42</b>" in (mail.part("text/html") or "")


def test_starttls_is_used_whenever_the_server_offers_it(smtp_tls: SmtpSink) -> None:
    over_tls(smtp_tls, username=None, password=None).send(ALERT)
    assert smtp_tls.messages[0].tls and smtp_tls.messages[0].login is None


def test_a_server_without_starttls_gets_a_plain_delivery_only_when_tls_is_not_required(
        smtp_plain: SmtpSink) -> None:
    SmtpNotifier("127.0.0.1", smtp_plain.port, sender=SENDER, timeout=5).send(ALERT)
    assert not smtp_plain.messages[0].tls
    with pytest.raises(Rejected, match="STARTTLS is required"):
        SmtpNotifier("127.0.0.1", smtp_plain.port, sender=SENDER, tls="starttls", timeout=5).send(ALERT)
    assert len(smtp_plain.messages) == 1


def test_a_login_is_never_sent_without_tls(smtp_plain: SmtpSink) -> None:
    with pytest.raises(Rejected, match="without TLS"):
        SmtpNotifier("127.0.0.1", smtp_plain.port, sender=SENDER, username="alerts", password=PASSWORD,
                     timeout=5).send(ALERT)
    assert smtp_plain.messages == []


def test_a_wrong_password_is_rejected(smtp_tls: SmtpSink) -> None:
    with pytest.raises(Rejected, match="login refused") as raised:
        over_tls(smtp_tls, password="not-the-password").send(ALERT)
    # smtplib tries each mechanism the server offers (PLAIN, then LOGIN) before giving up.
    assert raised.value.status == 535 and smtp_tls.failed_logins >= 1 and smtp_tls.messages == []


def test_the_server_certificate_is_verified() -> None:
    with SmtpSink(starttls=True) as sink:
        with pytest.raises(Unavailable, match="SSLCertVerificationError"):
            SmtpNotifier("127.0.0.1", sink.port, sender=SENDER, timeout=5).send(ALERT)
        assert sink.messages == []


def test_a_sink_that_requires_starttls_refuses_a_client_that_does_not_use_it() -> None:
    with SmtpSink(starttls=True, require_starttls=True) as sink:
        SmtpNotifier("127.0.0.1", sink.port, sender=SENDER, ssl_context=sink.client_context(),
                     timeout=5).send(ALERT)
        import smtplib

        with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as raw, pytest.raises(smtplib.SMTPSenderRefused):
            raw.sendmail(SENDER, [ONCALL], b"Subject: plain\r\n\r\nno tls")
        assert len(sink.messages) == 1 and sink.messages[0].tls


def test_a_transient_reply_is_unavailable_and_a_permanent_one_is_rejected(smtp_tls: SmtpSink) -> None:
    send = over_tls(smtp_tls)
    smtp_tls.reject_next(1, "451 4.3.0 Mail server temporarily rejected message")
    with pytest.raises(Unavailable) as transient:
        send.send(ALERT)
    smtp_tls.reject_next(1, "550 5.7.1 Message rejected by policy")
    with pytest.raises(Rejected) as permanent:
        send.send(ALERT)
    assert (transient.value.status, permanent.value.status) == (451, 550)
    send.send(ALERT)
    assert len(smtp_tls.messages) == 1


def test_a_closed_port_is_unavailable() -> None:
    started = time.monotonic()
    with pytest.raises(Unavailable):
        SmtpNotifier("127.0.0.1", closed_port(), sender=SENDER, timeout=2).send(ALERT)
    assert time.monotonic() - started < 5


def test_line_breaks_in_the_subject_cannot_add_headers(smtp_plain: SmtpSink) -> None:
    sneaky = Message(subject="late data\r\nBcc: everyone@example.test", text="body", to=(ONCALL,))
    SmtpNotifier("127.0.0.1", smtp_plain.port, sender=SENDER, timeout=5).send(sneaky)
    (mail,) = smtp_plain.messages
    assert mail.message["Bcc"] is None and mail.rcpt_tos == (ONCALL,)
    assert mail.message["Subject"] == "late data Bcc: everyone@example.test"
    assert mail.message.get_content_type() == "text/plain"


def test_configured_recipients_are_used_when_the_message_names_none_and_bad_ones_are_refused(
        smtp_plain: SmtpSink) -> None:
    send = SmtpNotifier("127.0.0.1", smtp_plain.port, sender=SENDER, default_to=["team@example.test"],
                        timeout=5)
    send.send(Message("s", "t"))
    assert smtp_plain.messages[0].rcpt_tos == ("team@example.test",)
    with pytest.raises(Rejected, match="not an email address"):
        send.send(Message("s", "t", to=("not an address",)))
    with pytest.raises(Rejected, match="no recipients"):
        SmtpNotifier("127.0.0.1", smtp_plain.port, sender=SENDER).send(Message("s", "t"))
    with pytest.raises(ConfigError):
        SmtpNotifier("127.0.0.1", 25, sender=SENDER, tls="ssl")  # type: ignore[arg-type]


# -- Azure Communication Services Email ------------------------------------------------------------

class StaticToken:
    """A TokenCredential (the azure-core protocol) handing out one test token."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(ACS_TOKEN, int(time.time()) + 3600)


@pytest.fixture
def acs() -> Iterator[AcsEmailEmulator]:
    with AcsEmailEmulator() as emulator:
        yield emulator


def acs_notifier(emulator: AcsEmailEmulator, **options: Any) -> AcsEmailNotifier:
    options.setdefault("retry_total", 0)
    options.setdefault("wait_seconds", 5)
    return AcsEmailNotifier(emulator.endpoint, sender="DoNotReply@alerts.example.test",
                            credential=StaticToken(), polling_interval=0.02, **options)


def test_acs_sends_text_and_html_with_a_managed_identity_token_and_waits_for_success(
        acs: AcsEmailEmulator) -> None:
    acs_notifier(acs).send(ALERT)
    (sent,) = acs.sent
    assert sent["recipients"] == {"to": [{"address": ONCALL}]}
    assert sent["content"] == {"subject": ALERT.subject, "plainText": ALERT.text, "html": ALERT.html}
    assert set(acs.authorizations) == {f"Bearer {ACS_TOKEN}"} and len(acs.authorizations) >= 2


def test_acs_a_send_that_ends_failed_is_a_failed_delivery(acs: AcsEmailEmulator) -> None:
    acs.fail_next = 1
    with pytest.raises(DeliveryFailed, match="EmailDroppedAllRecipientsSuppressed") as raised:
        acs_notifier(acs).send(ALERT)
    assert isinstance(raised.value, ExternalError)


def test_acs_a_429_is_throttled_with_the_retry_after_seconds(acs: AcsEmailEmulator) -> None:
    acs.throttle_next, acs.retry_after = 1, 9
    with pytest.raises(Throttled) as raised:
        acs_notifier(acs).send(ALERT)
    assert raised.value.retry_after == 9.0 and acs.sent == []


def test_acs_a_service_error_is_unavailable_and_a_bad_message_is_rejected(acs: AcsEmailEmulator) -> None:
    acs.error_next = 1
    with pytest.raises(Unavailable) as raised:
        acs_notifier(acs).send(ALERT)
    assert raised.value.status == 503
    with pytest.raises(Rejected) as refused:
        AcsEmailNotifier(acs.endpoint, sender="no-at-sign", credential=StaticToken(), polling_interval=0.02,
                         retry_total=0).send(ALERT)
    assert refused.value.status == 400 and acs.sent == []


def test_acs_a_send_still_running_after_the_bounded_wait_counts_as_accepted(acs: AcsEmailEmulator) -> None:
    acs.running_polls = 10_000
    started = time.monotonic()
    acs_notifier(acs, wait_seconds=0.3).send(ALERT)
    assert time.monotonic() - started < 2 and len(acs.sent) == 1


def test_acs_a_closed_port_is_unavailable() -> None:
    send = AcsEmailNotifier(f"http://127.0.0.1:{closed_port()}", sender="DoNotReply@alerts.example.test",
                            credential=StaticToken(), retry_total=0)
    with pytest.raises(Unavailable):
        send.send(ALERT)


def test_acs_a_plain_http_endpoint_off_this_machine_is_refused() -> None:
    with pytest.raises(ConfigError, match="https"):
        AcsEmailNotifier("http://contoso.communication.azure.example",
                         sender="DoNotReply@alerts.example.test")


# -- secrets ---------------------------------------------------------------------------------------

def test_the_smtp_password_and_the_acs_token_never_appear_in_logs_or_errors(
        smtp_tls: SmtpSink, acs: AcsEmailEmulator, caplog: pytest.LogCaptureFixture) -> None:
    capture_everything(caplog)
    errors: list[BaseException] = []
    over_tls(smtp_tls).send(ALERT)
    acs_notifier(acs).send(ALERT)
    def wrong_password() -> None:
        over_tls(smtp_tls, password=PASSWORD + "-wrong").send(ALERT)

    def transient_reply() -> None:
        smtp_tls.reject_next(1, "451 4.3.0 try later")
        over_tls(smtp_tls).send(ALERT)

    def login_without_tls() -> None:
        SmtpNotifier("127.0.0.1", smtp_tls.port, sender=SENDER, username="alerts", password=PASSWORD,
                     timeout=5).send(ALERT)

    def acs_failed_send() -> None:
        acs.fail_next = 1
        acs_notifier(acs).send(ALERT)

    def acs_throttled() -> None:
        acs.throttle_next = 1
        acs_notifier(acs).send(ALERT)

    attempts = [wrong_password, transient_reply, login_without_tls, acs_failed_send, acs_throttled]
    for attempt in attempts:
        try:
            attempt()
        except ExternalError as exc:
            errors.append(exc)
    assert len(errors) == len(attempts)
    assert any(r.name.startswith("azure") for r in caplog.records)
    assert_nowhere(PASSWORD, caplog, errors)
    assert_nowhere(ACS_TOKEN, caplog, errors)
