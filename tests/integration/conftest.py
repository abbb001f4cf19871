"""Integration fixtures: the ADF emulator with a runner pointed at it (Azurite comes from tests/conftest.py)."""

from tests.integration.adf_fixture import emulator, runner  # noqa: F401  (fixtures)
