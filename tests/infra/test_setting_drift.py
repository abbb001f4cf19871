"""The app settings the code reads (shared/settings.py SETTINGS) and the ones the Bicep sets agree."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tests.infra import infra_checks


def test_settings_the_code_reads_and_settings_the_bicep_sets_agree_both_ways(
    project: infra_checks.Project, settings: tuple[Any, ...], bindings: list[infra_checks.Binding]
) -> None:
    assert infra_checks.setting_drift(project, settings, bindings) == []


def test_a_setting_the_code_needs_but_the_bicep_lacks_is_reported(
    project: infra_checks.Project, settings: tuple[Any, ...], bindings: list[infra_checks.Binding]
) -> None:
    extra = replace(settings[0], name="NEW_FEATURE_SWITCH", infra=True, secret=False)
    problems = infra_checks.setting_drift(project, (*settings, extra), bindings)
    assert any(p.startswith("NEW_FEATURE_SWITCH:") and "no Bicep app setting" in p for p in problems)


def test_a_bicep_setting_unknown_to_the_code_is_reported(
    project: infra_checks.Project, settings: tuple[Any, ...], bindings: list[infra_checks.Binding]
) -> None:
    without = tuple(s for s in settings if s.name != "PIPELINES_CONFIG")
    problems = infra_checks.setting_drift(project, without, bindings)
    assert any(p.startswith("PIPELINES_CONFIG:") and "unknown to shared/settings.py" in p for p in problems)


def test_a_secret_setting_must_be_a_key_vault_reference(
    project: infra_checks.Project, settings: tuple[Any, ...], bindings: list[infra_checks.Binding]
) -> None:
    marked = tuple(replace(s, secret=True) if s.name == "UPSTREAM_SCHEDULE" else s for s in settings)
    problems = infra_checks.setting_drift(project, marked, bindings)
    assert any(p.startswith("UPSTREAM_SCHEDULE:") and "Key Vault reference" in p for p in problems)


def test_the_teams_webhook_url_is_a_key_vault_reference(project: infra_checks.Project) -> None:
    value = infra_checks.app_settings(project)["TEAMS_WEBHOOK_URL"].value
    assert value.startswith("@Microsoft.KeyVault(SecretUri=")


def test_no_setting_that_flex_consumption_rejects_is_set(project: infra_checks.Project) -> None:
    assert not set(infra_checks.app_settings(project)) & set(infra_checks.FLEX_FORBIDDEN)


def test_host_storage_is_identity_based_and_never_a_connection_string(project: infra_checks.Project) -> None:
    in_bicep = infra_checks.app_settings(project)
    assert "AzureWebJobsStorage" not in in_bicep
    assert in_bicep["AzureWebJobsStorage__credential"].value == "managedidentity"
    assert in_bicep["DATA_STORAGE__credential"].value == "managedidentity"
