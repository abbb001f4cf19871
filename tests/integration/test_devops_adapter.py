"""The Azure DevOps work items adapter against the sandbox's emulator, over real sockets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.devops_emulator import DevOpsEmulator
from shared.adapters.devops import DevOpsWorkItems, check_endpoint
from shared.core import work_items as documents
from shared.core.models import Alert, Severity
from shared.core.spec import DevOpsRoute
from shared.errors import ConfigError, NotFound, Rejected, Throttled, Unavailable
from tests.fakes import FixedClock

ORG, PROJECT = "contoso", "Data Platform"
TOKEN = "secret-token-value"
ROUTE = DevOpsRoute(ORG, PROJECT, "Bug", area_path="Data Platform\\ML")


@pytest.fixture
def devops() -> Iterator[DevOpsEmulator]:
    with DevOpsEmulator(organization=ORG, project=PROJECT) as emulator:
        yield emulator


def client(devops: DevOpsEmulator, sleeps: list[float] | None = None, retries: int = 3) -> DevOpsWorkItems:
    waits = sleeps if sleeps is not None else []
    return DevOpsWorkItems(base_url=devops.url, token_provider=lambda: TOKEN, retries=retries,
                           sleep=waits.append)


def alert(message: str = "the file failed") -> Alert:
    return Alert("scores", "output_failed", Severity.FAIL, message, FixedClock().now(), subject="f.csv")


def test_a_work_item_is_created_found_by_its_tag_commented_and_resolved(devops: DevOpsEmulator) -> None:
    boards = client(devops)
    tag = documents.episode_tag(alert().fingerprint, "one")
    item = boards.create(ORG, PROJECT, "Bug", documents.create_document(alert(), ROUTE, tag))
    fields = devops.fields(item)
    assert fields["System.WorkItemType"] == "Bug" and fields["System.State"] == "New"
    assert fields["System.AreaPath"] == "Data Platform\\ML" and tag in fields["System.Tags"]
    assert boards.find_by_tag(ORG, PROJECT, tag) == [item]
    assert boards.find_by_tag(ORG, PROJECT, documents.episode_tag(alert().fingerprint, "two")) == []
    boards.comment(ORG, PROJECT, item, documents.repeat_comment(alert("again")))
    assert "again" in devops.comments[item][0]["text"]
    boards.update(ORG, PROJECT, item, documents.resolve_document(alert(), ROUTE.state_on_resolve))
    assert devops.fields(item)["System.State"] == "Resolved"


def test_a_throttled_create_waits_as_told_and_is_sent_again(devops: DevOpsEmulator) -> None:
    sleeps: list[float] = []
    devops.mode.throttle_next, devops.mode.retry_after = 2, 3
    item = client(devops, sleeps).create(ORG, PROJECT, "Task", documents.create_document(alert(), ROUTE, "t"))
    assert sleeps == [3.0, 3.0] and list(devops.items) == [item]


def test_a_create_is_not_repeated_after_a_server_error(devops: DevOpsEmulator) -> None:
    devops.mode.lose_answer_next = 1
    with pytest.raises(Unavailable):
        client(devops).create(ORG, PROJECT, "Bug", documents.create_document(alert(), ROUTE, "t"))
    assert len(devops.items) == 1 and devops.count("POST", "/workitems/") == 1


def test_reads_and_state_updates_are_retried_after_a_server_error(devops: DevOpsEmulator) -> None:
    boards = client(devops)
    item = boards.create(ORG, PROJECT, "Bug", documents.create_document(alert(), ROUTE, "t"))
    devops.mode.fail_next = 2
    assert boards.find_by_tag(ORG, PROJECT, "t") == [item]
    devops.mode.fail_next = 1
    boards.update(ORG, PROJECT, item, documents.resolve_document(alert(), "Closed"))
    assert devops.fields(item)["System.State"] == "Closed"


def test_a_comment_is_not_repeated_after_a_server_error(devops: DevOpsEmulator) -> None:
    boards = client(devops)
    item = boards.create(ORG, PROJECT, "Bug", documents.create_document(alert(), ROUTE, "t"))
    devops.mode.fail_next = 1
    with pytest.raises(Unavailable):
        boards.comment(ORG, PROJECT, item, "again")
    assert devops.count("POST", "/comments") == 1


def test_a_state_the_type_does_not_have_is_rejected_with_the_reason(devops: DevOpsEmulator) -> None:
    boards = client(devops)
    item = boards.create(ORG, PROJECT, "Issue", documents.create_document(alert(), ROUTE, "t"))
    with pytest.raises(Rejected, match="not a state of a Issue") as caught:
        boards.update(ORG, PROJECT, item, documents.resolve_document(alert(), "Resolved"))
    assert caught.value.status == 400


def test_an_unknown_project_or_type_is_named_and_the_token_never_is(devops: DevOpsEmulator) -> None:
    with pytest.raises(NotFound, match="does not exist") as caught:
        client(devops).find_by_tag(ORG, "Elsewhere", "t")
    with pytest.raises(NotFound, match="Epic") as caught_type:
        client(devops).create(ORG, PROJECT, "Epic", documents.create_document(alert(), ROUTE, "t"))
    assert TOKEN not in str(caught.value) and TOKEN not in str(caught_type.value)


def test_throttling_beyond_the_budget_is_throttled_with_its_wait(devops: DevOpsEmulator) -> None:
    devops.mode.throttle_next, devops.mode.retry_after = 5, 1
    with pytest.raises(Throttled) as caught:
        client(devops, retries=1).find_by_tag(ORG, PROJECT, "t")
    assert caught.value.retry_after == 1.0


def test_a_token_may_travel_only_over_https_or_to_loopback() -> None:
    assert check_endpoint("https://dev.azure.com/") == "https://dev.azure.com"
    with pytest.raises(ConfigError):
        check_endpoint("http://dev.azure.com")
