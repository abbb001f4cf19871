"""Role assignments: no broad role, none at resource-group scope, each with its reason."""

from __future__ import annotations

from pathlib import Path

from tests.infra import infra_checks
from tests.infra.infra_checks import INFRA


def test_no_broad_role_and_every_assignment_says_why(project: infra_checks.Project) -> None:
    assert infra_checks.least_privilege(project, INFRA) == []
    assert len(infra_checks.role_assignments(project)) >= 12


def test_the_app_identity_never_gets_more_than_read_on_upstream_data(project: infra_checks.Project) -> None:
    upstream = [a for a in infra_checks.role_assignments(project) if a.scope == "upstreamContainer"]
    assert upstream and all(a.roles == {infra_checks.BLOB_DATA_READER} for a in upstream)


def test_the_factory_role_allows_running_pipelines_but_not_authoring_them(
    project: infra_checks.Project,
) -> None:
    [factory_role] = [a for a in infra_checks.role_assignments(project) if a.file.name == "factory-access.bicep"]
    assert "custom:microsoft.datafactory/factories/pipelines/createrun/action" in factory_role.roles
    assert not any(r.endswith(("/write", "/delete", "/*")) or r == "custom:*" for r in factory_role.roles)


def test_an_assignment_without_its_reason_or_with_owner_is_reported(infra_copy: Path) -> None:
    rbac = infra_copy / "modules" / "rbac.bicep"
    text = rbac.read_text(encoding="utf-8")
    text = text.replace("// Why: the app queries its own run history", "// the app queries its own run history")
    text = text.replace(
        "var logAnalyticsReader = '73c42c96-874c-492b-b04d-ab87d138a893'",
        f"var logAnalyticsReader = '{infra_checks.OWNER}'",
    )
    rbac.write_text(text, encoding="utf-8")
    problems = infra_checks.least_privilege(infra_checks.Project.load(infra_copy), infra_copy)
    assert "infra/ grants Owner" in problems
    assert "rbac.bicep:appLogReader: no `// Why:` comment above it" in problems
