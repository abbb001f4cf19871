"""Fixtures shared by every tier. Azurite is started once per session, on free ports, when asked for."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from shared.connections import StorageTarget

if TYPE_CHECKING:
    from sandbox.azurite import Azurite


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    from sandbox.azurite import Azurite

    with Azurite(tmp_path_factory.mktemp("azurite"), in_memory=True) as server:
        yield server


@pytest.fixture
def storage(azurite: Azurite) -> StorageTarget:
    return StorageTarget(connection_string=azurite.connection_string)


@pytest.fixture
def unique() -> str:
    """A fresh lowercase name part, so tests sharing one Azurite never see each other's data."""
    return "t" + uuid.uuid4().hex[:12]
