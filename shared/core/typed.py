"""Turn plain mappings (parsed YAML or JSON) into frozen dataclasses, collecting every problem.

A problem carries the path of the offending field (``("datasets", 0, "upstream", "marker")``) so that
the config reader can add the file and line. Unknown keys, missing required fields and wrong types are
all problems; the first one never hides the others.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

PathPart = str | int
Path = tuple[PathPart, ...]


@dataclasses.dataclass(frozen=True)
class Problem:
    path: Path
    message: str

    def where(self) -> str:
        return render_path(self.path)


def render_path(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "(top level)"


class Invalid(Exception):
    """Raised by a ``parse`` hook: the message says what is wrong with the value."""


_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*)+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object) -> timedelta:
    """``90s``, ``15m``, ``1h30m``, ``7d``, ``2w``. A number without a unit is refused (0 aside): read as
    seconds, ``cadence: 24`` meant as hours would call every dataset late within a minute."""
    if isinstance(value, bool):
        raise Invalid("expected a duration such as 15m, 1h or 7d, got a boolean")
    if isinstance(value, str) and re.fullmatch(r"\s*\d+(?:\.\d+)?\s*", value):
        value = float(value)
    if isinstance(value, (int, float)):
        if value < 0:
            raise Invalid("a duration cannot be negative")
        if value:
            shown = f"{value:g}"
            raise Invalid(f"the duration {shown} has no unit; write {shown}s, {shown}m, {shown}h or {shown}d")
        return timedelta(0)
    if isinstance(value, str) and _DURATION.match(value.lower()):
        seconds = sum(float(n) * _UNITS[u] for n, u in _DURATION_PART.findall(value.lower()))
        return timedelta(seconds=seconds)
    raise Invalid(f"expected a duration such as 15m, 1h or 7d, got {value!r}")


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb|kib|mib|gib|tib)?\s*$")
_SIZE_UNITS = {None: 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
               "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_size(value: object) -> int:
    """``512``, ``10KB``, ``1.5GB``, ``64MiB`` → bytes."""
    if isinstance(value, bool):
        raise Invalid("expected a size such as 10MB, got a boolean")
    if isinstance(value, int):
        if value < 0:
            raise Invalid("a size cannot be negative")
        return value
    if isinstance(value, float):
        return parse_size(str(value))
    if isinstance(value, str) and (m := _SIZE.match(value.lower())):
        return int(float(m.group(1)) * _SIZE_UNITS[m.group(2)])
    raise Invalid(f"expected a size such as 512KB or 10GB, got {value!r}")


class Duration(timedelta):
    """Marker type: a field of this type accepts ``15m``-style strings."""


class ByteSize(int):
    """Marker type: a field of this type accepts ``10GB``-style strings."""


def coerce[T](cls: type[T], value: object, path: Path = ()) -> tuple[T | None, list[Problem]]:
    """Build ``cls`` from ``value``. Returns the object (None if any problem) and every problem."""
    problems: list[Problem] = []
    result = _coerce(cls, value, path, problems)
    return (None if problems else typing.cast(T, result)), problems


def _type_name(tp: object) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
             Duration: "a duration (15m, 1h, 7d)", ByteSize: "a size (512KB, 10GB)"}
    if tp in names:
        return names[tp]
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (tuple, list):
        return "a list"
    if origin in (dict, Mapping):
        return "a mapping"
    return getattr(tp, "__name__", str(tp))


def _got(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {value}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


def _coerce(tp: Any, value: object, path: Path, problems: list[Problem]) -> Any:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        real = [o for o in options if o is not type(None)]
        if len(real) == 1:
            return _coerce(real[0], value, path, problems)
        for option in real:
            trial: list[Problem] = []
            out = _coerce(option, value, path, trial)
            if not trial:
                return out
        problems.append(Problem(path, f"expected {' or '.join(_type_name(o) for o in real)}, got {_got(value)}"))
        return None
    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed or isinstance(value, bool) != isinstance(allowed[0], bool):
            problems.append(Problem(path, f"expected {_type_name(tp)}, got {_got(value)}"))
        return value
    if origin in (tuple, list):
        args = get_args(tp)
        item_tp = args[0] if args else Any
        if isinstance(value, str) and item_tp is str:
            value = [value]
        if not isinstance(value, (list, tuple)):
            problems.append(Problem(path, f"expected a list, got {_got(value)}"))
            return ()
        return tuple(_coerce(item_tp, v, (*path, i), problems) for i, v in enumerate(value))
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        args = get_args(tp)
        val_tp = args[1] if len(args) == 2 else Any
        if not isinstance(value, Mapping):
            problems.append(Problem(path, f"expected a mapping, got {_got(value)}"))
            return {}
        built: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                problems.append(Problem(path, f"keys must be strings, got {_got(k)}"))
                continue
            built[k] = _coerce(val_tp, v, (*path, k), problems)
        return types.MappingProxyType(built)
    if tp is Any:
        return value
    hook = getattr(tp, "parse", None)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type) and hook is None:
        return _coerce_dataclass(tp, value, path, problems)
    if tp in (Duration, ByteSize) or hook is not None:
        try:
            if tp is Duration:
                return parse_duration(value)
            if tp is ByteSize:
                return parse_size(value)
            assert hook is not None
            return hook(value)
        except Invalid as exc:
            problems.append(Problem(path, str(exc)))
            return None
    if tp is bool:
        if not isinstance(value, bool):
            problems.append(Problem(path, f"expected true or false, got {_got(value)}"))
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(Problem(path, f"expected an integer, got {_got(value)}"))
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(Problem(path, f"expected a number, got {_got(value)}"))
            return value
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            problems.append(Problem(path, f"expected a string, got {_got(value)}"))
        return value
    raise TypeError(f"typed.coerce does not know how to build {tp!r}")  # a programming error


def _coerce_dataclass(tp: type, value: object, path: Path, problems: list[Problem]) -> Any:
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        problems.append(Problem(path, f"expected a mapping, got {_got(value)}"))
        return None
    hints = get_type_hints(tp)
    fields = {f.name: f for f in dataclasses.fields(tp) if f.init}
    kwargs: dict[str, Any] = {}
    for key in value:
        if key not in fields:
            known = ", ".join(sorted(fields))
            problems.append(Problem((*path, str(key)), f"unknown field {key!r} (known fields: {known})"))
    before = len(problems)
    for name, f in fields.items():
        if name in value:
            kwargs[name] = _coerce(hints[name], value[name], (*path, name), problems)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            problems.append(Problem((*path, name), f"required field {name!r} is missing"))
    if len(problems) > before:
        return None
    try:
        obj = tp(**kwargs)
    except Invalid as exc:  # __post_init__ cross-field checks
        problems.append(Problem(path, str(exc)))
        return None
    return obj
