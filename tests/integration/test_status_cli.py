"""``autopilot status`` on Azurite: state written through the ledgers, read back by the command with the
app's own adapters, as text and as one JSON document."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cli.main import main
from sandbox.azurite import Azurite
from shared import bootstrap
from tests import status_world


def settings_file(tmp_path: Path, azurite: Azurite, prefix: str) -> Path:
    values = {"AzureWebJobsStorage": azurite.connection_string, "ADF_SUBSCRIPTION_ID": "s",
              "ADF_RESOURCE_GROUP": "r", "ADF_FACTORY_NAME": "f", "STATE_TABLE_PREFIX": prefix,
              "PIPELINES_CONFIG": str(Path(__file__).resolve().parents[2] / "pipelines.yaml")}
    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps({"Values": values}))
    return path


@pytest.fixture
def seeded(tmp_path: Path, azurite: Azurite, unique: str) -> Path:
    path = settings_file(tmp_path, azurite, unique)
    deps = bootstrap.build_deps(json.loads(path.read_text())["Values"])
    status_world.seed(deps, "scores", datetime.now(UTC), days=12)
    return path


def test_status_prints_each_batch_with_its_run_outputs_refresh_and_alerts(
        seeded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["status", "--settings", str(seeded), "--since", "3d"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "scores  [FAIL]" in out
    assert out.count("  batch ") in (2, 3)                  # one a day at 06:00 within 3 days
    assert "outputs fail: 1/1 files judged; failing: part-0.csv" in out
    assert "refresh 00000000" not in out and "refresh pbi-1: held (outputs failed: part-0.csv)" in out
    assert "SLOW" in out and "output_failed via teams: sent" in out
    assert "LATE upstream: nothing since" in out or "upstream: last" in out   # late after 18:00 UTC


def test_status_json_is_one_document_with_every_batch_in_the_window(
        seeded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["status", "--settings", str(seeded), "--dataset", "scores", "--json", "--since", "30d"])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    [ds] = doc["datasets"]
    assert ds["name"] == "scores" and len(ds["batches"]) == 12
    latest = ds["batches"][0]
    assert latest["run"]["slow"] and latest["run"]["band"]["runs"] >= 5
    assert [r["state"] for r in ds["batches"][1]["refreshes"]] == ["Completed"]


def test_an_unknown_dataset_or_a_bad_window_is_exit_3_with_one_message(
        seeded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--settings", str(seeded), "--dataset", "nope"]) == 3
    assert "no dataset 'nope' in the config (it has: scores)" in capsys.readouterr().err
    assert main(["status", "--settings", str(seeded), "--since", "forever"]) == 3
    assert "--since:" in capsys.readouterr().err
