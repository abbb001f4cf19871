"""Configuration: every problem reported at once, with the setting, or file, line and field."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from shared import config
from shared import settings as settings_reader
from shared.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
GOOD_ENV = {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "ADF_SUBSCRIPTION_ID": "sub",
            "ADF_RESOURCE_GROUP": "rg", "ADF_FACTORY_NAME": "adf"}


def problems_of(yaml_text: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "pipelines.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as info:
        config.load_pipelines(path)
    return list(info.value.problems)


def test_the_shipped_demo_config_is_valid() -> None:
    pipelines = config.load_pipelines(ROOT / "pipelines.yaml")
    assert [ds.name for ds in pipelines.datasets] == ["scores"]


def test_settings_defaults_apply_when_unset() -> None:
    settings = settings_reader.load_settings(GOOD_ENV)
    assert settings.upstream_schedule.expression == "0 0 * * * *"
    assert settings.pipelines_config == "pipelines.yaml"
    assert settings.factory is not None and settings.factory.endpoint == "https://management.azure.com"


def test_identity_based_storage_needs_no_connection_string() -> None:
    env = {"AzureWebJobsStorage__accountName": "stapp", "AZURE_CLIENT_ID": "cid"}
    settings = settings_reader.load_settings(env)
    assert settings.app_storage.account_name == "stapp" and settings.app_storage.client_id == "cid"
    assert settings.app_storage.endpoint("table") == "https://stapp.table.core.windows.net"


def test_every_bad_setting_is_named_in_one_error() -> None:
    env = {"UPSTREAM_SCHEDULE": "0 0 12 * * 7", "CLAIM_TIMEOUT": "soon", "ADF_FACTORY_NAME": "adf"}
    with pytest.raises(ConfigError) as info:
        settings_reader.load_settings(env)
    text = str(info.value)
    assert "AzureWebJobsStorage: not set" in text
    assert "UPSTREAM_SCHEDULE: NCRONTAB '0 0 12 * * 7', day-of-week field: 7 is outside 0-6" in text
    assert "CLAIM_TIMEOUT: expected a duration" in text
    assert "ADF_SUBSCRIPTION_ID, ADF_RESOURCE_GROUP: not set" in text
    assert len(info.value.problems) == 4


def test_schedules_are_checked_as_the_functions_host_reads_them() -> None:
    five_fields = settings_reader.load_settings({**GOOD_ENV, "UPSTREAM_SCHEDULE": "0 * * * *"})
    assert five_fields.upstream_schedule.seconds == (0,)          # the host takes five fields too
    with pytest.raises(ConfigError) as info:
        settings_reader.load_settings({**GOOD_ENV, "FOLLOWUP_SCHEDULE": "00:05:00"})
    assert list(info.value.problems) == [
        "FOLLOWUP_SCHEDULE: '00:05:00' is a TimeSpan, which the Functions host runs only on App Service plans "
        "(Flex Consumption refuses to start, AZFD0015); write the NCRONTAB '0 */5 * * * *' (it fires on the "
        "clock, where a TimeSpan counts from start-up)"]


def test_unknown_fields_and_wrong_types_name_file_line_and_field(tmp_path: Path) -> None:
    problems = problems_of(
        "datasets:\n"
        "  - name: scores\n"
        "    upstream:\n"
        "      container: upstream\n"
        "      lookback: forever\n"
        "      batch: {marker: 3, colour: red}\n", tmp_path)
    source = str(tmp_path / "pipelines.yaml")
    assert f"{source}:5: datasets[0].upstream.lookback: expected a duration such as 15m, 1h or 7d, " \
           "got 'forever'" in problems
    assert any(p.startswith(f"{source}:6: datasets[0].upstream.batch.colour: unknown field 'colour'")
               for p in problems)
    assert f"{source}:6: datasets[0].upstream.batch.marker: expected a string, got the number 3" in problems


def test_a_missing_required_field_points_at_its_parent(tmp_path: Path) -> None:
    problems = problems_of("datasets:\n  - name: scores\n    output:\n      prefix: x\n", tmp_path)
    assert problems == [f"{tmp_path / 'pipelines.yaml'}:3: datasets[0].output.container: "
                        "required field 'container' is missing"]


def test_bad_yaml_names_the_line_and_column(tmp_path: Path) -> None:
    problems = problems_of("datasets:\n  - name: scores\n    upstream: {container: [\n", tmp_path)
    assert len(problems) == 1 and ":4:1: not valid YAML" in problems[0]


def test_duplicate_keys_are_problems_not_silent_overrides(tmp_path: Path) -> None:
    problems = problems_of("datasets:\n  - name: a\n    name: b\n", tmp_path)
    assert any(":3: datasets[0].name: duplicate key 'name'" in p for p in problems)


def test_cross_field_rules_are_checked(tmp_path: Path) -> None:
    problems = problems_of(
        "datasets:\n"
        "  - name: scores\n"
        "    upstream: {container: up}\n"
        "    pipeline: {name: p, parameters: {x: '{nope}'}}\n"
        "  - name: scores\n", tmp_path)
    text = "\n".join(problems)
    assert "unknown placeholder(s) {nope}" in text
    assert "one parameter must be exactly '{batch_id}'" in text
    assert "dataset 'scores' is declared twice" in text


def test_partition_pattern_mistakes_are_explained(tmp_path: Path) -> None:
    problems = problems_of("datasets:\n  - name: s\n    upstream: {container: up, partition: '{yyyy}/{dd}'}\n",
                           tmp_path)
    assert "date tokens must run {yyyy} then {MM}" in problems[0]


def test_backtest_needs_only_dataset_names(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("datasets: [{name: scores}]\n")
    pipelines = config.load_pipelines(path)
    assert pipelines.datasets[0].upstream is None


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=60, env={"PATH": "/usr/bin:/bin"})


def test_check_config_lists_every_problem_with_exit_3_and_no_traceback(tmp_path: Path) -> None:
    settings = tmp_path / "local.settings.json"
    settings.write_text(json.dumps({"Values": {"UPSTREAM_SCHEDULE": "every hour"}}))
    bad = tmp_path / "pipelines.yaml"
    bad.write_text("datasets:\n  - name: scores\n    upstream: {container: up, lookback: 1 fortnight}\n")
    result = run_cli("check-config", "--settings", str(settings), "--pipelines", str(bad))
    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    assert "AzureWebJobsStorage: not set" in result.stderr
    assert "UPSTREAM_SCHEDULE: NCRONTAB 'every hour' has 2 fields" in result.stderr
    assert f"{bad}:3: datasets[0].upstream.lookback" in result.stderr


def test_check_config_reports_a_broken_settings_file_by_line(tmp_path: Path) -> None:
    settings = tmp_path / "local.settings.json"
    settings.write_text('{"Values": {\n  "A": "b",\n}}')
    result = run_cli("check-config", "--settings", str(settings))
    assert result.returncode == 3 and f"{settings}:2:11: not valid JSON: Illegal trailing comma" in result.stderr


def test_check_config_accepts_the_example_settings() -> None:
    result = run_cli("check-config", "--settings", str(ROOT / "local.settings.example.json"))
    assert result.returncode == 0, result.stderr
    assert "1 dataset(s): scores" in result.stderr
    # The next firings as the host computes them: hourly and every five minutes, on the clock.
    upstream = re.search(r"upstream schedule: '0 0 \* \* \* \*', next \(UTC\): (.*)", result.stderr)
    followup = re.search(r"followup schedule: '0 \*/5 \* \* \* \*', next \(UTC\): (.*)", result.stderr)
    assert upstream and followup, result.stderr
    hourly = [datetime.strptime(t, "%a %Y-%m-%d %H:%M:%S") for t in upstream.group(1).split(", ")]
    five = [datetime.strptime(t, "%a %Y-%m-%d %H:%M:%S") for t in followup.group(1).split(", ")]
    assert [(t.minute, t.second) for t in hourly] == [(0, 0)] * 3 and hourly[2] - hourly[0] == timedelta(hours=2)
    assert all(t.minute % 5 == 0 and t.second == 0 for t in five) and five[2] - five[0] == timedelta(minutes=10)


def test_check_config_refuses_a_claim_timeout_a_start_with_retries_can_outlive(tmp_path: Path) -> None:
    example = json.loads((ROOT / "local.settings.example.json").read_text())
    example["Values"]["CLAIM_TIMEOUT"] = "5m"
    settings = tmp_path / "local.settings.json"
    settings.write_text(json.dumps(example))

    result = run_cli("check-config", "--settings", str(settings))

    assert result.returncode == 3 and "Traceback" not in result.stderr
    assert "CLAIM_TIMEOUT: 0:05:00 is not longer than" in result.stderr and "set at least" in result.stderr


def test_history_holidays_are_dates_and_a_wrong_one_is_named() -> None:
    from datetime import date

    from shared.core.spec import HistorySpec
    from shared.core.typed import coerce

    spec, problems = coerce(HistorySpec, {"holidays": [date(2026, 12, 25), "2027-01-01"]})
    assert problems == [] and spec is not None
    assert spec.holidays.dates == {date(2026, 12, 25), date(2027, 1, 1)}
    _, problems = coerce(HistorySpec, {"holidays": ["2026-02-30"]}, ("history",))
    assert [p.where() for p in problems] == ["history.holidays"] and "not a date" in problems[0].message
    _, problems = coerce(HistorySpec, {"holidays": "2026-12-25"}, ("history",))
    assert "a list of dates" in problems[0].message


def test_a_date_that_does_not_exist_is_named_with_its_line_not_a_traceback(tmp_path: Path) -> None:
    found = problems_of("datasets:\n  - name: scores\n    output:\n      container: out\n      contract:\n"
                        "        history: {holidays: [2026-12-25, 2026-02-30]}\n", tmp_path)
    assert len(found) == 1 and found[0].startswith(f"{tmp_path / 'pipelines.yaml'}:6: ")
    assert "history.holidays: item 1 ('2026-02-30') is not a date" in found[0]
    ok = tmp_path / "ok.yaml"
    ok.write_text("datasets:\n  - name: scores\n    output:\n      container: out\n      contract:\n"
                  "        history: {holidays: [2026-12-25, '2027-01-01']}\n")
    holidays = config.load_pipelines(ok).datasets[0].output.contract.history.holidays.dates
    assert sorted(map(str, holidays)) == ["2026-12-25", "2027-01-01"]
