"""Every Bicep file parses, with our pycep-parser and with the one checkov ships."""

from __future__ import annotations

from tests.infra import infra_checks
from tests.infra.infra_checks import INFRA


def test_every_bicep_file_parses_with_pycep_parser() -> None:
    files = infra_checks.bicep_files(INFRA)
    assert len(files) >= 10, files
    assert infra_checks.parse_problems(INFRA) == []


def test_checkov_parses_and_scans_every_bicep_file(checkov_result: infra_checks.CheckovResult) -> None:
    summary = checkov_result.summary("bicep")
    assert summary.get("parsing_errors") == 0, summary
    # Every resource of every file reaches checkov (a file it cannot parse is silently dropped).
    assert summary.get("resource_count", 0) >= 100, summary
    assert summary.get("passed", 0) >= 20, summary
