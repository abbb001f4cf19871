"""The feedback actions end to end on the sandbox: an alert reaches the Teams sink as a card with
"false alarm" and "expected" actions; their links work on the local host without a function key (the
signed token is the credential); expired, forged, replayed and malformed tokens are refused with a 4xx
that says why."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from sandbox.stack import Stack
from shared.core import feedback
from shared.core.feedback import Action
from shared.core.models import Alert, Severity
from shared.services.ledgers import Ledgers

KEY = "feedback-test-key-" + "x" * 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    port = free_port()
    with Stack(tmp_path_factory.mktemp("stack"), http_port=port, extra_settings={
            "FEEDBACK_SIGNING_KEY": KEY, "FEEDBACK_BASE_URL": f"http://127.0.0.1:{port}"}) as running:
        yield running


@pytest.fixture(scope="module")
def card_actions(stack: Stack) -> dict[str, str]:
    alert = Alert("scores", "output_failed", Severity.FAIL, "rows fell to a third", datetime.now(UTC),
                  topic="output_validation", subject="scores/2026/11/29/part-0.csv")
    stack.deps.alerts.emit(alert)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not stack.teams.cards:
        time.sleep(0.2)
    assert stack.teams.cards, "the alert never reached the Teams sink"
    return {a["title"]: a["url"] for a in stack.teams.cards[0].get("actions", [])}


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def test_the_card_carries_both_actions_pointing_at_the_feedback_endpoint(stack: Stack,
                                                                        card_actions: dict[str, str]) -> None:
    assert {"False alarm", "Expected (new normal)"} <= card_actions.keys()
    assert card_actions["False alarm"].startswith(f"{stack.host.url}/feedback?token=")


def test_opening_the_link_shows_a_confirmation_and_records_nothing(stack: Stack,
                                                                   card_actions: dict[str, str]) -> None:
    page = requests.get(card_actions["Expected (new normal)"], timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "method=post" in page.text and "default-src 'none'" in page.headers["content-security-policy"]
    assert Ledgers.of(stack.deps).labels.of("scores") == []


def test_the_button_records_the_label_once_and_a_replay_is_refused_with_409(stack: Stack,
                                                                            card_actions: dict[str, str]) -> None:
    token = token_of(card_actions["False alarm"])
    first = requests.post(f"{stack.host.url}/feedback", data={"token": token}, timeout=30)
    assert first.status_code == 200, first.text
    assert first.json()["label"] == "false_alarm"
    [label] = Ledgers.of(stack.deps).labels.of("scores")
    assert (label.action, label.subject, label.by) == ("false_alarm", "scores/2026/11/29/part-0.csv", "card")
    again = requests.post(f"{stack.host.url}/feedback", data={"token": token}, timeout=30)
    assert again.status_code == 409 and again.json()["reason"] == "replayed"


def test_an_expired_token_is_refused_with_410(stack: Stack) -> None:
    alert = Alert("scores", "output_failed", Severity.FAIL, "m", datetime.now(UTC) - timedelta(days=9))
    token = feedback.sign(feedback.claims_for(alert, Action.EXPECTED, datetime.now(UTC) - timedelta(days=2)),
                          KEY.encode())
    reply = requests.post(f"{stack.host.url}/feedback", json={"token": token}, timeout=30)
    assert reply.status_code == 410 and "expired" in reply.json()["error"]


def test_a_forged_token_is_refused_with_403(stack: Stack, card_actions: dict[str, str]) -> None:
    alert = Alert("scores", "output_failed", Severity.FAIL, "m", datetime.now(UTC))
    forged = feedback.sign(feedback.claims_for(alert, Action.EXPECTED, datetime.now(UTC) + timedelta(days=1)),
                           b"not-the-key-" * 4)
    reply = requests.post(f"{stack.host.url}/feedback", data={"token": forged}, timeout=30)
    assert reply.status_code == 403 and reply.json()["reason"] == "forged"
    # The expected link's payload with the false alarm link's signature: altered, so forged.
    payload = token_of(card_actions["Expected (new normal)"]).partition(".")[0]
    mac = token_of(card_actions["False alarm"]).partition(".")[2]
    assert requests.get(f"{stack.host.url}/feedback", params={"token": f"{payload}.{mac}"},
                        timeout=30).status_code == 403


@pytest.mark.parametrize(("body", "content_type"), [
    (b"", "application/json"), (b"{not json", "application/json"), (b'["a"]', "application/json"),
    (b"token=%%%", "application/x-www-form-urlencoded"), (b"token=abc", "application/x-www-form-urlencoded"),
    (b"x" * 20_000, "application/json")])
def test_a_malformed_request_is_a_400_that_says_so(stack: Stack, body: bytes, content_type: str) -> None:
    reply = requests.post(f"{stack.host.url}/feedback", data=body, headers={"content-type": content_type},
                          timeout=30)
    assert reply.status_code == 400 and reply.json()["reason"] == "malformed"
