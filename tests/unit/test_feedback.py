"""Feedback on alerts (issue 13 point 3): signed, expiring, single-use tokens; labels that teach the
baselines; snoozes the dispatcher honours."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.core import feedback
from shared.core.baseline import Baseline, Point
from shared.core.dispatch import DispatchPolicy
from shared.core.feedback import Action, Claims, Refusal, Refused
from shared.core.history import HistoryReplay, Observation, parse_observation
from shared.core.models import Alert, Severity
from shared.core.spec import Contract, HistorySpec, PipelinesConfig
from shared.core.typed import coerce
from shared.services import alert_dispatcher
from shared.services import feedback as service
from shared.services.deps import Deps, FeedbackSigning
from shared.services.ledgers import Ledgers
from tests.fakes import FixedClock, ListAlertSink, MemoryBlobStore, MemoryStateStore, RecordingNotifier

KEY = b"k" * 40
NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)


def claims(**changes: object) -> Claims:
    base = Claims("scores", "output_failed", "scores/2026/11/21/a.csv", "f" * 20, NOW.isoformat(),
                  Action.FALSE_ALARM, NOW + timedelta(days=7))
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_signed_token_verifies_to_the_claims_it_was_made_from() -> None:
    assert feedback.verify(feedback.sign(claims(), KEY), KEY, NOW) == claims()


def test_an_expired_token_is_refused_as_expired() -> None:
    token = feedback.sign(claims(), KEY)
    assert feedback.verify(token, KEY, NOW + timedelta(days=7)) == Refused(Refusal.EXPIRED)


def test_a_token_with_a_changed_action_or_another_key_is_refused_as_forged() -> None:
    token = feedback.sign(claims(), KEY)
    payload, _, mac = token.partition(".")
    other_payload = feedback.sign(claims(action=Action.EXPECTED), KEY).partition(".")[0]
    assert feedback.verify(f"{other_payload}.{mac}", KEY, NOW) == Refused(Refusal.FORGED)
    assert feedback.verify(feedback.sign(claims(), b"x" * 40), KEY, NOW) == Refused(Refusal.FORGED)
    flipped = mac[:10] + ("A" if mac[10] != "A" else "B") + mac[11:]
    assert feedback.verify(f"{payload}.{flipped}", KEY, NOW) == Refused(Refusal.FORGED)


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "é.x", "!!!.???", "x" * 5000])
def test_anything_that_is_not_a_token_is_refused_as_malformed(token: str) -> None:
    assert feedback.verify(token, KEY, NOW) == Refused(Refusal.MALFORMED)


def test_the_request_token_comes_from_the_form_json_or_query_and_nothing_else() -> None:
    assert feedback.token_from(b"token=abc.def", "application/x-www-form-urlencoded", None) == "abc.def"
    assert feedback.token_from(b'{"token": "abc.def"}', "application/json; charset=utf-8", None) == "abc.def"
    assert feedback.token_from(b"", "", "abc.def") == "abc.def"
    assert feedback.token_from(b"{not json", "application/json", None) == Refused(Refusal.MALFORMED)
    assert feedback.token_from(b'["token"]', "application/json", None) == Refused(Refusal.MALFORMED)
    assert feedback.token_from(b"x" * 10_000, "application/json", None) == Refused(Refusal.MALFORMED)


# --- labels teach the baselines --------------------------------------------------------------------------

def daily(n: int, value: float = 1000.0) -> list[Point]:
    return [Point(NOW + timedelta(days=d), value + (d % 3) * 5) for d in range(n)]


def test_a_false_alarm_is_learned_as_a_normal_point_and_an_unlabelled_anomaly_is_not() -> None:
    spec = HistorySpec(min_history=10, seasonality="none")
    labelled, unlabelled = Baseline(spec), Baseline(spec)
    for p in daily(21):
        labelled.step(p)
        unlabelled.step(p)
    odd = Point(NOW + timedelta(days=21), 1400.0)
    assert labelled.step(odd, label="false_alarm").anomalous and unlabelled.step(odd).anomalous
    nxt = Point(NOW + timedelta(days=22), 1005.0)
    assert labelled.judge(nxt).history == unlabelled.judge(nxt).history + 1


def test_an_expected_change_is_the_new_normal_at_once_instead_of_after_three_files() -> None:
    contract = Contract()
    expected, unlabelled = HistoryReplay(contract), HistoryReplay(contract)
    obs = [Observation(NOW + timedelta(days=d), "scores", "output", f"f{d}.csv", 100_000 + d % 3, 1000 + d % 3)
           for d in range(21)]
    for o in obs:
        expected.step(o)
        unlabelled.step(o)
    jump = Observation(NOW + timedelta(days=21), "scores", "output", "f21.csv", 200_000, 2000)
    assert "rows_anomaly" in [f.code for f in expected.step(replace(jump, label="expected"))]
    unlabelled.step(jump)
    after = Observation(NOW + timedelta(days=22), "scores", "output", "f22.csv", 200_001, 2001)
    assert not {"rows_anomaly", "size_anomaly"} & {f.code for f in expected.findings(after)}
    assert "rows_anomaly" in [f.code for f in unlabelled.findings(after)]


def test_a_label_travels_with_an_observation_line_and_an_unknown_label_is_refused() -> None:
    line = Observation(NOW, "scores", "output", "a.csv", 10, label="expected").to_json()
    assert parse_observation(line).label == "expected"
    with pytest.raises(ValueError, match="label must be one of"):
        parse_observation(json.dumps({**json.loads(line), "label": "meh"}))


# --- the service: links, the endpoint's two steps, snoozes -----------------------------------------------

class World:
    def __init__(self) -> None:
        config, _ = coerce(PipelinesConfig, {"datasets": [
            {"name": "scores", "alerts": {"teams": True, "email": ["data@example.com"]}}]})
        assert config is not None
        self.clock = FixedClock(NOW)
        self.teams, self.email = RecordingNotifier("teams"), RecordingNotifier("email")
        self.deps = Deps(config, self.clock, MemoryBlobStore(), MemoryStateStore(), None, ListAlertSink(),
                         notifiers={"teams": self.teams, "email": self.email},
                         dispatch=DispatchPolicy(teams_configured=True, email_configured=True),
                         feedback=FeedbackSigning(KEY, "https://autopilot.example.net", timedelta(days=7)))

    def alert(self, code: str = "output_failed", subject: str = "scores/2026/11/21/a.csv") -> Alert:
        return Alert("scores", code, Severity.FAIL, "rows fell", self.clock.now(), topic="output_validation",
                     subject=subject)

    def send(self, alert: Alert) -> alert_dispatcher.DispatchOutcome:
        return alert_dispatcher.dispatch(self.deps, alert.to_json(), 1, self.clock.now())


def tokens_of(urls: list[str]) -> list[str]:
    return [parse_qs(urlsplit(u).query)["token"][0] for u in urls]


def test_every_card_and_email_carries_false_alarm_and_expected_actions_with_valid_tokens() -> None:
    world = World()
    world.send(world.alert())
    card = world.teams.sent[0].card
    assert card is not None
    actions = card["attachments"][0]["content"]["actions"]
    assert [a["title"] for a in actions[:2]] == ["False alarm", "Expected (new normal)"]
    decoded = [feedback.verify(t, KEY, NOW) for t in tokens_of([a["url"] for a in actions[:2]])]
    assert [c.action for c in decoded if isinstance(c, Claims)] == [Action.FALSE_ALARM, Action.EXPECTED]
    assert all(a["url"].startswith("https://autopilot.example.net/api/feedback?token=") for a in actions[:2])
    mail = world.email.sent[0]
    assert "False alarm: https://autopilot.example.net/api/feedback?token=" in mail.text
    assert "Expected (new normal)</a>" in mail.html


def test_without_a_signing_key_alerts_carry_no_feedback_actions() -> None:
    world = World()
    world.deps = replace(world.deps, feedback=None)
    world.send(world.alert())
    card = world.teams.sent[0].card
    assert card is not None and "actions" not in card["attachments"][0]["content"]


def test_a_token_records_its_label_once_and_its_replay_is_refused() -> None:
    world = World()
    token = feedback.sign(feedback.claims_for(world.alert(), Action.EXPECTED, NOW + timedelta(days=1)), KEY)
    outcome = service.apply_token(world.deps, token, NOW)
    assert isinstance(outcome, service.Labelled) and outcome.claims.action is Action.EXPECTED
    assert service.labels_by_observation(world.deps, "scores") == {"scores/2026/11/21/a.csv": "expected"}
    assert service.apply_token(world.deps, token, NOW) == Refused(Refusal.REPLAYED)


def test_the_confirmation_page_records_nothing_and_escapes_what_the_token_says() -> None:
    world = World()
    hostile = world.alert(subject="<script>alert(1)</script>.csv")
    token = feedback.sign(feedback.claims_for(hostile, Action.FALSE_ALARM, NOW + timedelta(days=1)), KEY)
    page = service.confirm_page(world.deps, token, NOW)
    assert isinstance(page, service.ConfirmPage)
    assert "<script>" not in page.html and "&lt;script&gt;" in page.html and "method=post" in page.html
    assert service.labels_by_observation(world.deps, "scores") == {}


def test_expired_and_forged_tokens_leave_no_label_and_a_used_token_row_only_for_the_good_one() -> None:
    world = World()
    good = feedback.claims_for(world.alert(), Action.FALSE_ALARM, NOW + timedelta(hours=1))
    assert service.apply_token(world.deps, feedback.sign(good, KEY), NOW + timedelta(hours=2)) == \
        Refused(Refusal.EXPIRED)
    assert service.apply_token(world.deps, feedback.sign(good, b"z" * 40), NOW) == Refused(Refusal.FORGED)
    assert service.labels_by_observation(world.deps, "scores") == {}


def test_a_snoozed_alert_kind_is_suppressed_with_a_log_line_until_the_snooze_ends(
        caplog: pytest.LogCaptureFixture) -> None:
    world = World()
    service.snooze(world.deps, "scores", "output_failed", NOW + timedelta(hours=2), NOW)
    with caplog.at_level(logging.INFO):
        outcome = world.send(world.alert())
    assert (outcome.status, outcome.reason) == ("suppressed", "snoozed") and not world.teams.sent
    assert any(r.getMessage() == "alert suppressed" and getattr(r, "reason", "") == "snoozed" for r in caplog.records)
    assert world.send(world.alert(code="output_late")).status == "sent"      # another code is not snoozed
    world.clock.advance(hours=3)
    assert world.send(world.alert()).status == "sent"


def test_a_snooze_of_every_code_silences_the_whole_dataset() -> None:
    world = World()
    service.snooze(world.deps, "scores", "*", NOW + timedelta(hours=1), NOW)
    assert world.send(world.alert(code="output_late")).reason == "snoozed"


def test_autopilot_label_finds_the_alert_by_its_fingerprint_and_labels_its_file() -> None:
    world = World()
    alert = world.alert()
    world.send(alert)
    labelled = service.label_alert(world.deps, alert.fingerprint, Action.FALSE_ALARM, NOW)
    assert (labelled.dataset, labelled.code, labelled.subject) == ("scores", "output_failed", alert.subject)
    assert Ledgers.of(world.deps).labels.of("scores")[0].by == "cli"
    with pytest.raises(KeyError):
        service.label_alert(world.deps, "0" * 20, Action.FALSE_ALARM, NOW)



def test_feedback_settings_default_to_the_app_host_and_bad_ones_are_named() -> None:
    from shared.errors import ConfigError
    from shared.settings import load_settings

    env = {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "FEEDBACK_SIGNING_KEY": "s" * 40,
           "WEBSITE_HOSTNAME": "app-x.azurewebsites.net"}
    fb = load_settings(env).feedback
    assert fb is not None and fb.base_url == "https://app-x.azurewebsites.net" and fb.token_ttl == timedelta(days=7)
    assert load_settings({**env, "FEEDBACK_SIGNING_KEY": "@Microsoft.KeyVault(SecretUri=x)"}).feedback is None
    with pytest.raises(ConfigError) as err:
        load_settings({**env, "FEEDBACK_SIGNING_KEY": "short", "FEEDBACK_BASE_URL": "http://evil.example/x",
                       "FEEDBACK_TOKEN_TTL": "200d"})
    text = str(err.value.render())
    assert "FEEDBACK_SIGNING_KEY: too short" in text and "FEEDBACK_BASE_URL" in text and "FEEDBACK_TOKEN_TTL" in text
