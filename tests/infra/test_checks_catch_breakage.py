"""The checks are not vacuous: a broken copy of infra/ makes them fail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.infra import infra_checks


def test_a_bicep_file_with_a_syntax_error_fails_the_parse_check_and_checkov(infra_copy: Path, checkov: Path) -> None:
    storage = infra_copy / "modules" / "storage.bicep"
    text = storage.read_text(encoding="utf-8")
    storage.write_text(
        text.replace(
            "resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {",
            "resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {{",
            1,
        ),
        encoding="utf-8",
    )
    assert [p.split(":")[0] for p in infra_checks.parse_problems(infra_copy)] == [
        str(Path("modules") / "storage.bicep")
    ]
    # checkov's own parser rejects it too: a scan would count it in parsing_errors, which
    # checkov_problems turns into a failure (test_checkov.py shows that on a report).
    assert infra_checks.checkov_unparsable(checkov, [storage, infra_copy / "main.bicep"]) == [str(storage)]


def remove_app_setting(infra: Path, name: str) -> None:
    app = infra / "modules" / "function-app.bicep"
    lines = app.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.strip() == f"name: '{name}'")
    del lines[at - 1 : at + 3]  # the whole `{ name: ..., value: ... }` entry
    app.write_text("".join(lines), encoding="utf-8")


def test_removing_an_app_setting_fails_the_drift_and_the_function_needs(
    infra_copy: Path,
    settings: tuple[Any, ...],
    bindings: list[infra_checks.Binding],
    state_tables: tuple[str, ...],
) -> None:
    remove_app_setting(infra_copy, "UPSTREAM_SCHEDULE")
    assert infra_checks.parse_problems(infra_copy) == []
    broken = infra_checks.Project.load(infra_copy)
    assert "UPSTREAM_SCHEDULE" not in infra_checks.app_settings(broken)
    drift = infra_checks.setting_drift(broken, settings, bindings)
    assert any(p.startswith("UPSTREAM_SCHEDULE: the code reads it") for p in drift), drift
    needs = infra_checks.function_needs(broken, bindings, state_tables, infra_copy)
    assert any("upstream_watcher (timerTrigger)" in p and "UPSTREAM_SCHEDULE" in p for p in needs), needs


def test_a_schedule_the_host_would_refuse_fails_the_function_needs(
    infra_copy: Path, bindings: list[infra_checks.Binding], state_tables: tuple[str, ...]
) -> None:
    app = infra_copy / "modules" / "function-app.bicep"
    app.write_text(app.read_text(encoding="utf-8").replace("'0 */5 * * * *'", "'00:05:00'"), encoding="utf-8")
    main = infra_copy / "main.bicep"
    main.write_text(main.read_text(encoding="utf-8").replace("'0 0 * * * *'", "'0 0 12 * * 7'"), encoding="utf-8")
    needs = infra_checks.function_needs(infra_checks.Project.load(infra_copy), bindings, state_tables, infra_copy)
    assert any(p.startswith("followups (timerTrigger): the schedule infra/ deploys is refused: '00:05:00' is a "
                            "TimeSpan") for p in needs), needs
    assert any(p.startswith("upstream_watcher (timerTrigger): the schedule infra/ deploys is refused: NCRONTAB "
                            "'0 0 12 * * 7', day-of-week field: 7 is outside 0-6") for p in needs), needs


def test_removing_the_poison_queue_or_the_output_container_fails_the_function_needs(
    infra_copy: Path, bindings: list[infra_checks.Binding], state_tables: tuple[str, ...]
) -> None:
    main = infra_copy / "main.bicep"
    main.write_text(main.read_text(encoding="utf-8").replace("  'alerts-poison'\n", ""), encoding="utf-8")
    remove_app_setting(infra_copy, "OUTPUT_CONTAINER")
    needs = infra_checks.function_needs(infra_checks.Project.load(infra_copy), bindings, state_tables, infra_copy)
    assert "alert_dispatcher (queueTrigger): poison queue 'alerts-poison' is not created in infra/" in needs
    assert any(p.startswith("output_guard (blobTrigger): container") for p in needs), needs


def test_removing_a_role_the_host_needs_fails_the_function_needs(
    infra_copy: Path, bindings: list[infra_checks.Binding], state_tables: tuple[str, ...]
) -> None:
    rbac = infra_copy / "modules" / "rbac.bicep"
    text = rbac.read_text(encoding="utf-8")
    start = text.index("resource appTableContributor")
    end = text.index("\n}\n", start) + 3
    rbac.write_text(text[:start] + text[end:], encoding="utf-8")
    needs = infra_checks.function_needs(infra_checks.Project.load(infra_copy), bindings, state_tables, infra_copy)
    assert "the app identity lacks Storage Table Data Contributor (state tables)" in needs
