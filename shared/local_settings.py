"""The one reader of ``local.settings.json`` (the CLI's ``--settings`` and the local host's).

The file is what Core Tools reads locally: ``{"IsEncrypted": false, "Values": {"NAME": "value", ...}}``.
Its values are app settings, and app settings are strings. Core Tools quietly drops every setting when
one value is an object or an array; a number or a boolean would reach the app as .NET writes it
(``true`` as ``"True"``). Here each of those is an error naming the file, line and setting, with the fix.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from shared.errors import ConfigError


def _line_of(text: str, key: str) -> int:
    found = re.search(r'"' + re.escape(key) + r'"\s*:', text)
    return text.count("\n", 0, found.start()) + 1 if found else 1


def read(path: str | Path) -> dict[str, str]:
    """The ``Values`` of a local.settings.json; ConfigError naming every problem at once."""
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")   # editors on Windows write a BOM
    except OSError as exc:
        raise ConfigError([f"{where}: cannot be read: {exc.strerror or exc}"], where) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{where}: is not UTF-8 text ({exc.reason} at byte {exc.start})"], where) from exc
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError([f"{where}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}"], where) from exc
    values = body.get("Values") if isinstance(body, dict) else None
    if not isinstance(values, dict):
        raise ConfigError([f'{where}: needs an object "Values" holding the app settings, e.g. '
                           '{"Values": {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}}'], where)
    problems = []
    if isinstance(body, dict) and body.get("IsEncrypted") is True:
        problems.append(f"{where}:{_line_of(text, 'IsEncrypted')}: IsEncrypted: encrypted settings are not "
                        "supported here; decrypt them (func settings decrypt) or set IsEncrypted to false")
    for key, value in values.items():
        if isinstance(value, str):
            continue
        line = _line_of(text, key)
        if isinstance(value, (dict, list)):
            problems.append(f"{where}:{line}: Values.{key}: app settings are flat strings, not "
                            f"{'objects' if isinstance(value, dict) else 'arrays'}; use NAME__child keys")
        else:
            problems.append(f"{where}:{line}: Values.{key}: write the value as a string, e.g. "
                            f"\"{key}\": {json.dumps(json.dumps(value))}")
    if problems:
        raise ConfigError(problems, where)
    return {str(k): str(v) for k, v in values.items()}
