"""Every function the app registers finds what it needs in the templates; so do the example
pipeline, the shipped pipelines config and the heartbeat alerts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.infra import infra_checks
from tests.infra.infra_checks import INFRA, ROOT


def test_every_registered_function_has_its_queues_containers_tables_and_roles(
    project: infra_checks.Project, bindings: list[infra_checks.Binding], state_tables: tuple[str, ...]
) -> None:
    assert {b.function for b in bindings} >= {
        "upstream_watcher",
        "output_guard",
        "pipeline_events",
        "alert_dispatcher",
    }
    assert infra_checks.function_needs(project, bindings, state_tables, INFRA) == []


def test_a_function_whose_queue_is_missing_is_reported(
    project: infra_checks.Project, state_tables: tuple[str, ...]
) -> None:
    reader = infra_checks.Binding("audit_reader", "queueTrigger", {"queueName": "audit"})
    problems = infra_checks.function_needs(project, [reader], state_tables, INFRA)
    assert "audit_reader (queueTrigger): queue 'audit' is not created in infra/" in problems
    assert "audit_reader (queueTrigger): poison queue 'audit-poison' is not created in infra/" in problems


def test_a_table_the_code_uses_but_the_bicep_lacks_is_reported(project: infra_checks.Project) -> None:
    problems = infra_checks.function_needs(project, [], ("autopilotclaims",), INFRA)
    assert problems == ["state table 'autopilotclaims' (shared.services.deps.Tables) is not created in infra/"]


def test_the_shipped_pipelines_config_uses_the_containers_the_bicep_creates(
    project: infra_checks.Project,
) -> None:
    from shared.config import load_pipelines

    config = load_pipelines(ROOT / "pipelines.yaml")
    containers = project.names_of("Microsoft.Storage/storageAccounts/blobServices/containers")
    output_container = infra_checks.setting_value(project, "OUTPUT_CONTAINER")
    for ds in config.datasets:
        if ds.upstream:
            assert ds.upstream.container in containers, ds.name
        if ds.output:
            assert {ds.output.container} == output_container, ds.name


def example_pipeline(project: infra_checks.Project) -> dict[str, Any]:
    bicep = project.file("modules/adf-pipeline.bicep")
    return infra_checks.body(bicep.resources["pipeline"])["properties"]


def test_the_example_pipeline_takes_the_parameters_the_demo_config_passes(
    project: infra_checks.Project,
) -> None:
    demo = yaml.safe_load((ROOT / "pipelines.yaml").read_text(encoding="utf-8"))
    passed = {
        name
        for ds in demo["datasets"]
        if ds.get("pipeline", {}).get("name") == "score_batch"
        for name in ds["pipeline"]["parameters"]
    }
    assert passed == {"batchId", "dataset", "prefix", "files"}
    assert set(example_pipeline(project)["parameters"]) == passed


def test_the_example_pipeline_calls_the_webhook_on_success_and_on_failure(
    project: infra_checks.Project,
) -> None:
    activities = {a["name"]: a for a in example_pipeline(project)["activities"]}
    outcomes = {}
    for name in ("NotifySucceeded", "NotifyFailed"):
        activity = activities[name]
        assert activity["type"] == "WebActivity"
        conditions = {d["activity"]: d["dependencyConditions"] for d in activity["dependsOn"]}
        outcomes[name] = conditions["Score"]
        assert conditions["GetWebhookKey"] == ["Succeeded"]
    assert outcomes == {"NotifySucceeded": ["Succeeded"], "NotifyFailed": ["Failed"]}
    key = activities["GetWebhookKey"]
    assert key["typeProperties"]["authentication"] == {"type": "MSI", "resource": "https://vault.azure.net"}
    assert key["policy"]["secureOutput"] is True


def test_the_webhook_body_is_the_one_of_design_3_5(project: infra_checks.Project) -> None:
    variables = project.file("modules/adf-pipeline.bicep").variables
    body = variables["webhookBody"]["value"]
    assert body == {
        "factory": "@{pipeline().DataFactory}",
        "pipeline": "@{pipeline().Pipeline}",
        "runId": "@{pipeline().RunId}",
        "batchId": "@{pipeline().parameters.batchId}",
    }
    text = (INFRA / "modules" / "adf-pipeline.bicep").read_text(encoding="utf-8")
    assert "status: 'Succeeded'" in text and "status: 'Failed'" in text
    assert "message: '@{activity(\\'Score\\').error.message}'" in text
    assert "'x-functions-key': '@{activity(\\'GetWebhookKey\\').output.value}'" in text


HEARTBEAT_KQL = (
    'traces | where message == "autopilot heartbeat" '
    '| where tostring(customDimensions.component) == "${beat.component}"'
)


def test_heartbeat_alerts_fire_when_either_component_falls_silent(project: infra_checks.Project) -> None:
    bicep = project.file("modules/heartbeat-alerts.bicep")
    components = {beat["component"] for beat in bicep.variables["heartbeats"]["value"]}
    assert components == {"upstream_watcher", "alert_dispatcher"}
    rule = infra_checks.body(bicep.resources["missingHeartbeat"])["properties"]
    criterion = rule["criteria"]["allOf"][0]
    assert criterion["query"] == HEARTBEAT_KQL
    assert (criterion["timeAggregation"], criterion["operator"], criterion["threshold"]) == (
        "Count",
        "LessThan",
        1,
    )
    assert rule["autoMitigate"] is True


def test_azure_yaml_deploys_the_repository_root_as_a_function_app_and_runs_the_hook() -> None:
    azure = yaml.safe_load((ROOT / "azure.yaml").read_text(encoding="utf-8"))
    service = azure["services"]["autopilot"]
    assert (service["project"], service["language"], service["host"]) == (".", "python", "function")
    assert (ROOT / service["project"] / "requirements.txt").exists()
    hook = Path(ROOT / azure["hooks"]["postdeploy"]["posix"]["run"])
    assert hook.is_file() and hook.stat().st_mode & 0o111
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert parameters["environmentName"]["value"] == "${AZURE_ENV_NAME}"
    assert parameters["location"]["value"] == "${AZURE_LOCATION}"


def test_the_function_app_runs_python_3_13_on_flex_consumption(project: infra_checks.Project) -> None:
    bicep = project.file("modules/function-app.bicep")
    plan = infra_checks.body(bicep.resources["plan"])
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    site = infra_checks.body(bicep.resources["site"])
    assert site["identity"]["type"] == "UserAssigned"
    runtime = site["properties"]["functionAppConfig"]["runtime"]
    assert runtime["name"] == "python"
    assert project.resolve(bicep, runtime["version"]) == {"3.13"}
    storage = project.file("modules/storage.bicep")
    assert infra_checks.body(storage.resources["account"])["properties"]["allowSharedKeyAccess"] is False
