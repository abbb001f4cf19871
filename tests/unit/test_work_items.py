"""Azure DevOps work items as an alert channel, through the dispatcher on fakes: one item per episode,
a comment on a repeat, resolved on recovery, no duplicate item across retries and crashes."""

from __future__ import annotations

from typing import Any

import pytest

from shared.core import work_items as documents
from shared.core.dispatch import DispatchPolicy
from shared.core.models import Alert, Link, Severity
from shared.core.spec import PipelinesConfig
from shared.core.typed import coerce
from shared.services import alert_dispatcher, work_items
from shared.services.deps import Deps
from shared.services.ledgers import Ledgers
from shared.services.ledgers.work_items import WORK_ITEM
from tests.fakes import (
    FixedClock,
    ListAlertSink,
    MemoryBlobStore,
    MemoryStateStore,
    MemoryWorkItems,
    RecordingNotifier,
)

DEVOPS = {"organization": "contoso", "project": "Data Platform", "type": "Bug", "area_path": "Data Platform\\ML",
          "min_severity": "fail"}


class World:
    def __init__(self, devops: dict[str, Any] | None = None, teams: bool = True) -> None:
        config, problems = coerce(PipelinesConfig, {"datasets": [
            {"name": "scores", "alerts": {"teams": teams, "min_severity": "warn", "devops": devops or DEVOPS}}]})
        assert config is not None, problems
        self.clock = FixedClock()
        self.teams = RecordingNotifier("teams")
        self.boards = MemoryWorkItems()
        self.deps = Deps(config, self.clock, MemoryBlobStore(), MemoryStateStore(), None, ListAlertSink(),
                         notifiers={"teams": self.teams}, work_items=self.boards,
                         dispatch=DispatchPolicy(teams_configured=True, devops_configured=True))

    def alert(self, severity: Severity = Severity.FAIL, resolves: bool = False, message: str = "the file failed",
              code: str = "output_failed") -> Alert:
        return Alert("scores", code, severity, message, self.clock.now(), topic="t", subject="f.csv",
                     resolves=resolves, links=(Link("Open the run", "https://adf.azure.com/run/1"),))

    def send(self, alert: Alert, attempt: int = 1) -> alert_dispatcher.DispatchOutcome:
        return alert_dispatcher.dispatch(self.deps, alert.to_json(), attempt, self.clock.now())

    def deliver(self, alert: Alert, attempts: int = 5) -> alert_dispatcher.DispatchOutcome:
        """As the queue does: retry a message that failed (or whose worker died) until it goes through."""
        for attempt in range(1, attempts + 1):
            try:
                return self.send(alert, attempt)
            except (alert_dispatcher.DeliveryFailed, RuntimeError):
                self.clock.advance(seconds=30)
        raise AssertionError("never delivered")


def test_an_episode_creates_one_work_item_comments_on_a_repeat_and_resolves_on_recovery() -> None:
    world = World()
    outcome = world.send(world.alert())
    assert sorted(outcome.sent) == ["devops", "teams"]
    (item, fields), = [(i, w["fields"]) for i, w in world.boards.items.items()]
    assert world.boards.items[item]["type"] == "Bug" and world.boards.items[item]["project"] == "Data Platform"
    assert fields["System.Title"] == "FAIL · scores · output failed"
    assert fields["System.AreaPath"] == "Data Platform\\ML"
    assert fields["Microsoft.VSTS.Common.Severity"] == "2 - High"
    assert "the file failed" in fields["Microsoft.VSTS.TCM.ReproSteps"]
    assert "autopilot" in fields["System.Tags"].split("; ")

    world.clock.advance(minutes=10)          # within the cooldown: nothing anywhere
    assert world.send(world.alert()).status == "suppressed"
    world.clock.advance(hours=2)             # after it: a comment, not a second item
    world.send(world.alert(message="the file failed again"))
    assert len(world.boards.items) == 1 and "the file failed again" in world.boards.comments[item][0]

    world.clock.advance(hours=1)
    assert "devops" in world.send(world.alert(severity=Severity.INFO, resolves=True, code="output_recovered")).sent
    assert world.boards.state(item) == "Resolved"
    assert "recovered" in world.boards.items[item]["fields"]["System.History"]


def test_a_new_episode_after_recovery_is_a_new_work_item() -> None:
    world = World()
    world.send(world.alert())
    world.clock.advance(hours=1)
    world.send(world.alert(severity=Severity.INFO, resolves=True, code="output_recovered"))
    world.clock.advance(hours=1)
    world.send(world.alert())
    assert sorted(world.boards.items) == [1, 2]
    assert world.boards.state(1) == "Resolved" and world.boards.state(2) == "New"


@pytest.mark.parametrize(("devops", "state"), [
    ({"type": "Issue"}, "Done"), ({"type": "Task"}, "Done"), ({"type": "Task", "resolved_state": "Closed"}, "Closed")])
def test_the_resolved_state_follows_the_type_unless_configured(devops: dict[str, Any], state: str) -> None:
    world = World({**DEVOPS, **devops})
    world.send(world.alert())
    world.send(world.alert(severity=Severity.INFO, resolves=True, code="output_recovered"))
    assert world.boards.state(1) == state
    assert "Microsoft.VSTS.TCM.ReproSteps" not in world.boards.items[1]["fields"]


def test_alerts_below_the_work_item_minimum_reach_teams_only() -> None:
    world = World()
    outcome = world.send(world.alert(severity=Severity.WARN, code="output_warning"))
    assert outcome.sent == ["teams"] and world.boards.items == {}


def test_a_recovery_without_a_work_item_touches_nothing_in_devops() -> None:
    world = World({**DEVOPS, "min_severity": "fail"})
    world.send(world.alert(severity=Severity.WARN, code="output_warning"))   # teams only: no item
    world.send(world.alert(severity=Severity.INFO, resolves=True, code="output_recovered"))
    assert world.boards.items == {} and "update" not in world.boards.calls


def test_a_create_whose_answer_was_lost_is_found_by_its_tag_not_repeated() -> None:
    world = World()
    world.boards.lose_answer_next = 1
    outcome = world.deliver(world.alert())
    assert outcome.status == "sent" and list(world.boards.items) == [1]
    assert world.boards.calls.count("create") == 1 and len(world.teams.sent) == 1
    record = Ledgers.of(world.deps).work_items.get(world.alert().fingerprint, WORK_ITEM)
    assert record is not None and record.work_item_id == 1


def test_a_worker_that_dies_between_creating_and_recording_leaves_one_work_item() -> None:
    world = World()
    world.boards.crash_after_create = 1
    world.deliver(world.alert())
    assert list(world.boards.items) == [1] and world.boards.calls.count("create") == 1
    world.clock.advance(hours=2)
    world.send(world.alert(message="again"))       # the repeat finds the recorded item
    assert len(world.boards.items) == 1 and len(world.boards.comments[1]) == 1


def test_a_retried_message_skips_the_work_item_it_already_made() -> None:
    world = World()
    world.teams.down = True
    with pytest.raises(alert_dispatcher.DeliveryFailed):
        world.send(world.alert())
    world.teams.down = False
    world.send(world.alert(), attempt=2)
    assert list(world.boards.items) == [1] and world.boards.comments == {}
    assert len(world.teams.sent) == 1


def test_a_work_item_channel_that_keeps_failing_falls_back_to_teams() -> None:
    world = World(teams=False)
    world.boards.down = True
    alert = world.alert()
    for attempt in (1, 2, 3):
        with pytest.raises(alert_dispatcher.DeliveryFailed):
            world.send(alert, attempt)
    assert world.send(alert, 4).sent == ["teams"]
    assert world.boards.items == {} and len(world.teams.sent) == 1


def test_the_work_item_text_is_escaped_html() -> None:
    alert = Alert("scores", "output_failed", Severity.FAIL, "<img src=x onerror=alert(1)>", FixedClock().now(),
                  facts={"<b>": "</td>"}, links=(Link("x", "javascript:alert(1)"),))
    document = documents.create_document(alert, World().deps.config.datasets[0].alerts.devops,  # type: ignore[arg-type]
                                         "autopilot-x")
    description = next(op["value"] for op in document if op["path"] == "/fields/System.Description")
    assert "<img" not in description and "&lt;img" in description and "javascript:" not in description
    assert "&lt;b&gt;" in description and "&lt;/td&gt;" in description


def test_an_episode_tag_differs_per_episode_and_is_stable_per_alert() -> None:
    assert documents.episode_tag("fp", "a") == documents.episode_tag("fp", "a")
    assert documents.episode_tag("fp", "a") != documents.episode_tag("fp", "b")


@pytest.mark.parametrize(("devops", "field"), [
    ({"organization": "https://dev.azure.com/contoso"}, "organization"),
    ({"project": "a/b"}, "project"),
    ({"type": "Epic"}, "type"),
    ({"tags": ["a;b"]}, "tags")])
def test_a_wrong_devops_route_is_a_config_problem_naming_the_field(devops: dict[str, Any], field: str) -> None:
    config, problems = coerce(PipelinesConfig, {"datasets": [{"name": "scores", "alerts": {
        "devops": {**DEVOPS, **devops}}}]})
    if config is not None:
        from shared.core.spec import check

        problems = check(config)
    assert [p.where() for p in problems] == [f"datasets[0].alerts.devops.{field}"]


def test_a_devops_block_in_yaml_is_read_and_a_wrong_type_is_named_with_its_line() -> None:
    from shared.config import parse_pipelines
    from shared.errors import ConfigError

    text = ("version: 1\ndatasets:\n  - name: scores\n    alerts:\n      devops:\n        organization: contoso\n"
            "        project: Data Platform\n        type: {kind}\n        area_path: Data Platform\\ML\n")
    route = parse_pipelines(text.format(kind="Task"), "p.yaml").datasets[0].alerts.devops
    assert route is not None and route.area_path == "Data Platform\\ML" and route.state_on_resolve == "Done"
    with pytest.raises(ConfigError, match=r"p\.yaml:8: datasets\[0\]\.alerts\.devops\.type"):
        parse_pipelines(text.format(kind="Epic"), "p.yaml")


def test_a_second_alert_of_an_episode_waits_for_the_first_ones_work_item_then_comments() -> None:
    world = World()
    world.deps = replace_dispatch(world.deps, cooldown_minutes=0)
    first = world.alert(message="first")
    world.boards.crash_after_create = 1           # the first alert's worker dies after creating
    with pytest.raises(RuntimeError):
        world.send(first)
    world.clock.advance(minutes=1)
    second = world.alert(message="second")
    with pytest.raises(alert_dispatcher.DeliveryFailed):
        world.send(second)                        # the episode's item is being created: wait for it
    world.send(first, attempt=2)                  # the first one's retry finds its item by the tag
    world.send(second, attempt=2)
    assert list(world.boards.items) == [1] and len(world.boards.comments[1]) == 1
    assert "second" in world.boards.comments[1][0]


def test_a_claim_left_by_a_dead_worker_is_taken_over_after_a_while() -> None:
    world = World()
    world.deps = replace_dispatch(world.deps, cooldown_minutes=0)
    world.boards.fail_next = [RuntimeError("the worker died after claiming")]
    with pytest.raises(RuntimeError):
        world.send(world.alert(message="first"))
    world.clock.advance(minutes=6)
    world.send(world.alert(message="second"))
    assert list(world.boards.items) == [1]
    assert "second" in world.boards.items[1]["fields"]["System.Description"]


def test_a_recovery_while_the_item_is_being_created_still_resolves_it() -> None:
    world = World()

    route = world.deps.config.datasets[0].alerts.devops
    assert route is not None
    # The dispatcher sends a recovery only after its episode was delivered; the service holds on its own.
    recovery = world.alert(severity=Severity.INFO, resolves=True, code="output_recovered")

    def recover() -> None:
        work_items.deliver(world.deps, recovery, route, "recovery", world.clock.now())

    world.boards.before_create = recover
    work_items.deliver(world.deps, world.alert(), route, "first", world.clock.now())
    assert list(world.boards.items) == [1] and world.boards.state(1) == "Resolved"


def replace_dispatch(deps: Deps, cooldown_minutes: int) -> Deps:
    from dataclasses import replace
    from datetime import timedelta

    return replace(deps, dispatch=replace(deps.dispatch, cooldown=timedelta(minutes=cooldown_minutes)))
