"""The pipelines config (YAML) and the output contracts: the only reader of either.

Parsed into frozen objects (``shared.core.spec``); every problem is collected and reported at once,
naming the file, line and field. ``load_all`` reads the app settings (``shared.settings``) and the
pipelines config together and adds the checks that need both.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path as FsPath
from typing import Any

from shared.core import spec
from shared.core.typed import Path, Problem, coerce, render_path
from shared.errors import ConfigError
from shared.settings import Settings, load_settings


def _yaml_to_python(text: str, source: str) -> tuple[Any, dict[Path, int], list[str]]:
    """Parse YAML keeping the line of every value. Duplicate keys are problems, not silent overrides."""
    import yaml  # only the config reader needs it

    problems: list[str] = []
    lines: dict[Path, int] = {}
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        reason = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        raise ConfigError([f"{where}: not valid YAML: {reason}" + (f" ({context})" if context else "")],
                          source) from exc
    finally:
        loader.dispose()

    def build(node: Any, path: Path) -> Any:
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                # Keys are names: YAML 1.1 would read `on:` or `yes:` as a boolean key.
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) \
                    else loader.construct_object(key_node, deep=True)
                if isinstance(key, (list, dict)):
                    problems.append(f"{source}:{key_node.start_mark.line + 1}: {render_path(path)}: "
                                    "a key must be a plain value")
                    continue
                if key in out:
                    problems.append(f"{source}:{key_node.start_mark.line + 1}: "
                                    f"{render_path((*path, key))}: duplicate key {key!r}")
                out[key] = build(value_node, (*path, key))
                lines[(*path, key)] = key_node.start_mark.line + 1
            return out
        if isinstance(node, yaml.SequenceNode):
            return [build(item, (*path, i)) for i, item in enumerate(node.value)]
        try:
            return loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            problems.append(f"{source}:{node.start_mark.line + 1}: {render_path(path)}: {exc}")
            return None
        except ValueError:
            # Looks like a date or time but is none (2026-13-01): kept as the text it is, for the field's
            # own check to name (PyYAML would raise from deep inside its constructor).
            return node.value

    data = build(root, ()) if root is not None else None
    return data, lines, problems


def _line_of(path: Path, lines: Mapping[Path, int]) -> int | None:
    for cut in range(len(path), -1, -1):
        if path[:cut] in lines:
            return lines[path[:cut]]
    return None


def render_problems(problems: list[Problem], lines: Mapping[Path, int], source: str) -> list[str]:
    out = []
    for p in problems:
        line = _line_of(p.path, lines)
        out.append(f"{source}:{line}: {p.where()}: {p.message}" if line else f"{source}: {p.where()}: {p.message}")
    return out


def parse_yaml_as(cls: type[Any], text: str, source: str) -> Any:
    """Parse ``text`` as YAML into ``cls``; ConfigError lists every problem with file and line."""
    data, lines, problems = _yaml_to_python(text, source)
    if data is None:
        raise ConfigError([f"{source}: the file is empty; it needs a mapping"], source)
    obj, typed_problems = coerce(cls, data)
    if obj is not None and hasattr(obj, "datasets"):
        typed_problems += spec.check(obj)
    elif isinstance(obj, spec.Contract):
        typed_problems += spec.check_contract(obj)
    problems += render_problems(typed_problems, lines, source)
    if problems:
        raise ConfigError(problems, source)
    return obj


def read_text(path: str | FsPath, what: str) -> str:
    try:
        return FsPath(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise ConfigError([f"{path}: {what} not found"], str(path)) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: {what} cannot be read: {exc}"], str(path)) from exc


def load_pipelines(path: str | FsPath) -> spec.PipelinesConfig:
    """Read and validate the pipelines config file."""
    result: spec.PipelinesConfig = parse_yaml_as(spec.PipelinesConfig, read_text(path, "pipelines config"),
                                                 str(path))
    return result


def load_contract(path: str | FsPath) -> spec.Contract:
    """Read an output contract (the ``output.contract`` block on its own, DESIGN 3.7)."""
    result: spec.Contract = parse_yaml_as(spec.Contract, read_text(path, "contract"), str(path))
    return result


def app_root() -> FsPath:
    return FsPath(__file__).resolve().parent.parent


def _default_workspaces(pipelines: spec.PipelinesConfig, default: str) -> tuple[spec.PipelinesConfig, list[str]]:
    """Fill in POWERBI_WORKSPACE_ID where a powerbi entry names no workspace."""
    missing: list[str] = []
    datasets = []
    for ds in pipelines.datasets:
        targets = []
        for target in ds.powerbi:
            if not target.workspace and not default:
                missing.append(ds.name)
            targets.append(target if target.workspace else dataclasses.replace(target, workspace=default))
        datasets.append(dataclasses.replace(ds, powerbi=tuple(targets)))
    return dataclasses.replace(pipelines, datasets=tuple(datasets)), missing


BLOB_PREFIX = "blob://"
_CONTAINER = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$")

Fetch = Callable[[Settings, str, str], str]   # (settings, container, name) → the blob's text


def blob_location(value: str) -> tuple[str, str] | None:
    """``blob://container/path.yaml`` → (container, name) in the app storage; None for a file path.
    Raises ConfigError when it starts like a blob but does not name one."""
    if not value.startswith(BLOB_PREFIX):
        return None
    container, _, name = value[len(BLOB_PREFIX):].partition("/")
    if not _CONTAINER.match(container) or not name or name.endswith("/"):
        raise ConfigError([f"PIPELINES_CONFIG: {value!r} must name a blob as blob://<container>/<path>.yaml "
                           "(a container of 3-63 lowercase letters, digits and hyphens)"], "app settings")
    return container, name


def parse_pipelines(text: str, source: str) -> spec.PipelinesConfig:
    """A pipelines config from its text (a file's or a blob's); ConfigError names file, line and field."""
    result: spec.PipelinesConfig = parse_yaml_as(spec.PipelinesConfig, text, source)
    return result


def against_settings(settings: Settings, pipelines: spec.PipelinesConfig,
                     source: str) -> tuple[spec.PipelinesConfig, list[str]]:
    """The checks that need both: the watched container, default Power BI workspaces, a factory to run
    pipelines in. Returns the config with defaults filled in, and every problem."""
    problems = [f"{source}: datasets.{ds.name}.output.container: {ds.output.container!r} is not the "
                f"container the output guard watches (OUTPUT_CONTAINER={settings.output_container!r})"
                for ds in pipelines.datasets
                if ds.output is not None and ds.output.container != settings.output_container]
    pipelines, missing = _default_workspaces(pipelines, settings.powerbi.default_workspace)
    problems += [f"{source}: datasets.{name}.powerbi: names no workspace and POWERBI_WORKSPACE_ID is not set"
                 for name in missing]
    problems += _engine_problems(settings, pipelines, source)
    return pipelines, problems


ENGINE_SETTINGS = {"adf": "ADF_SUBSCRIPTION_ID, ADF_RESOURCE_GROUP, ADF_FACTORY_NAME",
                   "synapse": "SYNAPSE_WORKSPACE (or SYNAPSE_ENDPOINT)", "fabric": "FABRIC_WORKSPACE_ID"}


def _engine_problems(settings: Settings, pipelines: spec.PipelinesConfig, source: str) -> list[str]:
    """Each dataset that runs pipelines needs its engine's settings: name the datasets and the settings."""
    configured = {"adf": settings.factory is not None, "synapse": settings.synapse is not None,
                  "fabric": settings.fabric is not None}
    needing: dict[str, list[str]] = {}
    for ds in pipelines.datasets:
        if (ds.pipeline or ds.retrain) and not configured[ds.engine]:
            needing.setdefault(ds.engine, []).append(ds.name)
    return [f"{ENGINE_SETTINGS[engine]}: not set, but {source} runs the pipelines of dataset(s) "
            f"{', '.join(names)} on {engine} (pipeline.engine: {engine})" for engine, names in needing.items()]


def checked(settings: Settings, text: str, source: str) -> spec.PipelinesConfig:
    """Parse and check a pipelines config against the settings; ConfigError lists every problem."""
    pipelines, problems = against_settings(settings, parse_pipelines(text, source), source)
    if problems:
        raise ConfigError(problems, source)
    return pipelines


def load_all(env: Mapping[str, str] | None = None,
             fetch: Fetch | None = None) -> tuple[Settings, spec.PipelinesConfig]:
    """Settings and pipelines config together; problems from both are reported in one error.

    ``PIPELINES_CONFIG`` is a path (relative to the app root) or ``blob://container/path.yaml`` in the
    app storage, read through ``fetch``.
    """
    problems: list[str] = []
    settings = pipelines = None
    try:
        settings = load_settings(env)
    except ConfigError as exc:
        problems += exc.problems
    env_map = dict(os.environ if env is None else env)
    value = env_map.get("PIPELINES_CONFIG") or "pipelines.yaml"
    source = value
    try:
        blob = blob_location(value)
        if blob is None:
            config_path = FsPath(value)
            if not config_path.is_absolute():
                config_path = app_root() / config_path
            source = str(config_path)
            pipelines = parse_pipelines(read_text(config_path, "pipelines config"), source)
        elif fetch is None:
            problems.append(f"PIPELINES_CONFIG: {value} names a blob, which this command does not read; "
                            "check a local copy with --pipelines FILE")
        elif settings is not None:
            pipelines = parse_pipelines(fetch(settings, *blob), value)
    except ConfigError as exc:
        problems += exc.problems
    if settings is not None and pipelines is not None:
        pipelines, cross = against_settings(settings, pipelines, source)
        problems += cross
    if problems:
        raise ConfigError(problems, "configuration")
    assert settings is not None and pipelines is not None
    return settings, pipelines
