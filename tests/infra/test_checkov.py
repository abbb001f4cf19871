"""checkov finds nothing, and every check we skip is one we reviewed, with its reason beside it."""

from __future__ import annotations

from tests.infra import infra_checks

# Reviewed skips; the reason of each is the `checkov:skip=ID: reason` comment in the resource.
REVIEWED_SKIPS = {
    "CKV_AZURE_35",
    "CKV_AZURE_59",
    "CKV_AZURE_206",  # storage: no VNet, ZRS
    "CKV_AZURE_109",
    "CKV_AZURE_189",
    "CKV_AZURE_110",
    "CKV_AZURE_42",  # key vault
    "CKV_AZURE_41",
    "CKV_AZURE_114",  # the Teams webhook secret
    "CKV_AZURE_225",
    "CKV_AZURE_222",
    "CKV_AZURE_17",
    "CKV_AZURE_212",
    "CKV_AZURE_213",  # Flex app
    "CKV_AZURE_104",
    "CKV_AZURE_103",  # the example factory
}


def test_checkov_finds_no_failed_check(checkov_result: infra_checks.CheckovResult) -> None:
    assert checkov_result.failed() == []
    assert infra_checks.checkov_problems(checkov_result) == []


def test_every_checkov_skip_is_reviewed_and_explained(checkov_result: infra_checks.CheckovResult) -> None:
    skipped = checkov_result.skipped()
    assert {s["check_id"] for s in skipped} <= REVIEWED_SKIPS
    for skip in skipped:
        reason = (skip.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason) >= 40, f"{skip['check_id']} on {skip['resource']}: {reason!r}"


def test_an_unjustified_skip_is_reported() -> None:
    result = infra_checks.CheckovResult(
        reports=[
            {
                "check_type": "bicep",
                "summary": {"parsing_errors": 0},
                "results": {
                    "failed_checks": [],
                    "skipped_checks": [
                        {
                            "check_id": "CKV_AZURE_35",
                            "resource": "x",
                            "check_result": {"suppress_comment": ""},
                        }
                    ],
                },
            }
        ],
        stderr="",
        returncode=0,
    )
    assert any("CKV_AZURE_35" in p for p in infra_checks.checkov_problems(result))


def test_a_bicep_file_checkov_could_not_parse_is_reported() -> None:
    result = infra_checks.CheckovResult(
        reports=[
            {
                "check_type": "bicep",
                "summary": {"parsing_errors": 1},
                "results": {"failed_checks": [], "skipped_checks": []},
            }
        ],
        stderr="",
        returncode=0,
    )
    assert infra_checks.checkov_problems(result) == ["checkov could not parse 1 Bicep file(s): those go unscanned"]
