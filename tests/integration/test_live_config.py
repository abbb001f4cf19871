"""PIPELINES_CONFIG=blob://...: `autopilot config push` validates and uploads, the app picks it up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.azurite import Azurite
from shared import bootstrap
from shared.adapters.storage import AzureBlobStore
from shared.connections import StorageTarget

ROOT = Path(__file__).resolve().parents[2]
ONE = "version: 1\ndatasets:\n  - name: scores\n"
TWO = "version: 1\ndatasets:\n  - name: scores\n  - name: orders\n"
BROKEN = "version: 1\ndatasets:\n  - name: scores\n    output: {container: elsewhere, prefix: x}\n"


def push(settings_file: Path, config_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", "config", "push", str(config_file),
                           "--settings", str(settings_file)], cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_a_pushed_config_is_used_without_a_redeploy_and_an_invalid_one_is_never_uploaded(
        azurite: Azurite, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"AzureWebJobsStorage": azurite.connection_string, "PIPELINES_CONFIG": f"blob://cfg{unique}/pipelines.yaml",
           "STATE_TABLE_PREFIX": f"live{unique}"[:30].replace("-", "")}
    store = AzureBlobStore(StorageTarget(connection_string=azurite.connection_string))
    store.write_bytes(f"cfg{unique}", "pipelines.yaml", ONE.encode())
    settings_file = tmp_path / "local.settings.json"
    settings_file.write_text(json.dumps({"Values": env}))
    monkeypatch.setattr(bootstrap, "LIVE_CONFIG_POLL_SECONDS", 0.0)
    deps, live = bootstrap._build(env)
    assert [ds.name for ds in deps.config.datasets] == ["scores"]

    (tmp_path / "broken.yaml").write_text(BROKEN)
    refused = push(settings_file, tmp_path / "broken.yaml")
    (tmp_path / "two.yaml").write_text(TWO)
    pushed = push(settings_file, tmp_path / "two.yaml")

    assert refused.returncode == 3 and "broken.yaml" in refused.stderr and "OUTPUT_CONTAINER" in refused.stderr
    assert pushed.returncode == 0, pushed.stderr
    assert "pushed" in pushed.stderr and f"blob://cfg{unique}/pipelines.yaml" in pushed.stderr
    assert [ds.name for ds in live.current(deps.alerts).datasets] == ["scores", "orders"]


def test_check_config_reads_a_live_config_from_its_blob(azurite: Azurite, unique: str, tmp_path: Path) -> None:
    env = {"AzureWebJobsStorage": azurite.connection_string, "PIPELINES_CONFIG": f"blob://cfg{unique}/p.yaml"}
    AzureBlobStore(StorageTarget(connection_string=azurite.connection_string)).write_bytes(
        f"cfg{unique}", "p.yaml", TWO.encode())
    settings_file = tmp_path / "local.settings.json"
    settings_file.write_text(json.dumps({"Values": env}))

    result = subprocess.run([sys.executable, "-m", "cli.main", "check-config", "--settings", str(settings_file)],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert "2 dataset(s): scores, orders" in result.stderr
