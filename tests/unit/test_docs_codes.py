"""Every finding code a report can carry is in the README's table."""

from __future__ import annotations

from pathlib import Path

from shared.core.findings import CODES

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_finding_code_is_documented() -> None:
    assert [code for code in CODES if f"| `{code}` |" not in README] == []
