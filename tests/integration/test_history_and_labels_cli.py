"""``autopilot history import / export``, ``label`` and ``snooze`` on Azurite with the app's adapters:
existing outputs become history the guard judges from day one, labels teach it, snoozes silence it."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cli.main import main
from sandbox.azurite import Azurite
from shared import bootstrap
from shared.core.history import parse_observation
from shared.services import alert_dispatcher, output_guard
from shared.services.deps import Deps
from shared.services.ledgers import Ledgers
from tests.fakes import ListAlertSink

TODAY = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0)


def csv(rows: int) -> bytes:
    return ("id,score\n" + "".join(f"{i},0.{i % 10}\n" for i in range(rows))).encode()


@pytest.fixture
def settings(tmp_path: Path, azurite: Azurite, unique: str) -> Path:
    config = tmp_path / "pipelines.yaml"
    config.write_text(
        "datasets:\n"
        "  - name: scores\n"
        "    output:\n"
        f"      container: {unique}\n"
        "      prefix: scores\n"
        "      contract:\n"
        "        format: csv\n"
        "        columns: {id: {type: integer}, score: {type: float}}\n")
    values = {"AzureWebJobsStorage": azurite.connection_string, "STATE_TABLE_PREFIX": unique,
              "OUTPUT_CONTAINER": unique, "PIPELINES_CONFIG": str(config)}
    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps({"Values": values}))
    return path


def deps_of(settings: Path) -> Deps:
    return bootstrap.build_deps(json.loads(settings.read_text())["Values"])


def day_name(days_ago: int, part: str = "part-0.csv") -> str:
    return f"scores/{TODAY - timedelta(days=days_ago):%Y/%m/%d}/{part}"


def seed_outputs(deps: Deps, container: str) -> None:
    for d in range(1, 22):                      # three weeks of ~1,000-row files, before today
        deps.data.write_bytes(container, day_name(d), csv(1000 + (d % 3) * 10))
    deps.data.write_bytes(container, day_name(3, "_SUCCESS"), b"")
    deps.data.write_bytes(container, f"scores/_reports/{TODAY - timedelta(days=3):%Y/%m/%d}/x.report.json", b"{}")
    deps.data.write_bytes(container, day_name(60), csv(1000))   # outside --since 30d


def test_history_import_profiles_existing_outputs_once_and_the_guard_judges_from_day_one(
        settings: Path, unique: str, capsys: pytest.CaptureFixture[str]) -> None:
    deps = deps_of(settings)
    seed_outputs(deps, unique)
    assert main(["history", "import", "--dataset", "scores", "--since", "30d", "--settings", str(settings)]) == 0
    assert "21 output file(s)" in capsys.readouterr().err
    assert main(["history", "import", "--dataset", "scores", "--since", "30d", "--settings", str(settings)]) == 0
    rows = Ledgers.of(deps).history.query("scores|output")
    assert len(rows) == 21                                      # importing again writes the same rows
    # Written just now, long after their partition's day: they are dated by the partition in their path.
    times = {r.parsed().name: r.parsed().ts for r in rows}
    assert all(times[day_name(d)] == (TODAY - timedelta(days=d)).replace(hour=0) for d in range(3, 22))

    name = day_name(0)
    deps.data.write_bytes(unique, name, csv(300))
    outcome = output_guard.validate_blob(deps, unique, name, datetime.now(UTC))
    assert "rows_anomaly" in outcome.codes and "insufficient_history" not in outcome.codes


def test_history_export_writes_observation_lines_backtest_reads_with_labels(
        settings: Path, unique: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    deps = deps_of(settings)
    seed_outputs(deps, unique)
    main(["history", "import", "--dataset", "scores", "--settings", str(settings)])
    out = tmp_path / "history.jsonl"
    assert main(["history", "export", "--dataset", "scores", "--since", "30d", "--settings", str(settings),
                 "--out", str(out)]) == 0
    lines = [parse_observation(line) for line in out.read_text().splitlines()]
    assert len(lines) == 21 and [o.ts for o in lines] == sorted(o.ts for o in lines)
    assert all(o.rows is not None and o.rows >= 1000 for o in lines)
    config = tmp_path / "backtest.yaml"
    config.write_text("datasets: [{name: scores}]\n")
    capsys.readouterr()
    assert main(["backtest", str(out), "--config", str(config), "--json"]) in (0, 1, 2)


def test_labelling_a_jump_expected_makes_it_the_new_normal_for_the_next_file(
        settings: Path, unique: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    sink = ListAlertSink()           # the app's queue is shared by the tests: read what the guard emits here
    deps = replace(deps_of(settings), alerts=sink)
    seed_outputs(deps, unique)
    main(["history", "import", "--dataset", "scores", "--settings", str(settings)])
    jump = day_name(0, "part-jump.csv")   # a new file (labels follow the file's name)
    time.sleep(1.1)                  # blob times have whole seconds: the jump is written after the seeded files
    deps.data.write_bytes(unique, jump, csv(3000))
    now = datetime.now(UTC)
    assert "rows_anomaly" in output_guard.validate_blob(deps, unique, jump, now).codes
    [alert] = [a for a in sink.alerts if a.subject == jump]
    alert_dispatcher.dispatch(deps, alert.to_json(), 1, now)     # no channel here: recorded, suppressed
    capsys.readouterr()
    assert main(["label", alert.fingerprint, "--expected", "--settings", str(settings)]) == 0
    assert "labelled expected" in capsys.readouterr().err
    assert main(["status", "--settings", str(settings), "--json"]) == 0
    [shown] = [a for a in json.loads(capsys.readouterr().out)["datasets"][0]["alerts"]
               if a["fingerprint"] == alert.fingerprint]
    assert shown["label"] == "expected"                        # the status view shows the label too
    after = day_name(0, "part-1.csv")
    time.sleep(1.1)                  # blob times have whole seconds: the next file is written after the jump
    deps.data.write_bytes(unique, after, csv(3010))
    codes = output_guard.validate_blob(deps, unique, after, datetime.now(UTC) + timedelta(seconds=1)).codes
    assert "rows_anomaly" not in codes and "level_shift" not in codes
    out = tmp_path / "h.jsonl"
    main(["history", "export", "--settings", str(settings), "--out", str(out)])
    assert [json.loads(x).get("label") for x in out.read_text().splitlines()
            if json.loads(x)["name"] == jump] == ["expected"]


def test_snooze_silences_an_alert_kind_in_the_dispatcher_and_bad_input_is_exit_3(
        settings: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["snooze", "scores", "output_failed", "--for", "2h", "--settings", str(settings)]) == 0
    assert "snoozed until" in capsys.readouterr().err
    from shared.core.models import Alert, Severity

    deps = deps_of(settings)
    alert = Alert("scores", "output_failed", Severity.FAIL, "m", datetime.now(UTC), subject="f.csv")
    assert alert_dispatcher.dispatch(deps, alert.to_json(), 1, datetime.now(UTC)).reason == "snoozed"
    for argv in (["snooze", "scores", "--for", "2x"], ["snooze", "scores", "no_such_code", "--for", "2h"],
                 ["snooze", "nope", "--for", "2h"], ["snooze", "scores", "--for", "90d"],
                 ["label", "0" * 20, "--expected"], ["label", "abc"],
                 ["history", "import", "--dataset", "nope"], ["history", "import", "--dataset", "scores",
                                                              "--since", "soon"]):
        assert main([*argv, "--settings", str(settings)]) == 3, argv
        err = capsys.readouterr().err
        assert "Traceback" not in err and err.strip(), argv
