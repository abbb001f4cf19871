"""The Teams Workflows notifier against the local webhook sink, over real sockets."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from sandbox.teams_sink import TeamsSink, validate_envelope
from shared.adapters.teams import MAX_CARD_BYTES, DeliveryFailed, TeamsWorkflowsNotifier
from shared.core.models import Message
from shared.errors import ExternalError, Rejected, Throttled, Unavailable
from tests.integration.secrets_in_logs import assert_nowhere, capture_everything


def envelope(text: str = "Refresh held for scores", **card: Any) -> dict[str, Any]:
    content = {"type": "AdaptiveCard", "version": "1.5",
               "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
               "body": [{"type": "TextBlock", "text": text, "wrap": True}], **card}
    return {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                                "contentUrl": None, "content": content}]}


def card_message(text: str = "Refresh held for scores") -> Message:
    return Message(subject="scores: refresh held", text=text, card=envelope(text))


@pytest.fixture
def teams() -> Iterator[TeamsSink]:
    with TeamsSink() as sink:
        yield sink


def notifier(sink: TeamsSink) -> TeamsWorkflowsNotifier:
    return TeamsWorkflowsNotifier(lambda: sink.url, timeout=5)


def post_raw(sink: TeamsSink, body: bytes,
             content_type: str = "application/json") -> tuple[int, dict[str, Any]]:
    parts = urlsplit(sink.url)
    connection = http.client.HTTPConnection("127.0.0.1", sink.port, timeout=5)
    try:
        connection.request("POST", f"{parts.path}?{parts.query}", body=body,
                           headers={"Content-Type": content_type})
        response = connection.getresponse()
        payload = response.read()
        return response.status, json.loads(payload) if payload else {}
    finally:
        connection.close()


def test_a_card_is_posted_as_the_workflows_envelope_and_accepted(teams: TeamsSink) -> None:
    notifier(teams).send(card_message("Lignes rejetées: 12 — ✓ «ok» <b>not html</b>"))
    assert teams.received == [envelope("Lignes rejetées: 12 — ✓ «ok» <b>not html</b>")]
    assert teams.cards[0]["body"][0]["text"].startswith("Lignes rejetées")


def test_a_card_over_28_kb_is_refused_before_anything_is_sent(teams: TeamsSink) -> None:
    with pytest.raises(Rejected) as raised:
        notifier(teams).send(card_message("x" * MAX_CARD_BYTES))
    assert raised.value.status == 413 and teams.attempts == 0


def test_the_size_limit_counts_utf8_bytes_not_characters(teams: TeamsSink) -> None:
    notifier(teams).send(card_message("é" * 12_000))              # ~24 KB encoded: fits
    with pytest.raises(Rejected):
        notifier(teams).send(card_message("é" * 15_000))          # 15,000 characters, ~30 KB encoded
    assert teams.attempts == 1 and len(teams.received) == 1


def test_the_sink_answers_413_to_a_body_over_28_kb(teams: TeamsSink) -> None:
    body = json.dumps(envelope("y" * MAX_CARD_BYTES)).encode()
    status, answer = post_raw(teams, body)
    assert status == 413 and answer["error"]["code"] == "MessageSizeExceeded" and teams.received == []


@pytest.mark.parametrize(("body", "problem"), [
    ({"type": "card", "attachments": envelope()["attachments"]}, "type must be 'message'"),
    ({"type": "message", "attachments": []}, "exactly one Adaptive Card"),
    ({"type": "message", "attachments": [{**envelope()["attachments"][0], "contentType": "text/html"}]},
     "contentType"),
    ({"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                          "content": {"type": "AdaptiveCard", "body": []}}]}, "version"),
    ({"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                          "content": {"type": "AdaptiveCard", "version": "1.5",
                                                      "body": {}}}]},
     "content.body must be a list"),
    (["not", "an", "object"], "JSON object"),
])
def test_the_sink_refuses_envelopes_teams_would_not_render(teams: TeamsSink, body: Any, problem: str) -> None:
    assert any(problem in p for p in validate_envelope(body))
    status, answer = post_raw(teams, json.dumps(body).encode())
    assert status == 400 and problem in answer["error"]["message"]
    assert teams.received == []


def test_the_sink_refuses_invalid_json_and_other_content_types(teams: TeamsSink) -> None:
    assert post_raw(teams, b"{not json")[0] == 400
    assert post_raw(teams, json.dumps(envelope()).encode(), "text/plain")[0] == 415


def test_a_sink_outage_is_a_failed_delivery_and_delivery_works_again_after_it(teams: TeamsSink) -> None:
    send = notifier(teams)
    teams.set_down(True, "503")
    with pytest.raises(Unavailable) as answered:
        send.send(card_message())
    assert answered.value.status == 503
    teams.set_down(True, "close")
    with pytest.raises(Unavailable):
        send.send(card_message())
    teams.set_down(False)
    send.send(card_message())
    assert len(teams.received) == 1 and teams.attempts == 3


def test_a_429_is_throttled_with_the_retry_after_seconds(teams: TeamsSink) -> None:
    teams.throttle_next(1, retry_after=17)
    with pytest.raises(Throttled) as raised:
        notifier(teams).send(card_message())
    assert raised.value.retry_after == 17.0 and teams.received == []


def test_an_error_body_behind_a_2xx_status_is_a_failed_delivery(teams: TeamsSink) -> None:
    teams.error_body_next(1)
    with pytest.raises(DeliveryFailed, match="FlowRunFailed") as raised:
        notifier(teams).send(card_message())
    assert isinstance(raised.value, ExternalError) and raised.value.status == 202


def test_a_wrong_signature_is_rejected(teams: TeamsSink) -> None:
    forged = teams.url.replace(teams.signature, "forged-signature")
    with pytest.raises(Rejected) as raised:
        TeamsWorkflowsNotifier(lambda: forged).send(card_message())
    assert raised.value.status == 401 and teams.received == []


def test_a_message_without_a_proper_card_envelope_is_refused_before_sending(teams: TeamsSink) -> None:
    send = notifier(teams)
    with pytest.raises(Rejected, match="no Adaptive Card"):
        send.send(Message("subject", "text only"))
    with pytest.raises(Rejected, match="contentType"):
        send.send(Message("s", "t", card={"type": "message", "attachments": [{"contentType": "text/plain"}]}))
    assert teams.attempts == 0


@pytest.mark.parametrize("url", [
    "http://teams.example.test/workflows/abc/triggers/manual/paths/invoke?sig=PLAIN-HTTP-SECRET",
    "ftp://127.0.0.1/workflows?sig=PLAIN-HTTP-SECRET",
    "https://host.example.test:notaport/x?sig=PLAIN-HTTP-SECRET",
    "https://host.example.test/x?sig=PLAIN HTTP-SECRET",
    "",
])
def test_a_url_setting_that_cannot_be_used_is_rejected_without_echoing_it(url: str) -> None:
    with pytest.raises(Rejected) as raised:
        TeamsWorkflowsNotifier(lambda: url).send(card_message())
    assert "SECRET" not in str(raised.value) and raised.value.__cause__ is None


def test_a_closed_port_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(Unavailable):
        TeamsWorkflowsNotifier(lambda: f"http://127.0.0.1:{port}/x?sig=s", timeout=2).send(card_message())


def test_the_url_is_read_from_configuration_at_every_send(teams: TeamsSink) -> None:
    urls = iter([teams.url.replace(teams.signature, "old-rotated-signature"), teams.url])
    send = TeamsWorkflowsNotifier(lambda: next(urls))
    with pytest.raises(Rejected):
        send.send(card_message())
    send.send(card_message())
    assert len(teams.received) == 1


def test_the_sink_is_switched_and_read_over_http_from_another_process(teams: TeamsSink) -> None:
    def control(method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", teams.port, timeout=5)
        try:
            connection.request(method, path, body=json.dumps(body) if body is not None else None)
            response = connection.getresponse()
            return response.status, json.loads(response.read())
        finally:
            connection.close()

    assert control("POST", "/_sink/mode", {"down": True})[0] == 200
    with pytest.raises(Unavailable):
        notifier(teams).send(card_message())
    assert control("POST", "/_sink/mode", {"down": False, "bogus": 1})[0] == 400
    assert control("POST", "/_sink/mode", {"down": False})[0] == 200
    notifier(teams).send(card_message())
    status, listed = control("GET", "/_sink/messages")
    assert status == 200 and len(listed["received"]) == 1 and listed["attempts"] == 2
    assert listed["refused"][0][0] == 503


def test_the_webhook_url_and_its_signature_never_appear_in_logs_or_errors(
        teams: TeamsSink, caplog: pytest.LogCaptureFixture) -> None:
    capture_everything(caplog)
    send = notifier(teams)
    errors: list[BaseException] = []
    send.send(card_message())
    def recovered_but_throttled() -> None:
        teams.set_down(False)
        teams.throttle_next(1, 3)

    arrangements: list[Callable[[], None]] = [
        lambda: teams.set_down(True, "503"), lambda: teams.set_down(True, "close"),
        recovered_but_throttled, lambda: teams.error_body_next(1)]
    for arrange in arrangements:
        arrange()
        try:
            send.send(card_message())
        except ExternalError as exc:
            errors.append(exc)
    try:
        TeamsWorkflowsNotifier(lambda: teams.url.replace("http://", "http://x")).send(card_message())
    except ExternalError as exc:
        errors.append(exc)
    assert len(errors) == 5 and len(teams.received) == 1
    assert_nowhere(teams.signature, caplog, errors)
    assert_nowhere(teams.flow_id, caplog, errors)
