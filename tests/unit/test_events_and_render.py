"""The webhook body's validation and the rendering of alerts for Teams and email."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from functions.http_replies import describe
from shared.core.events import PipelineEvent, Problem, parse_event
from shared.core.models import Alert, Link, Severity
from shared.core.outcomes import Invalid
from shared.core.render import CARD_LIMIT, email, escape_markdown, size_of, teams_card

GOOD = {"factory": "adf-prod", "pipeline": "score_batch", "runId": "2f1c6a2e-0b7a-4c35-9a4c-1d2e3f4a5b6c",
        "status": "Succeeded", "batchId": "scores:2026/11/21"}


def parse(body: object, content_type: str = "application/json") -> PipelineEvent | Problem:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_event(raw, content_type)


def test_a_good_event_parses() -> None:
    event = parse({**GOOD, "error": {"message": "boom", "activity": "Score"}})
    assert isinstance(event, PipelineEvent)
    assert (event.run_id, event.status, event.error_activity) == (GOOD["runId"], "Succeeded", "Score")


def test_every_problem_is_listed_with_what_to_send() -> None:
    result = parse({"factory": 3, "runId": "x y", "status": "Done", "colour": "red"})
    assert isinstance(result, Problem) and describe(Invalid(result))[0] == 400
    text = "\n".join(result.details)
    assert "colour: unknown field" in text
    assert "factory: must be a string, got int" in text
    assert "pipeline: required" in text and "@{pipeline().Pipeline}" in text
    assert "runId: must be the run's id" in text
    assert "status: must be one of Succeeded, Failed, got 'Done'" in text


@pytest.mark.parametrize(("body", "content_type", "status"), [
    (b"{", "application/json", 400),
    (b"\xff\xfe", "application/json", 400),
    (b"[1, 2]", "application/json", 400),
    (json.dumps(GOOD).encode(), "text/plain", 415),
    (b"{" + b'"a":' * 0 + b" " * 70_000 + b"}", "application/json", 413),
    (b"[" * 100_000 + b"]" * 100_000, "application/json", 413),
])
def test_malformed_bodies_are_4xx_with_a_reason(body: bytes, content_type: str, status: int) -> None:
    result = parse(body, content_type)
    assert isinstance(result, Problem) and describe(Invalid(result))[0] == status and result.details


def test_deeply_nested_json_is_a_400_not_a_crash() -> None:
    result = parse(b"[" * 20_000 + b"]" * 20_000)
    assert isinstance(result, Problem) and describe(Invalid(result))[0] == 400


def alert(**overrides: object) -> Alert:
    fields: dict[str, object] = {"dataset": "scores", "code": "output_failed", "severity": Severity.FAIL,
                                 "message": "scores.csv: rows 200, expected ~600",
                                 "ts": datetime(2026, 11, 21, tzinfo=UTC),
                                 "facts": {"file": "outputs/scores.csv"},
                                 "links": (Link("ADF run", "https://adf.azure.com/monitoring/x"),)}
    fields.update(overrides)
    return Alert(**fields)  # type: ignore[arg-type]


def test_a_card_has_title_colour_facts_and_link() -> None:
    card = teams_card([alert()])
    content = card["attachments"][0]["content"]
    assert card["type"] == "message" and content["type"] == "AdaptiveCard"
    assert content["body"][0]["color"] == "Attention"
    assert {"title": "file", "value": "outputs/scores.csv"} in content["body"][2]["facts"]
    assert content["actions"][0]["url"].startswith("https://adf.azure.com")


def test_markdown_and_template_syntax_in_alert_text_is_escaped() -> None:
    card = teams_card([alert(message="[click me](https://evil.example) **now** {{DATE(2026)}}")])
    text = card["attachments"][0]["content"]["body"][1]["text"]
    assert "\\[click me\\]\\(https://evil.example\\)" in text and "\\*\\*now\\*\\*" in text and "\\{\\{" in text
    assert escape_markdown("a_b") == "a\\_b"


def test_a_huge_digest_stays_under_the_teams_limit() -> None:
    many = [alert(message="x" * 5000, facts={f"k{i}": "v" * 2000 for i in range(30)}, subject=str(i))
            for i in range(200)]
    card = teams_card(many)
    assert size_of(card) <= CARD_LIMIT
    assert "200 alerts" in json.dumps(card)


def test_non_https_links_are_not_offered() -> None:
    card = teams_card([alert(links=(Link("x", "javascript:alert(1)"),))])
    assert "actions" not in card["attachments"][0]["content"]


def test_email_has_text_and_escaped_html() -> None:
    message = email([alert(message="<script>alert(1)</script>")], ["oncall@example.com"])
    assert message.subject.startswith("[Autopilot] FAIL · scores · output failed")
    assert "<script>" in message.text and "<script>" not in message.html
    assert "&lt;script&gt;" in message.html and message.to == ("oncall@example.com",)
