"""The pipeline checks are not vacuous: a scratch copy with a secret, a missing approval, a skipped
stage, a rebuilt package or a typo makes them fail."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.infra import azure_devops_checks, github_checks, pipeline_checks
from tests.infra.infra_checks import ROOT
from tests.infra.test_pipelines import check_jsonschema  # noqa: F401 (a fixture)

GH = Path(".github") / "workflows"
ADO_DEPLOY = Path(".azure-pipelines") / "deploy-environment.yml"


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    """A scratch copy of what the pipeline checks read, to break on purpose."""
    copy = tmp_path / "repo"
    for folder in (".github", ".azure-pipelines", ".ci", "infra/environments", "infra/scripts"):
        shutil.copytree(ROOT / folder, copy / folder)
    for file in ("azure-pipelines.yml", "Makefile", "infra/main.parameters.json", "infra/main.bicep"):
        shutil.copy(ROOT / file, copy / file)
    return copy


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_the_scratch_copy_is_clean(repo: Path) -> None:
    assert github_checks.github_problems(repo) == []
    assert azure_devops_checks.azure_devops_problems(repo) == []
    assert pipeline_checks.environment_file_problems(repo) == []


def test_a_stored_credential_instead_of_oidc_fails(repo: Path) -> None:
    edit(repo / GH / "deploy-environment.yml",
         "          client-id: ${{ vars.AZURE_CLIENT_ID }}\n",
         "          creds: ${{ secrets.AZURE_CREDENTIALS }}\n          client-id: ${{ vars.AZURE_CLIENT_ID }}\n")
    problems = github_checks.github_problems(repo)
    assert any("deploy-environment.yml:" in p and "a stored GitHub secret" in p for p in problems), problems
    assert any("azure/login must log in with OIDC" in p for p in problems), problems


def test_an_azd_login_with_a_client_secret_fails(repo: Path) -> None:
    edit(repo / GH / "deploy-environment.yml", "--federated-credential-provider github",
         '--client-secret "$SECRET"')
    problems = github_checks.github_problems(repo)
    assert any("a client secret" in p for p in problems), problems
    assert any("is not the OIDC login `--federated-credential-provider github`" in p for p in problems), problems


def test_a_deploy_job_without_its_environment_has_no_approval_and_fails(repo: Path) -> None:
    edit(repo / GH / "deploy-environment.yml", "    environment: ${{ inputs.environment }}\n", "")
    problems = github_checks.deploy_problems(repo)
    assert any("deploys prod without the GitHub environment 'prod' (its required reviewers" in p
               for p in problems), problems
    assert any("deploys test without the GitHub environment 'test'" in p for p in problems), problems


def test_prod_promoted_straight_from_dev_fails(repo: Path) -> None:
    edit(repo / GH / "deploy.yml", "    needs: test-stage\n", "    needs: dev\n")
    problems = github_checks.deploy_problems(repo)
    assert any("deploys prod without needing the test deploy (job test-stage)" in p for p in problems), problems


def test_a_deploy_without_the_oidc_token_permission_fails(repo: Path) -> None:
    deploy = repo / GH / "deploy.yml"
    text = deploy.read_text(encoding="utf-8")
    at = text.index("  prod:")
    deploy.write_text(text[:at] + text[at:].replace("      id-token: write\n", "", 1), encoding="utf-8")
    problems = github_checks.deploy_problems(repo)
    assert any(p.startswith("deploy.yml job prod ") and "id-token: write" in p for p in problems), problems


def test_overlapping_deploys_of_one_environment_fail(repo: Path) -> None:
    edit(repo / GH / "deploy-environment.yml", "      cancel-in-progress: false\n", "      cancel-in-progress: true\n")
    problems = github_checks.deploy_problems(repo)
    assert any("two deploys of one environment could overlap" in p for p in problems), problems


def test_ci_running_something_else_than_make_test_fails(repo: Path) -> None:
    edit(repo / GH / "ci.yml", "        run: make test\n", "        run: make unit\n")
    problems = github_checks.github_problems(repo)
    assert "no workflow job runs what CI runs (make test, .ci/run)" in problems
    assert any("deploys dev without needing the tests" in p for p in problems), problems


def test_ci_on_an_older_python_fails(repo: Path) -> None:
    edit(repo / GH / "ci.yml", 'python-version: "3.13"', 'python-version: "3.12"')
    problems = github_checks.ci_problems(repo)
    assert any("sets up Python 3.12, the project needs 3.13" in p for p in problems), problems


def test_a_stage_that_rebuilds_instead_of_promoting_the_package_fails(repo: Path) -> None:
    edit(repo / GH / "deploy-environment.yml",
         "run: azd deploy autopilot --from-package dist/autopilot.zip --no-prompt",
         "run: azd package autopilot && azd deploy autopilot --no-prompt")
    problems = github_checks.deploy_problems(repo)
    assert any("does not deploy the tested package (azd deploy --from-package)" in p for p in problems), problems
    assert any("builds its own package" in p for p in problems), problems


def test_a_stage_reading_another_stages_parameters_fails(repo: Path) -> None:
    edit(repo / GH / "deploy-environment.yml", 'azd_environment.sh "$STAGE"', "azd_environment.sh dev")
    problems = github_checks.deploy_problems(repo)
    assert any("no workflow job deploys prod" in p for p in problems), problems


def test_an_action_on_the_retired_node20_runtime_fails(repo: Path) -> None:
    edit(repo / GH / "ci.yml", "actions/setup-node@v5", "actions/setup-node@v4")
    problems = github_checks.action_problems(repo)
    assert any(p.startswith("ci.yml:") and "actions/setup-node@v4 runs on node20" in p for p in problems), problems


def test_a_write_all_token_and_unsecure_commands_fail_checkov(repo: Path, checkov: Path, tmp_path: Path) -> None:
    edit(repo / GH / "ci.yml", "permissions:\n  contents: read\n", "permissions: write-all\n")
    edit(repo / GH / "ci.yml", "          PYTHON: ${{ steps.python.outputs.python-path }}\n",
         "          PYTHON: ${{ steps.python.outputs.python-path }}\n          ACTIONS_ALLOW_UNSECURE_COMMANDS: true\n")
    problems = pipeline_checks.checkov_pipeline_problems(checkov, repo, tmp_path)
    assert any(p.startswith("checkov: CKV2_GHA_1 ") for p in problems), problems
    assert any(p.startswith("checkov: CKV_GHA_1 ") for p in problems), problems


def test_a_workflow_checkov_cannot_read_fails_instead_of_passing_unscanned(
        repo: Path, checkov: Path, tmp_path: Path) -> None:
    edit(repo / GH / "deploy-environment.yml", "      cancel-in-progress: false\n",
         "      cancel-in-progress: ${{ github.event_name == 'pull_request' }}\n")
    problems = pipeline_checks.checkov_pipeline_problems(checkov, repo, tmp_path)
    assert problems == ["checkov did not scan .github/workflows/deploy-environment.yml (exit 0): it skips what it "
                        "cannot read"], problems


def test_a_misspelled_workflow_key_fails_the_schema(repo: Path, check_jsonschema: Path) -> None:  # noqa: F811
    edit(repo / GH / "ci.yml", "    runs-on: ubuntu-latest\n", "    run-on: ubuntu-latest\n")
    problems = pipeline_checks.github_schema_problems(check_jsonschema, repo)
    assert any("ci.yml" in p for p in problems), problems


def test_a_misspelled_stage_key_or_task_input_fails_the_azure_pipelines_schema(repo: Path) -> None:
    edit(repo / "azure-pipelines.yml", "    dependsOn: dev\n", "    dependOn: dev\n")
    edit(repo / ADO_DEPLOY, "scriptType: bash", "scriptType: bassh")
    problems = pipeline_checks.azure_schema_problems(repo)
    assert any(p.startswith("azure-pipelines.yml: $.stages[2]") for p in problems), problems
    assert any(p.startswith(f"{ADO_DEPLOY}: ") and "scriptType" in p for p in problems), problems


def test_an_azure_devops_deploy_in_a_plain_job_has_no_approval_and_fails(repo: Path) -> None:
    edit(repo / ADO_DEPLOY, "  - deployment: deploy_${{ parameters.stage }}", "  - job: deploy_${{ parameters.stage }}")
    edit(repo / ADO_DEPLOY, "    environment: autopilot-${{ parameters.stage }}\n", "")
    problems = azure_devops_checks.azure_devops_problems(repo)
    assert any("stage prod job deploy_prod: deploys prod in a plain job, not a deployment job bound to an "
               "environment (its approval check" in p for p in problems), problems


def test_an_azure_devops_client_secret_or_a_lost_federated_token_fails(repo: Path) -> None:
    edit(repo / ADO_DEPLOY, "                SYSTEM_ACCESSTOKEN: $(System.AccessToken)\n",
         "                AZURE_CLIENT_SECRET: $(deployerSecret)\n")
    problems = azure_devops_checks.azure_devops_problems(repo)
    assert any(p.startswith(f"{ADO_DEPLOY}:") and "a client secret" in p for p in problems), problems
    assert any("SYSTEM_ACCESSTOKEN is not mapped" in p for p in problems), problems


def test_an_azure_devops_prod_stage_after_dev_skips_test_and_fails(repo: Path) -> None:
    pipeline = repo / "azure-pipelines.yml"
    text = pipeline.read_text(encoding="utf-8")
    at = text.index("  - stage: prod")
    pipeline.write_text(text[:at] + text[at:].replace("dependsOn: test", "dependsOn: dev", 1), encoding="utf-8")
    problems = azure_devops_checks.azure_devops_problems(repo)
    assert any("stage prod does not depend on stage test" in p for p in problems), problems


def test_a_secret_or_a_typo_in_a_parameters_file_fails(repo: Path) -> None:
    folder = repo / "infra" / "environments"
    prod = folder / "prod.env"
    prod.write_text(prod.read_text(encoding="utf-8")
                    + "TEAMS_WEBHOOK_URL=https://prod-00.westeurope.logic.azure.com/workflows/abc\n"
                    + "UPSTREAM_SCHEDUEL=0 0 * * * *\n", encoding="utf-8")
    edit(folder / "test.env", "AZURE_ENV_NAME=autopilot-test", "AZURE_ENV_NAME=autopilot-dev")
    problems = pipeline_checks.environment_file_problems(repo)
    assert any("TEAMS_WEBHOOK_URL feeds a @secure() parameter" in p for p in problems), problems
    assert any("a Teams / Workflows webhook URL" in p for p in problems), problems
    assert any("UPSTREAM_SCHEDUEL is not a variable infra/main.parameters.json reads" in p for p in problems), problems
    assert any("AZURE_ENV_NAME autopilot-dev is also dev's" in p for p in problems), problems


def test_a_missing_parameters_file_fails(repo: Path) -> None:
    (repo / "infra" / "environments" / "prod.env").unlink()
    assert "infra/environments/prod.env: missing; every stage reads its parameters from its own file" in (
        pipeline_checks.environment_file_problems(repo))
