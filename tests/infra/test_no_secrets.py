"""No secret value in any template, parameters file or script of infra/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.infra import infra_checks
from tests.infra.infra_checks import INFRA, ROOT


def test_no_secret_value_anywhere_in_infra_or_azure_yaml() -> None:
    assert infra_checks.secret_problems(INFRA, [ROOT / "azure.yaml"]) == []


@pytest.mark.parametrize(
    ("planted", "what"),
    [
        (
            "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=" + "Zm9vYmFy" * 8 + "==",
            "a storage account key",
        ),
        (
            "https://prod-00.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke",
            "webhook URL",
        ),
        ("https://func.azurewebsites.net/api/pipeline-events?code=" + "a1B2" * 10, "a function key"),
        (
            "InstrumentationKey=00000000-1111-2222-3333-444444444444;IngestionEndpoint=x",
            "an Application Insights key",
        ),
    ],
)
def test_a_secret_planted_in_a_template_is_found(infra_copy: Path, planted: str, what: str) -> None:
    keyvault = infra_copy / "modules" / "keyvault.bicep"
    keyvault.write_text(keyvault.read_text(encoding="utf-8") + f"\nvar leaked = '{planted}'\n", encoding="utf-8")
    problems = infra_checks.secret_problems(infra_copy)
    assert any(p.startswith("keyvault.bicep:") and what in p for p in problems), problems


def test_a_secure_parameter_with_a_default_or_a_literal_value_is_found(infra_copy: Path) -> None:
    main = infra_copy / "main.bicep"
    main.write_text(
        main.read_text(encoding="utf-8").replace(
            "param teamsWebhookUrl string = ''", "param teamsWebhookUrl string = 'hello-there'"
        ),
        encoding="utf-8",
    )
    parameters = infra_copy / "main.parameters.json"
    data = json.loads(parameters.read_text(encoding="utf-8"))
    data["parameters"]["teamsWebhookUrl"]["value"] = "not-from-the-azd-environment"
    parameters.write_text(json.dumps(data), encoding="utf-8")
    problems = infra_checks.secret_problems(infra_copy)
    assert "main.bicep: @secure() param teamsWebhookUrl has a default value" in problems
    assert any(p.startswith("main.parameters.json: secure param teamsWebhookUrl") for p in problems)
