"""The promotion pipelines, checked offline: GitHub Actions workflows and the Azure DevOps pipeline
match their schemas, run what CI runs, and promote one package dev → test → prod with OIDC logins and
each stage's own parameter file; the parameter loader runs for real against a recording `azd`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra import azure_devops_checks, github_checks, pipeline_checks
from tests.infra.infra_checks import ROOT

LOADER = ROOT / "infra" / "scripts" / "azd_environment.sh"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"


def find_check_jsonschema() -> Path | None:
    for candidate in (Path(sys.executable).parent / "check-jsonschema", shutil.which("check-jsonschema")):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def check_jsonschema() -> Path:
    exe = find_check_jsonschema()
    if exe is None:
        pytest.fail("check-jsonschema is not installed: run `make setup` (requirements-dev.txt pins it)")
    return exe


def test_ci_runs_make_test_exactly() -> None:
    assert pipeline_checks.ci_targets(ROOT) == ["test"]


def test_the_github_workflows_match_the_github_workflow_schema(check_jsonschema: Path) -> None:
    assert pipeline_checks.github_schema_problems(check_jsonschema, ROOT) == []


def test_the_azure_pipeline_and_its_templates_match_the_azure_pipelines_schema() -> None:
    assert pipeline_checks.azure_schema_problems(ROOT) == []


def test_every_push_and_pull_request_runs_what_ci_runs_on_python_3_13_and_node_20() -> None:
    assert github_checks.ci_problems(ROOT) == []


def test_github_promotes_one_package_dev_test_prod_through_environments_with_oidc() -> None:
    assert github_checks.deploy_problems(ROOT) == []


def test_checkov_finds_nothing_in_the_workflows_and_the_azure_pipeline(checkov: Path, tmp_path: Path) -> None:
    assert pipeline_checks.checkov_pipeline_problems(checkov, ROOT, tmp_path) == []


def test_every_action_runs_on_a_runtime_the_runners_still_start() -> None:
    assert github_checks.action_problems(ROOT) == []


def test_no_workflow_holds_a_stored_credential_or_a_secret_value() -> None:
    assert [p for path in pipeline_checks.github_files(ROOT)
            for p in pipeline_checks.stored_credential_problems(path, ROOT)] == []


def test_azure_devops_runs_the_same_tests_then_promotes_dev_test_prod_through_environments() -> None:
    assert azure_devops_checks.azure_devops_problems(ROOT) == []


def test_each_stage_reads_its_parameters_from_its_own_file_without_secrets() -> None:
    assert pipeline_checks.environment_file_problems(ROOT) == []


# --- the parameter loader, against a recording azd -----------------------------------------------

FAKE_AZD = f"""#!{sys.executable}
import json, os, sys
with open(os.environ["AZD_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
if sys.argv[1:3] == ["env", "select"] and os.environ.get("FAKE_AZD_KNOWS") != sys.argv[3]:
    print("environment not found", file=sys.stderr)
    sys.exit(1)
"""


def run_loader(tmp_path: Path, stage: str, loader: Path = LOADER, knows: str = "") -> tuple[
        subprocess.CompletedProcess[str], list[list[str]]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    azd = bin_dir / "azd"
    azd.write_text(FAKE_AZD, encoding="utf-8")
    azd.chmod(0o755)
    log = tmp_path / "azd.log"
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "AZD_LOG": str(log), "AZURE_SUBSCRIPTION_ID": SUBSCRIPTION,
           "FAKE_AZD_KNOWS": knows}
    run = subprocess.run(["sh", str(loader), stage], env=env, capture_output=True, text=True, timeout=60)
    calls = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []
    return run, calls


def test_the_loader_creates_the_stage_environment_and_sets_every_parameter_of_its_file(tmp_path: Path) -> None:
    run, calls = run_loader(tmp_path, "dev")
    assert run.returncode == 0, run.stderr
    assert calls[:3] == [
        ["env", "select", "autopilot-dev"],
        ["env", "new", "autopilot-dev", "--subscription", SUBSCRIPTION, "--location", "swedencentral", "--no-prompt"],
        ["env", "set", "AZURE_SUBSCRIPTION_ID", SUBSCRIPTION],
    ]
    sets = {c[2]: c[3] for c in calls[3:] if c[:2] == ["env", "set"]}
    assert sets["UPSTREAM_SCHEDULE"] == "0 0 * * * *"  # a value with spaces arrives whole
    assert sets["AZURE_PRINCIPAL_TYPE"] == "ServicePrincipal"
    assert sets["KEY_VAULT_PURGE_PROTECTION"] == "false"
    assert "AZURE_ENV_NAME" not in sets


def test_the_loader_selects_an_environment_that_already_exists(tmp_path: Path) -> None:
    run, calls = run_loader(tmp_path, "prod", knows="autopilot-prod")
    assert run.returncode == 0, run.stderr
    assert ["env", "select", "autopilot-prod"] in calls
    assert not [c for c in calls if c[:2] == ["env", "new"]]


def test_the_loader_refuses_a_bad_file_before_touching_azd(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "infra" / "scripts", copy / "infra" / "scripts")
    shutil.copytree(ROOT / "infra" / "environments", copy / "infra" / "environments")
    test_env = copy / "infra" / "environments" / "test.env"
    test_env.write_text(test_env.read_text(encoding="utf-8") + "export ENABLE_EMAIL=true\n", encoding="utf-8")
    run, calls = run_loader(tmp_path, "test", loader=copy / "infra" / "scripts" / "azd_environment.sh")
    assert run.returncode == 2
    assert "lines that are not KEY=value" in run.stderr and "export ENABLE_EMAIL=true" in run.stderr
    assert calls == []


def test_the_loader_refuses_a_stage_without_a_file(tmp_path: Path) -> None:
    run, calls = run_loader(tmp_path, "staging")
    assert run.returncode == 2
    assert "no parameters file for stage 'staging'" in run.stderr
    assert calls == []
