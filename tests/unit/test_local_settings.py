"""One reader of local.settings.json for the CLI and the local host, with the same rules for both."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import read_settings_file
from sandbox.host.__main__ import read_settings
from shared import local_settings
from shared.errors import ConfigError


def write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "local.settings.json"
    path.write_text(text, encoding=encoding)
    return path


def test_string_values_are_read_with_or_without_a_byte_order_mark(tmp_path: Path) -> None:
    path = write(tmp_path, '{"IsEncrypted": false, "Values": {"A": "1", "B": ""}}', encoding="utf-8-sig")

    assert local_settings.read(path) == {"A": "1", "B": ""}
    assert read_settings_file(str(path)) == read_settings(path) == {"A": "1", "B": ""}


def test_a_number_a_boolean_and_an_object_are_each_named_with_line_and_fix(tmp_path: Path) -> None:
    path = write(tmp_path, '{\n "Values": {\n  "PORT": 3306,\n  "ON": true,\n  "Nested": {"x": "y"}\n }\n}')

    with pytest.raises(ConfigError) as raised:
        local_settings.read(path)

    problems = raised.value.problems
    assert f'{path}:3: Values.PORT: write the value as a string, e.g. "PORT": "3306"' in problems
    assert f'{path}:4: Values.ON: write the value as a string, e.g. "ON": "true"' in problems
    assert any(p.startswith(f"{path}:5: Values.Nested: app settings are flat strings") for p in problems)


def test_the_cli_and_the_host_refuse_the_same_file_the_same_way(tmp_path: Path) -> None:
    path = write(tmp_path, '{"Values": {"N": 1}}')

    with pytest.raises(ConfigError) as from_cli:
        read_settings_file(str(path))
    with pytest.raises(ConfigError) as from_host:
        read_settings(path)

    assert from_cli.value.problems == from_host.value.problems


@pytest.mark.parametrize(("text", "expected"), [
    ('{"Values": {"A": "b",}}', ":1:21: not valid JSON"),
    ('["not", "an", "object"]', 'needs an object "Values"'),
    ('{"IsEncrypted": true, "Values": {}}', "IsEncrypted: encrypted settings are not supported"),
])
def test_a_broken_file_is_one_clear_error(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(")):
        local_settings.read(write(tmp_path, text))


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        local_settings.read(tmp_path / "absent.json")
