"""Integration fixtures: the ADF emulator with a runner pointed at it, and Azurite when no one else has it.

The root conftest's ``azurite`` fixture needs ``sandbox.azurite``; until that module exists, the
self-contained ``tests/integration/azurite_fixture.py`` stands in for it.
"""

import importlib.util

from tests.integration.adf_fixture import emulator, runner  # noqa: F401  (fixtures)

if importlib.util.find_spec("sandbox.azurite") is None:
    from tests.integration.azurite_fixture import azurite  # noqa: F401  (a session fixture)
