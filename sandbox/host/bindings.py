"""What the local host runs: the app's functions as the worker reports them (raw bindings of its
metadata response), their trigger bindings with ``%SETTING%`` expressions resolved, and the host.json
options that shape triggers.

Every problem (a missing setting, a bad schedule, an unsupported binding) is collected and raised
at once as a ConfigError naming the function, before anything starts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.host.http import compile_route
from sandbox.host.worker import IndexedFunction
from shared.core.schedule import Schedule
from shared.core.typed import Invalid
from shared.errors import ConfigError

TRIGGERS = ("timerTrigger", "queueTrigger", "blobTrigger", "httpTrigger")
DEFAULT_CONNECTION = "AzureWebJobsStorage"
_SETTING_EXPRESSION = re.compile(r"%([^%]+)%")
_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)$")


@dataclass(frozen=True)
class HostOptions:
    """The host.json settings the local host honours. Polling defaults are shorter than Azure's
    (1 minute) because a local run wants answers in seconds."""

    route_prefix: str = "api"
    max_dequeue_count: int = 5
    visibility_timeout: float = 0.0
    batch_size: int = 16
    max_polling_interval: float = 2.0

    @classmethod
    def from_host_json(cls, source: Mapping[str, Any] | str | Path | None) -> HostOptions:
        if source is None:
            return cls()
        if isinstance(source, (str, Path)):
            try:
                data = json.loads(Path(source).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ConfigError([f"cannot read host.json: {exc}"], str(source)) from exc
        else:
            data = source
        extensions = data.get("extensions") or {}
        queues = extensions.get("queues") or {}
        http = extensions.get("http") or {}
        problems: list[str] = []
        options: dict[str, Any] = {}
        if "routePrefix" in http:
            options["route_prefix"] = str(http["routePrefix"]).strip("/")
        for key, name in (("maxDequeueCount", "max_dequeue_count"), ("batchSize", "batch_size")):
            if key in queues:
                value = queues[key]
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    problems.append(f"extensions.queues.{key}: {value!r} must be a positive integer")
                else:
                    options[name] = value
        for key, name in (("visibilityTimeout", "visibility_timeout"),
                          ("maxPollingInterval", "max_polling_interval")):
            if key in queues:
                try:
                    options[name] = timespan_seconds(queues[key])
                except Invalid as exc:
                    problems.append(f"extensions.queues.{key}: {exc}")
        if problems:
            raise ConfigError(problems, "host.json")
        return cls(**options)


def timespan_seconds(value: object) -> float:
    """A host.json TimeSpan (``"00:00:30"``, ``"1.00:00:00"``) or a number of milliseconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value) / 1000.0
    match = _TIMESPAN.match(value) if isinstance(value, str) else None
    if match is None:
        raise Invalid(f"{value!r} is not a TimeSpan such as '00:00:30'")
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


@dataclass(frozen=True)
class Function:
    """One function of the app as the worker reported it: its trigger binding (settings resolved),
    the worker's function id, and whether the worker asked for an SDK-type (deferred) binding."""

    name: str
    trigger: str
    binding: Mapping[str, Any]
    function_id: str
    arg_name: str
    deferred: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)   # per-trigger parsed values


def resolve(value: str, settings: Mapping[str, str], missing: list[str]) -> str:
    """Replace every ``%NAME%`` by the setting's value; remember names that are not set."""
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in settings:
            missing.append(name)
            return match.group(0)
        return settings[name]
    return _SETTING_EXPRESSION.sub(replace, value)


def connection_string(setting: str, settings: Mapping[str, str]) -> str:
    """The connection string a binding's ``connection`` names (the host also tries the
    ``AzureWebJobs`` prefix). Raises Invalid with the fix when it is not usable locally."""
    name = setting or DEFAULT_CONNECTION
    for candidate in (name, f"AzureWebJobs{name}"):
        if settings.get(candidate):
            return settings[candidate]
    if any(key.startswith(f"{name}__") for key in settings):
        raise Invalid(f"connection {name!r} is identity-based ({name}__...); the sandbox host needs "
                      f"{name} set to a connection string")
    raise Invalid(f"connection setting {name!r} is not set; set it to a storage connection string")


def index_app(app: Any) -> list[Any]:
    """``app.get_functions()``, indexed afresh as a new worker would: get_functions() remembers the
    names it has seen to reject duplicates, so a second call in one process would fail."""
    if hasattr(app, "functions_bindings"):
        app.functions_bindings = None
    return list(app.get_functions())


def disabled(name: str, settings: Mapping[str, str]) -> bool:
    """The Functions host's switch: app setting ``AzureWebJobs.<name>.Disabled`` = true (or 1)."""
    value = settings.get(f"AzureWebJobs.{name}.Disabled", "")
    return value.strip().lower() in ("true", "1")


def functions_from_metadata(indexed: list[IndexedFunction], settings: Mapping[str, str]) -> list[Function]:
    """What the host makes of the worker's metadata (raw bindings): the functions it will trigger.
    Raise ConfigError naming every problem at once."""
    problems: list[str] = []
    functions: list[Function] = []
    for fn in indexed:
        if disabled(fn.name, settings):
            continue
        triggers = [b for b in fn.bindings if str(b.get("type", "")).endswith("Trigger")]
        if len(triggers) != 1 or triggers[0]["type"] not in TRIGGERS:
            kinds = [str(b["type"]) for b in triggers] or ["none"]
            problems.append(f"function {fn.name}: trigger {', '.join(kinds)} is not supported by the "
                            f"sandbox host (supported: {', '.join(TRIGGERS)})")
            continue
        trigger = triggers[0]
        others = [b for b in fn.bindings if b is not trigger
                  and not (trigger["type"] == "httpTrigger" and b["type"] == "http")]
        for other in others:
            problems.append(f"function {fn.name}: {other['type']} binding {other['name']!r} is not "
                            "supported by the sandbox host; use the storage SDK through an adapter")
        missing: list[str] = []
        resolved = {key: resolve(value, settings, missing) if isinstance(value, str) else value
                    for key, value in trigger.items()}
        for setting in dict.fromkeys(missing):
            problems.append(f"function {fn.name}: app setting {setting!r} used in the {trigger['type']} "
                            "binding is not set")
        if missing:
            continue
        try:
            extra = _parse_trigger(fn.name, resolved, settings)
        except Invalid as exc:
            problems.append(f"function {fn.name}: {trigger['type']}: {exc}")
            continue
        functions.append(Function(fn.name, trigger["type"], resolved, fn.function_id, trigger["name"],
                                  fn.deferred, extra))
    if problems:
        raise ConfigError(problems, "function app")
    return functions


def _parse_trigger(name: str, binding: Mapping[str, Any], settings: Mapping[str, str]) -> dict[str, Any]:
    kind = binding["type"]
    if kind == "timerTrigger":
        return {"schedule": Schedule.parse(binding.get("schedule")),
                "run_on_startup": bool(binding.get("runOnStartup", False))}
    if kind == "queueTrigger":
        queue = str(binding.get("queueName") or "")
        if not re.fullmatch(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}", queue):
            raise Invalid(f"queue name {queue!r} is not a valid storage queue name")
        return {"queue": queue, "connection": connection_string(binding.get("connection", ""), settings)}
    if kind == "blobTrigger":
        container, pattern, prefix = blob_path(str(binding.get("path") or ""))
        return {"container": container, "pattern": pattern, "prefix": prefix,
                "connection": connection_string(binding.get("connection", ""), settings)}
    route = str(binding.get("route") or name)   # the host's default route is the function name
    methods = [str(m).upper() for m in binding.get("methods") or []]
    return {"route": route, "matcher": compile_route(route), "methods": frozenset(methods),
            "auth_level": str(binding.get("authLevel") or "FUNCTION").upper()}


def blob_path(path: str) -> tuple[str, re.Pattern[str], str]:
    """``container/pattern`` of a blob trigger → container, regex over blob names, listing prefix."""
    container, _, pattern = path.partition("/")
    if not re.fullmatch(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}", container):
        raise Invalid(f"path {path!r}: {container!r} is not a valid container name")
    regex, position, names = "", 0, set()
    for match in re.finditer(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", pattern):
        if match.group(1) in names:
            raise Invalid(f"path {path!r}: {{{match.group(1)}}} appears twice")
        names.add(match.group(1))
        regex += re.escape(pattern[position:match.start()]) + f"(?P<{match.group(1)}>.+?)"
        position = match.end()
    regex += re.escape(pattern[position:])
    prefix = pattern.split("{", 1)[0]
    return container, re.compile(regex if pattern else ".+"), prefix
