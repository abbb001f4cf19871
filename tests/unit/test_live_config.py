"""A live pipelines config in a blob: picked up without a redeploy, never replaced by an invalid one."""

from __future__ import annotations

import pytest

from shared import config
from shared.errors import ConfigError, Unavailable
from shared.services.live_config import LiveConfig
from tests.fakes import FixedClock, ListAlertSink, MemoryBlobStore

ONE = "version: 1\ndatasets:\n  - name: scores\n"
TWO = "version: 1\ndatasets:\n  - name: scores\n  - name: orders\n"
BROKEN = "version: 1\ndatasets:\n  - name: scores\n    staleness_typo: {cadence: 1d}\n"


class World:
    def __init__(self) -> None:
        self.clock = FixedClock()
        self.store = MemoryBlobStore(self.clock)
        self.alerts = ListAlertSink()
        first = self.store.put("config", "pipelines.yaml", ONE.encode())
        self.live = LiveConfig(self.store, "config", "pipelines.yaml", config.parse_pipelines(ONE, "first"),
                               first.etag, config.parse_pipelines, self.clock)

    def push(self, text: str) -> None:
        self.store.put("config", "pipelines.yaml", text.encode())

    def names(self) -> list[str]:
        self.clock.advance(seconds=6)
        return [ds.name for ds in self.live.current(self.alerts).datasets]


def test_a_new_valid_version_is_used_from_the_next_invocation() -> None:
    world = World()
    assert world.names() == ["scores"]

    world.push(TWO)

    assert world.names() == ["scores", "orders"]
    assert world.alerts.codes() == []


def test_an_invalid_version_keeps_the_last_good_one_and_says_so_once_naming_line_and_field() -> None:
    world = World()
    world.push(BROKEN)

    assert world.names() == ["scores"]
    assert world.names() == ["scores"]   # asked again: still the good one, no second alert

    [alert] = world.alerts.alerts
    assert alert.code == "config_invalid" and alert.severity.value == "fail"
    assert "blob://config/pipelines.yaml:4" in alert.message and "staleness_typo" in alert.message
    assert "last good version stays in use" in alert.message


def test_a_fix_after_an_invalid_version_is_taken_and_a_second_bad_version_alerts_again() -> None:
    world = World()
    world.push(BROKEN)
    world.names()
    world.push(TWO)
    assert world.names() == ["scores", "orders"]

    world.push(BROKEN + "\n")   # another invalid version: another episode

    assert world.names() == ["scores", "orders"]
    assert world.alerts.codes() == ["config_invalid", "config_invalid"]


def test_the_blob_is_looked_at_no_more_than_every_few_seconds() -> None:
    world = World()
    world.push(TWO)

    world.clock.advance(seconds=1)
    assert [ds.name for ds in world.live.current(world.alerts).datasets] == ["scores"]
    world.clock.advance(seconds=5)
    assert [ds.name for ds in world.live.current(world.alerts).datasets] == ["scores", "orders"]


def test_storage_that_cannot_be_reached_keeps_the_last_good_version() -> None:
    world = World()

    class Down(MemoryBlobStore):
        def get_blob_info(self, container: str, name: str) -> object:
            raise Unavailable("storage is down")

    world.live._store = Down()

    assert world.names() == ["scores"] and world.alerts.codes() == []


@pytest.mark.parametrize("value", ["blob://", "blob://UPPER/x.yaml", "blob://config", "blob://config/dir/"])
def test_a_blob_setting_that_names_no_blob_is_an_error_saying_how_to_write_it(value: str) -> None:
    with pytest.raises(ConfigError, match=r"blob://<container>/<path>\.yaml"):
        config.blob_location(value)


def test_a_path_is_not_a_blob_and_a_blob_names_its_container_and_path() -> None:
    assert config.blob_location("pipelines.yaml") is None
    assert config.blob_location("blob://config/envs/prod.yaml") == ("config", "envs/prod.yaml")
