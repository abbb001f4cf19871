"""One Delta Lake commit, read from its ``_delta_log/<20-digit version>.json`` text (Delta protocol).

A commit is JSON lines of actions: ``add``, ``remove``, ``metaData``, ``protocol``, ``commitInfo`` (and
others we ignore: ``txn``, ``cdc``, ``domainMetadata``...). Validating one version needs only its own
commit: the files it added carry ``numRecords`` and per-column ``minValues`` / ``maxValues`` /
``nullCount`` in ``add.stats`` (a JSON string, absent when the writer skipped statistics, nested for
struct columns). Checkpoints are never needed for that.

Column mapping (``delta.columnMapping.mode`` = name or id): statistics are keyed by physical names; the
schema's ``delta.columnMapping.physicalName`` metadata maps them back to the logical names contracts use.

Malformed text raises ``DeltaLogError``: the caller turns it into an ``unreadable`` finding.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_COMMIT = re.compile(r"(?:^|/)_delta_log/(\d{20})\.json$")
# What the contract calls each Delta primitive type (DESIGN 3.7); anything else keeps Delta's name.
_TYPES = {"long": "integer", "integer": "integer", "short": "integer", "byte": "integer",
          "float": "float", "double": "float", "string": "string", "boolean": "boolean",
          "timestamp": "timestamp", "timestamp_ntz": "timestamp", "date": "date"}


class DeltaLogError(ValueError):
    """The commit text is not a Delta log we can read."""


@dataclass(frozen=True)
class FileStats:
    """``add.stats`` of one data file; ``None`` fields were not recorded by the writer."""

    num_records: int | None = None
    min_values: Mapping[str, Any] = field(default_factory=dict)   # flattened: "a.b" for nested
    max_values: Mapping[str, Any] = field(default_factory=dict)
    null_count: Mapping[str, int] = field(default_factory=dict)
    tight_bounds: bool = True


@dataclass(frozen=True)
class AddedFile:
    path: str                            # relative to the table root, URL-decoded
    size: int
    stats: FileStats | None              # None: no statistics written
    data_change: bool = True
    deleted_rows: int = 0                # deletion vector cardinality (rows of the file that are deleted)
    partition_values: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Column:
    name: str                            # logical name
    type: str                            # contract word (integer, float...) or Delta's own name
    nullable: bool = True
    physical: str = ""                   # physical name under column mapping, else the logical name


@dataclass(frozen=True)
class Metadata:
    columns: tuple[Column, ...]
    partition_columns: tuple[str, ...] = ()
    configuration: Mapping[str, str] = field(default_factory=dict)

    @property
    def column_mapping(self) -> str:
        return self.configuration.get("delta.columnMapping.mode", "none")


@dataclass(frozen=True)
class Commit:
    version: int
    adds: tuple[AddedFile, ...] = ()
    removes: tuple[str, ...] = ()
    metadata: Metadata | None = None     # present when the commit sets or changes the schema
    operation: str = ""                  # commitInfo.operation, e.g. WRITE, MERGE, OPTIMIZE
    timestamp_ms: int | None = None
    reader_features: tuple[str, ...] = ()

    @property
    def data_adds(self) -> tuple[AddedFile, ...]:
        """Files whose rows are new data (OPTIMIZE rewrites files with ``dataChange: false``)."""
        return tuple(a for a in self.adds if a.data_change)


def commit_version(name: str) -> int | None:
    """The version of a commit file name (``.../_delta_log/00000000000000000003.json`` → 3), else None."""
    m = _COMMIT.search(name)
    return int(m.group(1)) if m else None


def commit_name(version: int) -> str:
    return f"_delta_log/{version:020d}.json"


def table_root(name: str) -> str:
    """The table's folder of a blob under ``_delta_log/`` ("" for a table at the container root)."""
    i = name.find("_delta_log/")
    return name[:i] if i >= 0 else ""


def parse_commit(text: str | bytes, version: int) -> Commit:
    """Parse one commit. Raises ``DeltaLogError`` (with the line number) for anything malformed."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DeltaLogError(f"commit {version} is not UTF-8 text: {exc.reason}") from exc
    adds: list[AddedFile] = []
    removes: list[str] = []
    metadata: Metadata | None = None
    operation, ts = "", None
    features: tuple[str, ...] = ()
    raw_adds: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            action = json.loads(line)
        except ValueError as exc:
            raise DeltaLogError(f"commit {version} line {number} is not JSON: {exc}") from exc
        if not isinstance(action, dict) or len(action) != 1:
            raise DeltaLogError(f"commit {version} line {number} is not one action object")
        (kind, body), = action.items()
        if not isinstance(body, dict):
            raise DeltaLogError(f"commit {version} line {number}: {kind} is not an object")
        try:
            if kind == "add":
                raw_adds.append((number, body))
            elif kind == "remove":
                removes.append(str(body["path"]))
            elif kind == "metaData":
                metadata = _metadata(body)
            elif kind == "protocol":
                features = tuple(str(f) for f in body.get("readerFeatures") or ())
            elif kind == "commitInfo":
                operation = str(body.get("operation") or "")
                ts = body.get("timestamp") if isinstance(body.get("timestamp"), int) else None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DeltaLogError(f"commit {version} line {number}: malformed {kind} action ({exc!r})") from exc
    physical = {c.physical: c.name for c in metadata.columns} if metadata else {}
    for number, body in raw_adds:
        try:
            adds.append(_add(body, physical))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DeltaLogError(f"commit {version} line {number}: malformed add action ({exc!r})") from exc
    if not adds and not removes and metadata is None and not operation and not features:
        raise DeltaLogError(f"commit {version} holds no Delta action")
    return Commit(version, tuple(adds), tuple(removes), metadata, operation, ts, features)


def with_physical_names(commit: Commit, metadata: Metadata | None) -> Commit:
    """Re-key statistics from physical to logical names with a schema from an earlier commit."""
    if metadata is None or metadata.column_mapping == "none" or commit.metadata is not None:
        return commit
    names = {c.physical: c.name for c in metadata.columns}
    adds = tuple(a if a.stats is None else AddedFile(
        a.path, a.size, _rename(a.stats, names), a.data_change, a.deleted_rows, a.partition_values)
        for a in commit.adds)
    return Commit(commit.version, adds, commit.removes, commit.metadata, commit.operation,
                  commit.timestamp_ms, commit.reader_features)


def _rename(stats: FileStats, names: Mapping[str, str]) -> FileStats:
    def go(d: Mapping[str, Any]) -> dict[str, Any]:
        return {names.get(k, k): v for k, v in d.items()}
    return FileStats(stats.num_records, go(stats.min_values), go(stats.max_values), go(stats.null_count),
                     stats.tight_bounds)


def _metadata(body: dict[str, Any]) -> Metadata:
    schema = json.loads(body["schemaString"])
    if not isinstance(schema, dict) or not isinstance(schema.get("fields"), list):
        raise ValueError("schemaString is not a struct with fields")
    columns = []
    for f in schema["fields"]:
        t = f["type"]
        if isinstance(t, dict):
            kind = str(t.get("type", "struct"))
        else:
            t = str(t)
            kind = "float" if t.startswith("decimal") else _TYPES.get(t, t)
        meta = f.get("metadata") or {}
        physical = str(meta.get("delta.columnMapping.physicalName") or f["name"])
        columns.append(Column(str(f["name"]), kind, bool(f.get("nullable", True)), physical))
    config = {str(k): str(v) for k, v in (body.get("configuration") or {}).items()}
    return Metadata(tuple(columns), tuple(str(c) for c in body.get("partitionColumns") or ()), config)


def _add(body: dict[str, Any], physical: Mapping[str, str]) -> AddedFile:
    from urllib.parse import unquote

    stats = None
    raw = body.get("stats")
    if isinstance(raw, str) and raw.strip():
        parsed = json.loads(raw)
        if not isinstance(parsed, dict):
            raise ValueError("stats is not a JSON object")
        stats = _stats(parsed, physical)
    dv = body.get("deletionVector")
    deleted = int(dv.get("cardinality", 0)) if isinstance(dv, dict) else 0
    size = int(body["size"])
    if size < 0:
        raise ValueError("size is negative")
    return AddedFile(unquote(str(body["path"])), size, stats, bool(body.get("dataChange", True)), deleted,
                     dict(body.get("partitionValues") or {}))


def _stats(raw: dict[str, Any], physical: Mapping[str, str]) -> FileStats:
    n = raw.get("numRecords")
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 0):
        raise ValueError(f"numRecords {n!r} is not a count")
    nulls = {k: v for k, v in _flatten(raw.get("nullCount"), physical).items() if isinstance(v, int)}
    return FileStats(n, _flatten(raw.get("minValues"), physical), _flatten(raw.get("maxValues"), physical),
                     nulls, bool(raw.get("tightBounds", True)))


def _flatten(d: Any, physical: Mapping[str, str], prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {}
    out: dict[str, Any] = {}
    for k, v in d.items():
        name = physical.get(k, k) if not prefix else k
        if isinstance(v, dict):
            out.update(_flatten(v, physical, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = v
    return out
