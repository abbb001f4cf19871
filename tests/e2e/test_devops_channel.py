"""The devops alert channel on the local host: an alert on the queue becomes one work item in the
Azure DevOps emulator (next to the Teams card), and its recovery resolves it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.stack import ROOT, Stack
from shared.core.models import Alert, Severity


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("devops")
    config = yaml.safe_load((ROOT / "pipelines.yaml").read_text())
    config["datasets"][0]["alerts"]["devops"] = {"organization": "contoso", "project": "Data Platform",
                                                 "type": "Issue", "min_severity": "fail"}
    path = Path(workdir / "pipelines.yaml")
    path.write_text(yaml.safe_dump(config))
    with Stack(workdir, pipelines_config=path) as running:
        yield running


def eventually(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def test_an_alert_becomes_one_work_item_and_its_recovery_resolves_it(stack: Stack) -> None:
    dataset = stack.deps.config.datasets[0].name
    now = stack.deps.clock.now()
    stack.deps.alerts.emit(Alert(dataset, "upstream_late", Severity.FAIL, "no upstream files since yesterday", now,
                                 topic="upstream_staleness"))
    eventually(lambda: stack.devops.items, 30, "a work item")
    eventually(lambda: any("upstream late" in str(c) for c in stack.teams.cards), 30, "the Teams card")
    (item,) = stack.devops.items
    assert stack.devops.fields(item)["System.WorkItemType"] == "Issue"
    assert "no upstream files since yesterday" in stack.devops.fields(item)["System.Description"]
    stack.deps.alerts.emit(Alert(dataset, "upstream_recovered", Severity.INFO, "upstream files arrived", now,
                                 topic="upstream_staleness", resolves=True))
    eventually(lambda: stack.devops.fields(item)["System.State"] == "Done", 30, "the work item resolved")
    assert len(stack.devops.items) == 1 and stack.devops.count("POST", "/workitems/") == 1
