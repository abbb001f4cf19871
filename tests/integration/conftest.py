"""Integration fixtures: Azurite (session) and the ADF emulator with a runner pointed at it."""

from tests.integration.adf_fixture import emulator, runner  # noqa: F401  (fixtures)
from tests.integration.azurite_fixture import azurite  # noqa: F401  (a session fixture)
