"""One Azurite for the whole test session (the lead folds this into the shared conftest)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.azurite import Azurite


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    with Azurite() as emulator:
        yield emulator


@pytest.fixture(scope="session")
def storage_connection(azurite: Azurite) -> str:
    return azurite.connection_string
