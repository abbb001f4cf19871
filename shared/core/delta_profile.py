"""The profile of one Delta table version: the rows it added, from the log where the contract allows.

Each added file is profiled from its ``add.stats`` (``numRecords``, min/max, null counts) when those
answer every check the contract asks of it; otherwise the caller's ``read_file`` profiles the file's
Parquet (footer, then only the columns a check needs). The files' profiles are then merged.

Data is read for: drift columns (histograms), ``allowed`` lists, declared float columns (statistics
leave NaN out, as in Parquet), and any declared or freshness column whose statistics are missing.
Delta truncates timestamp statistics to milliseconds; a file with a deletion vector counts
``numRecords`` minus its deleted rows, and its bounds may be loose (rows deleted still count).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Any

from shared.core import delta_log
from shared.core.delta_log import AddedFile, Column, Commit, DeltaLogError, Metadata
from shared.core.findings import Finding
from shared.core.models import Severity
from shared.core.profile import ColumnProfile, Histogram, Profile, Scalar
from shared.core.spec import Contract

FORMAT = "delta"


def needs_data(column: Column, contract: Contract) -> bool:
    """A check on this column that statistics cannot answer (whatever the file)."""
    rule = contract.columns.get(column.name)
    if column.name in contract.drift.columns or (rule is not None and rule.allowed is not None):
        return True
    return column.type == "float" and rule is not None


def _checked(column: Column, contract: Contract) -> bool:
    freshness = contract.freshness is not None and contract.freshness.column == column.name
    return column.name in contract.columns or freshness


def file_from_stats(add: AddedFile, metadata: Metadata, contract: Contract) -> Profile | None:
    """The file's profile from its statistics, or None when a check needs its data."""
    st = add.stats
    if st is None or st.num_records is None:
        return None
    rows = max(st.num_records - add.deleted_rows, 0)
    columns: dict[str, ColumnProfile] = {}
    for c in metadata.columns:
        if c.name in metadata.partition_columns:
            value = _value(add.partition_values.get(c.name), c.type)
            columns[c.name] = _stat_column(c, rows, rows if value is None else 0, value, value)
            continue
        checked = _checked(c, contract)
        if checked and needs_data(c, contract):
            return None
        nulls = st.null_count.get(c.name)
        lo, hi = _value(st.min_values.get(c.name), c.type), _value(st.max_values.get(c.name), c.type)
        # writers keep no min/max for booleans: their null count is all the statistics say
        complete = nulls is not None and (nulls >= st.num_records or (lo is not None and hi is not None)
                                          or c.type == "boolean")
        if not complete:
            if checked and c.type in ("integer", "float", "string", "boolean", "timestamp", "date"):
                return None
            columns[c.name] = ColumnProfile(c.name, c.type)
            continue
        columns[c.name] = _stat_column(c, rows, min(nulls or 0, rows), lo, hi)
    return Profile(format=FORMAT, bytes=add.size, rows=rows, columns=MappingProxyType(columns),
                   column_order=tuple(c.name for c in metadata.columns), bytes_read=0)


def _stat_column(c: Column, rows: int, nulls: int, lo: Scalar | None, hi: Scalar | None) -> ColumnProfile:
    return ColumnProfile(c.name, c.type, count=rows - nulls, nulls=nulls, min=lo, max=hi, from_statistics=True)


def _value(raw: Any, kind: str) -> Scalar | None:
    """A statistics value as the profile's scalar; None when it is missing or not of the column's type."""
    if raw is None:
        return None
    try:
        if kind == "timestamp":
            ts = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
            return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
        if kind == "date":
            return date.fromisoformat(str(raw)[:10])
        if kind == "integer":
            return int(raw) if not isinstance(raw, bool) else None
        if kind == "float":
            value = float(raw)
            return value if math.isfinite(value) else None
        if kind == "boolean":
            return raw if isinstance(raw, bool) else str(raw).lower() == "true"
        if kind == "string":
            return str(raw)
    except (TypeError, ValueError):
        return None
    return None


def version_profile(commit: Commit, metadata: Metadata | None, contract: Contract,
                    read_file: Callable[[AddedFile], Profile]) -> tuple[Profile, int]:
    """The version's profile and how many of its files were read. Without a schema (``metadata``) every
    file is read (its Parquet footer holds the types)."""
    parts, read = [], 0
    for add in commit.data_adds:
        profile = file_from_stats(add, metadata, contract) if metadata is not None else None
        if profile is None:
            profile = _with_partitions(read_file(add), add, metadata)
            read += 1
        parts.append(profile)
    return merge(parts, schema=metadata), read


def physical_contract(contract: Contract, metadata: Metadata | None) -> Contract:
    """The contract in the data files' column names (column mapping stores columns by physical name)."""
    if metadata is None or metadata.column_mapping == "none":
        return contract
    names = {c.name: c.physical for c in metadata.columns}
    freshness = contract.freshness
    if freshness is not None and freshness.column is not None:
        freshness = replace(freshness, column=names.get(freshness.column, freshness.column))
    return replace(contract, columns=MappingProxyType({names.get(k, k): v for k, v in contract.columns.items()}),
                   drift=replace(contract.drift, columns=tuple(names.get(k, k) for k in contract.drift.columns)),
                   freshness=freshness)


def _with_partitions(profile: Profile, add: AddedFile, metadata: Metadata | None) -> Profile:
    """A file read for its data, in the table's terms: logical names (under column mapping) and the
    partition columns, which live in the log, not in the data file."""
    if metadata is None or not profile.readable:
        return profile
    if metadata.column_mapping != "none":
        logical = {c.physical: c.name for c in metadata.columns}
        profile = replace(profile, columns=MappingProxyType(
            {logical.get(k, k): replace(v, name=logical.get(k, k)) for k, v in profile.columns.items()}),
            column_order=tuple(logical.get(k, k) for k in profile.column_order))
    columns = dict(profile.columns)
    for c in metadata.columns:
        if c.name in metadata.partition_columns and c.name not in columns:
            value = _value(add.partition_values.get(c.name), c.type)
            columns[c.name] = _stat_column(c, profile.rows, profile.rows if value is None else 0, value, value)
    order = profile.column_order + tuple(n for n in metadata.partition_columns if n not in profile.column_order)
    return replace(profile, columns=MappingProxyType(columns), column_order=order)


def merge(parts: Iterable[Profile], schema: Metadata | None = None) -> Profile:
    """One profile of many files of one version (rows add up; bounds widen; moments combine)."""
    parts = list(parts)
    problems: list[Finding] = []
    for p in parts:
        problems += p.problems
    readable = [p for p in parts if p.readable]
    if parts and not readable:
        return Profile(format=FORMAT, bytes=sum(p.bytes for p in parts), rows=0, problems=tuple(problems),
                       readable=False, bytes_read=sum(p.bytes_read or 0 for p in parts))
    order: list[str] = [c.name for c in schema.columns] if schema else []
    for p in readable:
        order += [n for n in p.column_order or p.columns if n not in order]
    columns = {}
    for name in order:
        cols = [p.columns[name] for p in readable if name in p.columns]
        missing = [p for p in readable if name not in p.columns]
        if missing and schema is not None and any(c.name == name for c in schema.columns):
            # an older file of the table without this column (schema evolution): its rows are nulls
            cols.append(ColumnProfile(name, "null", nulls=sum(p.rows for p in missing), from_statistics=True))
        if cols:
            columns[name] = _merge_columns(cols)
    return Profile(format=FORMAT, bytes=sum(p.bytes for p in parts), rows=sum(p.rows for p in readable),
                   columns=MappingProxyType(columns), problems=tuple(problems),
                   complete=all(p.complete for p in parts), column_order=tuple(order),
                   bytes_read=sum(p.bytes_read or 0 for p in parts))


def _merge_columns(cols: list[ColumnProfile]) -> ColumnProfile:
    first = cols[0]
    if len(cols) == 1:
        return first
    types = [c.type for c in cols if c.type != "null"]
    kinds = list(dict.fromkeys(types))
    kind = kinds[0] if len(kinds) == 1 else ("|".join(kinds) if kinds else "null")
    lo = _extreme([c.min for c in cols], min)
    hi = _extreme([c.max for c in cols], max)
    mean, std = _moments(cols)
    return replace(
        first, type=kind, count=sum(c.count for c in cols), nulls=sum(c.nulls for c in cols), min=lo, max=hi,
        mean=mean, std=std, non_finite=sum(c.non_finite for c in cols), invalid=sum(c.invalid for c in cols),
        invalid_example=next((c.invalid_example for c in cols if c.invalid_example), None),
        invalid_row=None, below_min=_sum_counted([c.below_min for c in cols]),
        above_max=_sum_counted([c.above_max for c in cols]), not_allowed=sum(c.not_allowed for c in cols),
        not_allowed_examples=tuple(dict.fromkeys(e for c in cols for e in c.not_allowed_examples))[:3],
        formula_cells=sum(c.formula_cells for c in cols),
        formula_example=next((c.formula_example for c in cols if c.formula_example), None),
        histogram=_merge_histograms([c.histogram for c in cols if c.histogram is not None]),
        from_statistics=all(c.from_statistics for c in cols))


def _extreme(values: list[Scalar | None], pick: Callable[..., Any]) -> Scalar | None:
    present = [v for v in values if v is not None]
    try:
        return pick(present) if present else None
    except TypeError:                        # values of different kinds across a schema change
        return None


def _sum_counted(values: list[int | None]) -> int | None:
    counted = [v for v in values if v is not None]
    return sum(counted) if counted else None


def _moments(cols: list[ColumnProfile]) -> tuple[float | None, float | None]:
    """Chan's parallel mean/variance over files whose mean was computed; None when any file lacks it."""
    if any(c.mean is None for c in cols if c.count):
        return None, None
    n, mean, m2 = 0, 0.0, 0.0
    for c in cols:
        if not c.count or c.mean is None:
            continue
        k, m, s = c.count, c.mean, (c.std or 0.0)
        delta = m - mean
        total = n + k
        mean += delta * k / total
        m2 += s * s * k + delta * delta * n * k / total
        n = total
    return (mean, math.sqrt(m2 / n)) if n else (None, None)


def _merge_histograms(hists: list[Histogram]) -> Histogram | None:
    if not hists:
        return None
    h0 = hists[0]
    if any((h.lo, h.hi, len(h.counts)) != (h0.lo, h0.hi, len(h0.counts)) for h in hists):
        return None
    counts = tuple(sum(h.counts[i] for h in hists) for i in range(len(h0.counts)))
    return Histogram(h0.lo, h0.hi, counts, sum(h.below for h in hists), sum(h.above for h in hists))


def unreadable_version(message: str, size: int = 0) -> Profile:
    return Profile(format=FORMAT, bytes=size, rows=0, readable=False, bytes_read=0,
                   problems=(Finding("unreadable", Severity.FAIL, message),))


def latest_metadata(commits: Mapping[int, Commit]) -> Metadata | None:
    """The newest schema among the given commits (highest version that carries metaData)."""
    for v in sorted(commits, reverse=True):
        if commits[v].metadata is not None:
            return commits[v].metadata
    return None


def find_metadata(commit: Commit, read_commit: Callable[[int], Commit | None], max_back: int = 100) -> Metadata | None:
    """The schema in force at ``commit``: its own metaData, else the newest earlier commit's (read back
    through at most ``max_back`` commit files). None when the log was cleaned up before it (the caller
    then reads the added files' Parquet footers for types)."""
    if commit.metadata is not None:
        return commit.metadata
    for v in range(commit.version - 1, max(commit.version - 1 - max_back, -1), -1):
        earlier = read_commit(v)
        if earlier is None:
            return None
        if earlier.metadata is not None:
            return earlier.metadata
    return None


def read_version(read: Callable[[str], bytes | None], root: str, version: int, contract: Contract,
                 profile_file: Callable[[AddedFile, Contract], Profile]) -> tuple[Profile, Commit | None, int]:
    """The version's profile, its commit (None: the log is unreadable) and how many data files were read.
    ``read(name)`` returns a log file's bytes (None when it does not exist); ``profile_file(add, contract)``
    profiles one added file as Parquet."""
    text = read(root + delta_log.commit_name(version))
    if text is None:
        return unreadable_version(f"the Delta log has no commit for version {version}"), None, 0
    try:
        commit = delta_log.parse_commit(text, version)
    except DeltaLogError as exc:
        # sized as the commit (not 0): an unreadable log is not an empty version
        return unreadable_version(f"the Delta log cannot be read: {exc}", len(text)), None, 0

    def earlier(v: int) -> Commit | None:
        raw = read(root + delta_log.commit_name(v))
        try:
            return delta_log.parse_commit(raw, v) if raw is not None else None
        except DeltaLogError:
            return None

    metadata = find_metadata(commit, earlier)
    commit = delta_log.with_physical_names(commit, metadata)
    as_parquet = physical_contract(replace(contract, format="parquet"), metadata)
    profile, files_read = version_profile(commit, metadata, contract, lambda add: profile_file(add, as_parquet))
    return profile, commit, files_read
