"""The alert dispatcher on fakes: routing, dedup with cooldown, resolved follow-ups, digests, fallback."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shared.core.dispatch import DispatchPolicy
from shared.core.models import Alert, Severity
from shared.core.spec import PipelinesConfig
from shared.core.typed import coerce
from shared.services import alert_dispatcher, digests
from shared.services.deps import Deps
from shared.services.ledgers import Ledgers
from tests.fakes import FixedClock, ListAlertSink, MemoryBlobStore, MemoryStateStore, RecordingNotifier


class World:
    def __init__(self, **policy: object) -> None:
        config, _ = coerce(PipelinesConfig, {"datasets": [
            {"name": "scores", "alerts": {"teams": True, "email": ["data@example.com"], "min_severity": "warn"}},
            {"name": "quiet", "alerts": {"teams": True, "min_severity": "fail"}}]})
        assert config is not None
        self.clock = FixedClock()
        self.teams, self.email = RecordingNotifier("teams"), RecordingNotifier("email")
        settings = {"teams_configured": True, "email_configured": True, **policy}
        self.deps = Deps(config, self.clock, MemoryBlobStore(), MemoryStateStore(), None, ListAlertSink(),
                         notifiers={"teams": self.teams, "email": self.email},
                         dispatch=DispatchPolicy(**settings))  # type: ignore[arg-type]

    def alert(self, code: str = "output_failed", severity: Severity = Severity.FAIL, dataset: str = "scores",
              subject: str = "f.csv", resolves: bool = False) -> Alert:
        return Alert(dataset, code, severity, "something happened", self.clock.now(), topic="t", subject=subject,
                     resolves=resolves)

    def send(self, alert: Alert, attempt: int = 1) -> alert_dispatcher.DispatchOutcome:
        return alert_dispatcher.dispatch(self.deps, alert.to_json(), attempt, self.clock.now())


def test_an_alert_goes_to_teams_and_email_once() -> None:
    world = World()
    outcome = world.send(world.alert())
    assert outcome.status == "sent" and sorted(outcome.sent) == ["email", "teams"]
    assert len(world.teams.sent) == 1 and world.email.sent[0].to == ("data@example.com",)


def test_the_same_fingerprint_within_the_cooldown_is_suppressed() -> None:
    world = World()
    world.send(world.alert())
    world.clock.advance(minutes=10)
    assert world.send(world.alert()).reason == "duplicate within the cooldown"
    world.clock.advance(hours=2)
    assert world.send(world.alert()).status == "sent"
    assert len(world.teams.sent) == 2


def test_a_resolution_follows_an_open_episode_only() -> None:
    world = World()
    assert world.send(world.alert(resolves=True, severity=Severity.INFO)).status == "suppressed"
    world.send(world.alert())
    world.clock.advance(minutes=5)
    assert world.send(world.alert(resolves=True, severity=Severity.INFO)).status == "sent"
    assert "Resolved" in world.teams.sent[-1].subject


def test_routes_filter_by_severity() -> None:
    world = World()
    assert world.send(world.alert(dataset="quiet", severity=Severity.WARN, code="output_warning")).status == \
        "suppressed"
    assert world.send(world.alert(dataset="quiet")).sent == ["teams"]


def test_a_burst_becomes_a_digest() -> None:
    world = World(digest_threshold=3)
    for i in range(6):
        world.send(world.alert(code="output_warning", severity=Severity.WARN, subject=f"f{i}.csv"))
    assert len(world.teams.sent) == 3
    sent = digests.send(world.deps, world.clock.now())
    assert sent == {"teams": 3, "email": 3}
    assert world.teams.sent[-1].subject == "3 alerts"
    assert digests.send(world.deps, world.clock.now()) == {}


def test_a_failing_channel_raises_for_retry_and_the_retry_skips_the_channel_that_succeeded() -> None:
    world = World()
    world.teams.down = True
    alert = world.alert()
    with pytest.raises(alert_dispatcher.DeliveryFailed):
        world.send(alert, attempt=1)
    assert len(world.email.sent) == 1
    world.teams.down = False
    world.send(alert, attempt=2)
    assert len(world.email.sent) == 1 and len(world.teams.sent) == 1


def test_a_message_that_keeps_failing_on_teams_goes_to_email_on_its_fourth_attempt() -> None:
    world = World()
    world.teams.down = True
    alert = world.alert(dataset="scores")
    for attempt in (1, 2, 3):
        with pytest.raises(alert_dispatcher.DeliveryFailed):
            world.send(alert, attempt)
    assert len(world.email.sent) == 1          # the email copy went out on the first attempt
    assert world.send(alert, attempt=4).sent == ["email"] and world.teams.sent == []


def test_a_channel_failing_for_minutes_is_bypassed_then_probed_again() -> None:
    world = World()
    world.teams.down = True
    with pytest.raises(alert_dispatcher.DeliveryFailed):
        world.send(world.alert(subject="a"))
    world.clock.advance(minutes=3)
    with pytest.raises(alert_dispatcher.DeliveryFailed):
        world.send(world.alert(subject="b"))
    # Failing for 3 minutes: new alerts skip Teams and go by email straight away.
    assert world.send(world.alert(subject="c")).sent == ["email"]
    world.teams.down = False
    world.clock.advance(minutes=3)
    # Past the probe delay Teams is tried again, and it is back.
    assert sorted(world.send(world.alert(subject="d")).sent) == ["email", "teams"]


def test_a_teams_only_alert_during_an_outage_is_retried_not_dropped() -> None:
    world = World()
    world.teams.down = True
    with pytest.raises(alert_dispatcher.DeliveryFailed):
        world.send(world.alert(dataset="quiet"), attempt=5)


def test_a_poison_message_is_reported_on_every_channel() -> None:
    world = World(default_email=("oncall@example.com",))
    delivered = alert_dispatcher.report_poison(world.deps, "{not json", world.clock.now())
    assert sorted(delivered) == ["email", "teams"]
    assert "unreadable alert message" in world.teams.sent[0].text
    assert world.email.sent[0].to == ("oncall@example.com",)


def test_a_poison_notice_no_channel_takes_puts_the_alert_back_on_the_queue() -> None:
    world = World()
    world.teams.down = True
    text = world.alert(dataset="quiet").to_json()
    assert alert_dispatcher.report_poison(world.deps, text, world.clock.now()) == []
    sink = world.deps.alerts
    assert isinstance(sink, ListAlertSink) and sink.requeued[0][0] == text


def test_a_malformed_alert_message_raises_so_it_reaches_the_poison_queue() -> None:
    world = World()
    with pytest.raises(ValueError, match="malformed alert message"):
        alert_dispatcher.dispatch(world.deps, '{"dataset": "x"}', 1, world.clock.now())


def test_a_fail_alert_without_any_channel_is_a_warning_naming_the_dataset_code_and_settings(
        caplog: pytest.LogCaptureFixture) -> None:
    world = World(teams_configured=False, email_configured=False)
    caplog.set_level("INFO", logger="shared.services.alert_dispatcher")
    outcome = world.send(world.alert(code="output_failed"))
    assert outcome.status == "suppressed"
    [record] = [r for r in caplog.records if r.levelname == "WARNING"]
    assert "no alert channel is configured" in record.getMessage()
    assert (record.dataset, record.code) == ("scores", "output_failed")  # type: ignore[attr-defined]
    for setting in ("TEAMS_WEBHOOK_URL", "SMTP_HOST", "SMTP_SENDER", "ACS_EMAIL_ENDPOINT"):
        assert setting in record.fix  # type: ignore[attr-defined]
    assert "alert suppressed" not in caplog.text


def test_a_fail_alert_for_a_dataset_without_recipients_names_alert_email_to(
        caplog: pytest.LogCaptureFixture) -> None:
    world = World(teams_configured=False)          # email works, but "quiet" names no recipients
    caplog.set_level("INFO", logger="shared.services.alert_dispatcher")
    world.send(world.alert(dataset="quiet"))
    [record] = [r for r in caplog.records if r.levelname == "WARNING"]
    assert record.dataset == "quiet"  # type: ignore[attr-defined]
    assert "ALERT_EMAIL_TO" in record.fix and "SMTP_HOST" not in record.fix  # type: ignore[attr-defined]


def test_a_warning_alert_without_a_channel_stays_a_quiet_suppression(caplog: pytest.LogCaptureFixture) -> None:
    world = World(teams_configured=False, email_configured=False)
    caplog.set_level("INFO", logger="shared.services.alert_dispatcher")
    world.send(world.alert(code="output_warning", severity=Severity.WARN))
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    assert "alert suppressed" in caplog.text


def test_a_sent_alert_is_logged_once_per_channel_with_dataset_code_and_fingerprint(
        caplog: pytest.LogCaptureFixture) -> None:
    world = World()
    caplog.set_level("INFO", logger="shared.services.alert_dispatcher")
    alert = world.alert()
    world.send(alert)
    sent = [r for r in caplog.records if r.getMessage() == "alert sent"]
    assert sorted(r.channel for r in sent) == ["email", "teams"]  # type: ignore[attr-defined]
    assert {(r.dataset, r.code, r.fingerprint) for r in sent} == {  # type: ignore[attr-defined]
        ("scores", "output_failed", alert.fingerprint)}


def test_a_worker_that_died_after_claiming_a_digest_does_not_get_it_sent_again_whole() -> None:
    world = World(digest_threshold=3)
    for i in range(6):
        world.send(world.alert(code="output_warning", severity=Severity.WARN, subject=f"f{i}.csv"))
    parked = Ledgers.of(world.deps).digest
    for row in parked.query("teams"):     # a digest claimed its rows, was sent, and its worker died
        parked.replace(replace(row, digest="dead-worker"))
    before = len(world.teams.sent)

    sent = digests.send(world.deps, world.clock.now())

    assert "teams" not in sent and len(world.teams.sent) == before   # not re-sent whole
    assert parked.query("teams") == []


def test_a_digest_a_channel_cannot_take_goes_to_the_working_channel() -> None:
    world = World(digest_threshold=3)
    for i in range(6):
        world.send(world.alert(code="output_warning", severity=Severity.WARN, subject=f"f{i}.csv"))
    world.teams.down = True
    emails = len(world.email.sent)

    sent = digests.send(world.deps, world.clock.now())

    assert sent == {"email": 6}            # its own three, and Teams' three
    assert len(world.email.sent) == emails + 2 and Ledgers.of(world.deps).digest.query("teams") == []


def test_while_a_channel_is_failing_warnings_are_not_parked_for_its_digest() -> None:
    world = World(digest_threshold=3)
    for i in range(3):
        world.send(world.alert(code="output_warning", severity=Severity.WARN, subject=f"f{i}.csv"))
    world.teams.down = True
    with pytest.raises(alert_dispatcher.DeliveryFailed):   # a failure is never digested: Teams is found down
        world.send(world.alert(subject="broken.csv"), attempt=1)
    emails = len(world.email.sent)

    with pytest.raises(alert_dispatcher.DeliveryFailed):   # the next warning is sent, not parked for Teams
        world.send(world.alert(code="output_warning", severity=Severity.WARN, subject="f3.csv"), attempt=1)

    digest = Ledgers.of(world.deps).digest
    assert digest.query("teams") == []
    # email works and is in a burst too: the warning waits in email's digest, a working channel
    assert len(world.email.sent) == emails and [r.parsed().subject for r in digest.query("email")][-1] == "f3.csv"
