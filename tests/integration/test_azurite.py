"""The project's Azurite manager: installed once, started on free ports, gone after stop."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from azure.storage.queue import QueueServiceClient

from sandbox.azurite import AZURITE_VERSION, Azurite, AzuriteError, ensure_installed, installed_version


def refuses(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return False
    except OSError:
        return True


def test_azurite_serves_its_connection_string_and_leaves_nothing_behind_when_stopped() -> None:
    with Azurite() as emulator:
        service = QueueServiceClient.from_connection_string(emulator.connection_string, retry_total=1)
        service.create_queue("manager-check")
        names = [q.name for q in service.list_queues()]
        ports, location = dict(emulator.ports), emulator.location

    assert names == ["manager-check"]
    assert len(set(ports.values())) == 3
    assert all(refuses(port) for port in ports.values())
    assert location is not None
    assert not location.exists()   # a temporary data directory is removed with the process
    assert not emulator.running


def test_ensure_installed_reuses_the_pinned_install_without_npm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")   # npm could not run even if it were needed

    binary = ensure_installed()

    assert binary.name == "azurite"
    assert installed_version() == AZURITE_VERSION


def test_a_missing_npm_is_a_clear_error_naming_what_to_install(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", "")

    with pytest.raises(AzuriteError, match=r"Node\.js 20 and npm"):
        ensure_installed(tmp_path / "tools")
