"""``autopilot send-test-alert`` against the Teams sink and the SMTP sink over real sockets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.main import main
from sandbox.devops_emulator import DevOpsEmulator
from sandbox.smtp_sink import SmtpSink
from sandbox.teams_sink import TeamsSink


@pytest.fixture
def sinks() -> Iterator[tuple[TeamsSink, SmtpSink]]:
    with TeamsSink() as teams, SmtpSink() as smtp:
        yield teams, smtp


def settings_file(tmp_path: Path, teams: TeamsSink, smtp: SmtpSink) -> Path:
    values = {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "ADF_SUBSCRIPTION_ID": "s",
              "ADF_RESOURCE_GROUP": "r", "ADF_FACTORY_NAME": "f", "TEAMS_WEBHOOK_URL": teams.url,
              "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "SMTP_SENDER": "autopilot@example.com",
              "ALERT_EMAIL_TO": "oncall@example.com"}
    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps({"Values": values}))
    return path


def test_both_channels_accept_the_test_alert(tmp_path: Path, sinks: tuple[TeamsSink, SmtpSink],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    teams, smtp = sinks
    code = main(["send-test-alert", "--settings", str(settings_file(tmp_path, teams, smtp))])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "teams: accepted" in err and "email: accepted (to data-team@example.com)" in err
    assert "test alert" in teams.cards[0]["body"][1]["text"]
    assert smtp.wait_for(1)[0].message["To"] == "data-team@example.com"


def test_a_channel_that_is_down_is_reported_and_exits_2(tmp_path: Path, sinks: tuple[TeamsSink, SmtpSink],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    teams, smtp = sinks
    teams.set_down(True)
    code = main(["send-test-alert", "--settings", str(settings_file(tmp_path, teams, smtp)), "--channel", "teams"])
    err = capsys.readouterr().err
    assert code == 2 and "teams: FAILED" in err and teams.signature not in err


def test_no_channel_configured_is_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"Values": {"AzureWebJobsStorage": "UseDevelopmentStorage=true",
                                           "ADF_SUBSCRIPTION_ID": "s", "ADF_RESOURCE_GROUP": "r",
                                           "ADF_FACTORY_NAME": "f"}}))
    assert main(["send-test-alert", "--settings", str(path)]) == 3
    assert "no channel is configured" in capsys.readouterr().err


def devops_settings(tmp_path: Path, devops: DevOpsEmulator, *, route: bool = True) -> Path:
    pipelines = tmp_path / "pipelines.yaml"
    alerts = ('    alerts: {devops: {organization: contoso, project: "Data Platform", type: Task}}\n'
              if route else "")
    pipelines.write_text("datasets:\n  - name: quiet\n  - name: scores\n" + alerts)
    values = {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "ADF_SUBSCRIPTION_ID": "s",
              "ADF_RESOURCE_GROUP": "r", "ADF_FACTORY_NAME": "f", "DEVOPS_API_URL": devops.url,
              "PIPELINES_CONFIG": str(pipelines)}
    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps({"Values": values}))
    return path


def test_the_devops_channel_creates_a_work_item_and_resolves_it_at_once(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with DevOpsEmulator() as devops:
        code = main(["send-test-alert", "--settings", str(devops_settings(tmp_path, devops)), "--channel", "devops"])
        err = capsys.readouterr().err
        assert code == 0, err
        (item,) = devops.items
        fields = devops.fields(item)
        assert fields["System.WorkItemType"] == "Task" and fields["System.State"] == "Done"
        assert "test alert" in fields["System.Description"]
        assert f"devops: created Task #{item} in contoso/Data Platform, then set it to Done" in err

        devops.mode.down = True
        code = main(["send-test-alert", "--settings", str(devops_settings(tmp_path, devops)), "--channel", "devops"])
        assert code == 2 and "devops: FAILED to create a Task in contoso/Data Platform" in capsys.readouterr().err


def test_devops_without_a_route_says_what_to_add_and_exits_3(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    with DevOpsEmulator() as devops:
        settings = devops_settings(tmp_path, devops, route=False)
        assert main(["send-test-alert", "--settings", str(settings), "--channel", "devops"]) == 3
        assert "add alerts.devops {organization, project}" in capsys.readouterr().err
        assert devops.items == {}
