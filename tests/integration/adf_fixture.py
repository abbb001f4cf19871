"""The ADF emulator and a ``DataFactoryRunner`` pointed at it, for integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.adf_emulator import ADFEmulator
from sandbox.pipelines.runtime import Pipeline, RunContext
from shared.adapters.data_factory import DataFactoryRunner
from shared.connections import FactoryRef


def _extract_transform(ctx: RunContext) -> None:
    with ctx.activity("Extract", "Copy") as out:
        out["rowsCopied"] = 3
    with ctx.activity("Transform", "Custom"):
        pass


TEST_PIPELINES = {
    "copy_job": Pipeline("copy_job", _extract_transform, required=("batchId",)),
    "other_job": Pipeline("other_job", _extract_transform),
}


@pytest.fixture
def emulator() -> Iterator[ADFEmulator]:
    with ADFEmulator(TEST_PIPELINES, page_size=5) as emu:
        emu.configure(queue_delay=0.0)
        yield emu


def runner_for(emu: ADFEmulator, **knobs: float) -> DataFactoryRunner:
    ref = FactoryRef(emu.subscription_id, emu.resource_group, emu.factory_name, emu.url)
    options = {"retries": 3, "backoff": 0.05, "max_wait": 3.0, "connect_timeout": 2.0, "read_timeout": 5.0}
    return DataFactoryRunner(ref, **{**options, **knobs})  # type: ignore[arg-type]


@pytest.fixture
def runner(emulator: ADFEmulator) -> Iterator[DataFactoryRunner]:
    adapter = runner_for(emulator)
    yield adapter
    adapter.close()
