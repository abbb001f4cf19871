"""Azure DevOps down for 10 simulated minutes, then answers lost after creating items and a worker
that dies between creating an item and recording it: no alert is lost, no work item is duplicated.

The queue has the Functions host's semantics (visibility timeout, dequeue count, poison after 5
attempts, the poison handler), as in test_alert_dispatcher_outage; a worker that raises anything
(not only DeliveryFailed) leaves its message on the queue. Time is a fake clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.core.dispatch import DispatchPolicy
from shared.core.models import Alert, Severity
from shared.core.spec import PipelinesConfig
from shared.core.typed import coerce
from shared.ports import WorkItems
from shared.services import alert_dispatcher
from shared.services.deps import Deps
from tests.fakes import FixedClock, ListAlertSink, MemoryBlobStore, MemoryStateStore, MemoryWorkItems, RecordingNotifier

VISIBILITY = timedelta(seconds=30)
MAX_DEQUEUE = 5
DEVOPS = {"organization": "contoso", "project": "Data Platform", "type": "Bug", "min_severity": "warn"}


@dataclass
class Queued:
    text: str
    visible_at: datetime
    dequeue_count: int = 0


def outage_world(work_items: WorkItems) -> tuple[Deps, FixedClock, RecordingNotifier]:
    config, problems = coerce(PipelinesConfig, {"datasets": [
        {"name": "scores", "alerts": {"teams": True, "devops": DEVOPS}},
        {"name": "boards_only", "alerts": {"teams": False, "devops": DEVOPS}}]})
    assert config is not None, problems
    clock, teams = FixedClock(), RecordingNotifier("teams")
    deps = Deps(config, clock, MemoryBlobStore(), MemoryStateStore(), None, ListAlertSink(),
                notifiers={"teams": teams}, work_items=work_items,
                dispatch=DispatchPolicy(teams_configured=True, devops_configured=True))
    return deps, clock, teams


def play(deps: Deps, clock: FixedClock, minutes: int, each_minute: Callable[[int], list[Alert]]) -> list[Alert]:
    """Run the queue for ``minutes`` in ten-second steps; returns every alert raised."""
    assert isinstance(deps.alerts, ListAlertSink)
    queue: list[Queued] = []
    raised: list[Alert] = []
    for minute in range(minutes):
        for alert in each_minute(minute):
            raised.append(alert)
            queue.append(Queued(alert.to_json(), clock.now()))
        for _ in range(6):
            now = clock.now()
            for message in [m for m in queue if m.visible_at <= now]:
                message.dequeue_count += 1
                try:
                    alert_dispatcher.dispatch(deps, message.text, message.dequeue_count, now)
                    queue.remove(message)
                except Exception:   # a failed delivery, or a worker that died: the host retries the message
                    if message.dequeue_count >= MAX_DEQUEUE:
                        queue.remove(message)
                        alert_dispatcher.report_poison(deps, message.text, now)
                    else:
                        message.visible_at = now + VISIBILITY
            for text, delay in deps.alerts.requeued:
                queue.append(Queued(text, now + delay))
            deps.alerts.requeued.clear()
            clock.advance(seconds=10)
    assert queue == []
    return raised


def story(clock: FixedClock, set_down: Callable[[bool], None],
          break_creates: Callable[[int], None]) -> Callable[[int], list[Alert]]:
    """Minutes 0-5: two failures a minute while DevOps is down (until minute 10). Minutes 12-16: two
    more a minute, and from minute 13 creates lose their answers or the worker dies after creating.
    Minute 25: every episode recovers."""
    opened: list[Alert] = []

    def each_minute(minute: int) -> list[Alert]:
        if minute == 0:
            set_down(True)
        if minute == 10:
            set_down(False)
        out = []
        if minute < 6 or 12 <= minute < 17:
            if minute >= 13:   # the minute-12 alerts go through cleanly: DevOps is known to be back
                break_creates(minute)
            for n, dataset in enumerate(("scores", "boards_only")):
                out.append(Alert(dataset, "output_failed", Severity.FAIL, f"file {minute}-{n} failed", clock.now(),
                                 topic="episode", subject=f"f{minute}-{n}"))
            opened.extend(out)
        if minute == 25:
            out = [Alert(a.dataset, "output_recovered", Severity.INFO, f"{a.subject} is good again", clock.now(),
                         topic="episode", subject=a.subject, resolves=True) for a in opened]
        return out
    return each_minute


def check_nothing_lost_nothing_doubled(raised: list[Alert], teams: RecordingNotifier,
                                       items: dict[int, dict[str, Any]]) -> None:
    failures = [a for a in raised if not a.resolves]
    descriptions = [str(item["fields"]["System.Description"]) for item in items.values()]
    in_teams = [m.text for m in teams.sent]
    for alert in failures:
        made = sum(alert.message in d for d in descriptions)
        assert made <= 1, f"{alert.message}: {made} work items"
        assert made == 1 or any(alert.message in t for t in in_teams), f"{alert.message} was lost"
    tags = [next(t for t in str(item["fields"]["System.Tags"]).split("; ") if t.startswith("autopilot-"))
            for item in items.values()]
    assert len(tags) == len(set(tags))
    # Once DevOps was back, every failure got its work item despite lost answers and a dead worker.
    late = [a for a in failures if a.ts >= failures[0].ts + timedelta(minutes=12)]
    assert late and all(sum(a.message in d for d in descriptions) == 1 for a in late)
    # Every work item was resolved by its episode's recovery.
    assert {str(item["fields"]["System.State"]) for item in items.values()} == {"Resolved"}


def test_a_devops_outage_with_lost_answers_and_crashes_loses_no_alert_and_doubles_no_work_item() -> None:
    boards = MemoryWorkItems()
    deps, clock, teams = outage_world(boards)

    def set_down(down: bool) -> None:
        boards.down = down

    def break_creates(minute: int) -> None:
        if minute % 2:
            boards.lose_answer_next += 1
        else:
            boards.crash_after_create += 1

    raised = play(deps, clock, 40, story(clock, set_down, break_creates))
    check_nothing_lost_nothing_doubled(raised, teams, boards.items)
    assert boards.lose_answer_next == 0 and boards.crash_after_create == 0   # the faults did happen
