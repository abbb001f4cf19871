"""The work item channel's outage test over the Azure DevOps emulator and the real adapter: DevOps down
(503) for 10 minutes, then throttled, answers lost after creating items, and a worker that dies between
creating an item and recording it. No alert lost, no work item doubled, every item resolved."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sandbox.devops_emulator import DevOpsEmulator
from shared.adapters.devops import DevOpsWorkItems
from tests.unit.test_work_items_outage import check_nothing_lost_nothing_doubled, outage_world, play, story


class DiesAfterCreating:
    """The real adapter, in a worker that dies right after the next ``dies`` creates returned."""

    def __init__(self, inner: DevOpsWorkItems) -> None:
        self.inner, self.dies = inner, 0

    def find_by_tag(self, organization: str, project: str, tag: str) -> list[int]:
        return self.inner.find_by_tag(organization, project, tag)

    def create(self, organization: str, project: str, work_item_type: str,
               document: Sequence[Mapping[str, Any]]) -> int:
        item = self.inner.create(organization, project, work_item_type, document)
        if self.dies:
            self.dies -= 1
            raise RuntimeError("the worker died after creating the work item")
        return item

    def comment(self, organization: str, project: str, work_item_id: int, text: str) -> None:
        self.inner.comment(organization, project, work_item_id, text)

    def update(self, organization: str, project: str, work_item_id: int,
               document: Sequence[Mapping[str, Any]]) -> None:
        self.inner.update(organization, project, work_item_id, document)


def test_a_devops_outage_over_the_emulator_loses_no_alert_and_doubles_no_work_item() -> None:
    with DevOpsEmulator(organization="contoso", project="Data Platform") as devops:
        waits: list[float] = []
        boards = DiesAfterCreating(DevOpsWorkItems(base_url=devops.url, token_provider=lambda: "t", retries=2,
                                                   sleep=waits.append))
        deps, clock, teams = outage_world(boards)

        def set_down(down: bool) -> None:
            devops.mode.down = down

        def break_creates(minute: int) -> None:
            if minute % 3 == 0:
                devops.mode.lose_answer_next += 1
            elif minute % 3 == 1:
                boards.dies += 1
            else:
                devops.mode.throttle_next, devops.mode.retry_after = 1, 1

        raised = play(deps, clock, 40, story(clock, set_down, break_creates))
        check_nothing_lost_nothing_doubled(raised, teams, devops.items)
        assert devops.mode.lose_answer_next == 0 and boards.dies == 0 and 1.0 in waits
        assert len(devops.items) == 10
