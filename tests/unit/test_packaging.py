"""`pip install .` gives a working `autopilot`: the package declares what the app and the CLI import."""

from __future__ import annotations

import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def pins(path: Path) -> set[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return {line for line in lines if line and not line.startswith("-")}


def test_the_installed_package_requires_every_pin_the_deployed_app_uses() -> None:
    declared = set(importlib.metadata.requires("adf-autopilot") or [])

    assert pins(ROOT / "requirements.txt") <= declared
    names = {re.split(r"[=<>]", requirement)[0].lower() for requirement in declared}
    assert {"pyyaml", "pyarrow", "azure-functions", "azurefunctions-extensions-bindings-blob"} <= names


def test_the_project_says_python_3_13_and_runs_on_it() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

    assert project["project"]["requires-python"] == ">=3.13,<3.14"
    assert sys.version_info[:2] == (3, 13)
