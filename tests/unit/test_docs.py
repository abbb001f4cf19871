"""The README is the user's manual: it must name every setting and every alert code the code has."""

from __future__ import annotations

from pathlib import Path

from shared.core.codes import ALERT_CODES
from shared.settings import SETTINGS

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_app_setting_is_documented() -> None:
    missing = [s.name for s in SETTINGS if f"`{s.name}" not in README]
    assert missing == []


def test_every_alert_code_is_documented() -> None:
    missing = [code for code in ALERT_CODES if f"`{code}`" not in README]
    assert missing == []


def test_readme_shows_the_two_commands() -> None:
    assert "make demo" in README and "make test" in README
