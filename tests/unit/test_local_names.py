"""One local factory: the ADF emulator's defaults, the example settings and `make up` name the same one,
so the first batch of a hand-run sandbox reaches the factory instead of a 404 nobody sees."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest

from sandbox import local_factory, up
from sandbox.adf_emulator import ADFEmulator
from shared.core.spec import PipelinesConfig
from shared.core.typed import coerce

ROOT = Path(__file__).resolve().parents[2]


def test_the_example_settings_name_the_emulators_factory() -> None:
    values = json.loads((ROOT / "local.settings.example.json").read_text())["Values"]
    assert (values["ADF_SUBSCRIPTION_ID"], values["ADF_RESOURCE_GROUP"], values["ADF_FACTORY_NAME"]) == (
        local_factory.SUBSCRIPTION_ID, local_factory.RESOURCE_GROUP, local_factory.FACTORY_NAME)


def test_the_emulator_answers_to_the_local_factory_by_default() -> None:
    defaults = {name: p.default for name, p in inspect.signature(ADFEmulator).parameters.items()}
    assert (defaults["subscription_id"], defaults["resource_group"], defaults["factory_name"]) == (
        local_factory.SUBSCRIPTION_ID, local_factory.RESOURCE_GROUP, local_factory.FACTORY_NAME)


def test_the_land_command_keeps_the_connection_string_whole_inside_the_shells_quotes() -> None:
    connection = "DefaultEndpointsProtocol=http;AccountName=a;AccountKey=k/+==;BlobEndpoint=http://127.0.0.1:1/a;"
    command = up.land_command(connection, ".venv/bin/python")
    assert command.startswith('.venv/bin/python -c "') and command.endswith('"')
    assert f"'{connection}'" in command and command.count('"') == 2


def test_a_name_the_shell_would_change_gets_no_land_command_rather_than_a_wrong_one() -> None:
    with pytest.raises(ValueError, match="one shell line"):
        up.land_command("AccountName=a;AccountKey=k", ".venv/bin/python", folder="raw/$HOME/%Y/")


def test_the_land_command_writes_where_the_configs_first_watched_dataset_looks() -> None:
    config, problems = coerce(PipelinesConfig, {"datasets": [
        {"name": "unwatched"},
        {"name": "sales", "upstream": {"container": "landing", "prefix": "/in/sales/",
                                       "partition": "{yyyy}/{MM}/{dd}/{HH}", "batch": {"marker": "_DONE"}},
         "pipeline": {"name": "score_batch", "parameters": {"batchId": "{batch_id}"}}}]})
    assert config is not None, problems
    assert up.landing(config) == ("landing", "in/sales/%Y/%m/%d/%H/", "_DONE")
    assert up.landing(coerce(PipelinesConfig, {"datasets": [{"name": "unwatched"}]})[0]) is None  # type: ignore[arg-type]
