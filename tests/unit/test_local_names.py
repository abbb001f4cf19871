"""One local factory: the ADF emulator's defaults, the example settings and `make up` name the same one,
so the first batch of a hand-run sandbox reaches the factory instead of a 404 nobody sees."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

from sandbox import local_factory
from sandbox.adf_emulator import ADFEmulator

ROOT = Path(__file__).resolve().parents[2]


def test_the_example_settings_name_the_emulators_factory() -> None:
    values = json.loads((ROOT / "local.settings.example.json").read_text())["Values"]
    assert (values["ADF_SUBSCRIPTION_ID"], values["ADF_RESOURCE_GROUP"], values["ADF_FACTORY_NAME"]) == (
        local_factory.SUBSCRIPTION_ID, local_factory.RESOURCE_GROUP, local_factory.FACTORY_NAME)


def test_the_emulator_answers_to_the_local_factory_by_default() -> None:
    defaults = {name: p.default for name, p in inspect.signature(ADFEmulator).parameters.items()}
    assert (defaults["subscription_id"], defaults["resource_group"], defaults["factory_name"]) == (
        local_factory.SUBSCRIPTION_ID, local_factory.RESOURCE_GROUP, local_factory.FACTORY_NAME)

