"""Teams down for 10 simulated minutes: every alert is delivered after recovery or by email; none is lost.

The queue is simulated with the Functions host's semantics (visibility timeout, dequeue count,
poison after 5 attempts, the poison handler); time is a fake clock, so minutes pass in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from shared.core.dispatch import DispatchPolicy
from shared.core.models import Alert, Severity
from shared.core.spec import PipelinesConfig
from shared.core.typed import coerce
from shared.services import alert_dispatcher
from shared.services.deps import Deps
from tests.fakes import FixedClock, ListAlertSink, MemoryBlobStore, MemoryStateStore, RecordingNotifier

VISIBILITY = timedelta(seconds=30)
MAX_DEQUEUE = 5


@dataclass
class Message:
    text: str
    visible_at: object
    dequeue_count: int = 0


def test_a_ten_minute_teams_outage_loses_nothing() -> None:
    config, _ = coerce(PipelinesConfig, {"datasets": [
        {"name": "scores", "alerts": {"teams": True, "email": ["data@example.com"]}},
        {"name": "teams_only", "alerts": {"teams": True}}]})
    assert config is not None
    clock = FixedClock()
    teams, email = RecordingNotifier("teams"), RecordingNotifier("email")
    sink = ListAlertSink()
    deps = Deps(config, clock, MemoryBlobStore(), MemoryStateStore(), None, sink,
                notifiers={"teams": teams, "email": email},
                dispatch=DispatchPolicy(teams_configured=True, email_configured=True))
    queue: list[Message] = []
    poison: list[Message] = []
    alerts = []
    start = clock.now()
    teams.down = True
    for minute in range(40):
        if minute < 6:   # two alerts a minute for the first six minutes, half of them Teams-only
            for n, dataset in enumerate(("scores", "teams_only")):
                alert = Alert(dataset, "output_failed", Severity.FAIL, f"file {minute}-{n} failed", clock.now(),
                              subject=f"f{minute}-{n}")
                alerts.append(alert)
                queue.append(Message(alert.to_json(), clock.now()))
        if minute == 10:
            teams.down = False
        for _ in range(6):   # ten-second steps
            now = clock.now()
            for message in [m for m in queue if m.visible_at <= now]:  # type: ignore[operator]
                message.dequeue_count += 1
                try:
                    alert_dispatcher.dispatch(deps, message.text, message.dequeue_count, now)
                    queue.remove(message)
                except alert_dispatcher.DeliveryFailed:
                    if message.dequeue_count >= MAX_DEQUEUE:
                        queue.remove(message)
                        poison.append(message)
                    else:
                        message.visible_at = now + VISIBILITY
            for message in list(poison):
                poison.remove(message)
                alert_dispatcher.report_poison(deps, message.text, now)
            for text, delay in sink.requeued:
                queue.append(Message(text, now + delay))
            sink.requeued.clear()
            clock.advance(seconds=10)

    delivered_teams = [m.text for m in teams.sent]
    delivered_email = [m.text for m in email.sent]
    lost = [a for a in alerts
            if not any(a.message in t for t in delivered_teams + delivered_email)]
    assert lost == []
    assert queue == [] and poison == []
    # Teams-only alerts raised during the outage reached Teams once it was back.
    teams_only = [a for a in alerts if a.dataset == "teams_only"]
    assert all(any(a.message in t for t in delivered_teams) for a in teams_only)
    # Each alert reached each channel at most once; the documented extra is the poison notice.
    for a in alerts:
        assert sum(a.message in t and "could not be delivered" not in t for t in delivered_teams) <= 1
        assert sum(a.message in t and "could not be delivered" not in t for t in delivered_email) <= 1
    assert clock.now() - start >= timedelta(minutes=40)
