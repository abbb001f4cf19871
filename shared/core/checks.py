"""Contract checks: compare one file's profile with its output contract (DESIGN 3.7).

Pure: no I/O, no clock (``now`` is a parameter). Every finding is collected; nothing raises on bad data.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from shared.core.findings import Finding, count_of
from shared.core.models import Severity
from shared.core.profile import ColumnProfile, Profile, Scalar
from shared.core.spec import ColumnRule, Contract

FAIL = Severity.FAIL
WARN = Severity.WARN

# Delimiters a misconfigured producer typically uses instead of the contract's.
_OTHER_DELIMITERS = (";", "\t", "|", ",")


def check(profile: Profile, contract: Contract, now: datetime, *, path: str = "") -> list[Finding]:
    """Every way ``profile`` breaks ``contract``, reading problems first. Empty list: the file passes."""
    findings = list(profile.problems)
    findings += _check_bytes(profile, contract)
    if profile.is_empty:
        if not any(f.code == "empty_file" for f in findings):
            findings.append(Finding("empty_file", FAIL, "the file is empty (0 bytes of content)"))
        return findings
    if not profile.readable:
        return findings
    findings += _check_schema(profile, contract)
    findings += _check_rows(profile, contract)
    comma_hint = profile.format in ("csv", "csv.gz") and contract.csv.decimal == "." \
        and contract.csv.delimiter != ","
    for name, rule in contract.columns.items():
        col = profile.columns.get(name)
        if col is not None:
            findings += _check_column(col, rule, profile.rows, comma_hint=comma_hint)
    for name, col in profile.columns.items():
        findings += _check_cells(col, declared=name in contract.columns)
    findings += _check_freshness(profile, contract, now, path)
    return findings


def _check_bytes(profile: Profile, contract: Contract) -> list[Finding]:
    out = []
    bounds = contract.bytes
    if bounds.min is not None and profile.bytes < bounds.min:
        out.append(Finding("byte_size", FAIL, f"the file has {_size(profile.bytes)}, below the minimum "
                                              f"{_size(bounds.min)}"))
    if bounds.max is not None and profile.bytes > bounds.max:
        out.append(Finding("byte_size", FAIL, f"the file has {_size(profile.bytes)}, above the maximum "
                                              f"{_size(bounds.max)}"))
    return out


def _check_schema(profile: Profile, contract: Contract) -> list[Finding]:
    out = []
    counts = Counter(profile.column_order or profile.columns)
    for name in sorted(n for n, times in counts.items() if times > 1):
        out.append(Finding("duplicate_column", FAIL, f"column {name!r} appears {counts[name]} times "
                                                     "in the header", column=name))
    missing = [n for n, rule in contract.columns.items() if rule.required and n not in profile.columns]
    if hint := _delimiter_hint(profile, contract, missing):
        out.append(hint)
        missing = []            # every declared column is "missing" for the same reason: say it once
    for name in missing:
        out.append(Finding("missing_column", FAIL, f"required column {name!r} is absent", column=name))
    for name in contract.forbidden_columns:
        if name in profile.columns:
            out.append(Finding("forbidden_column", FAIL, f"column {name!r} is forbidden but present",
                               column=name))
    if not contract.allow_extra_columns:
        declared = set(contract.columns) | set(contract.forbidden_columns)
        for name in profile.columns:
            if name not in declared:
                out.append(Finding("extra_column", FAIL, f"column {name!r} is not declared and extra "
                                                         "columns are not allowed", column=name))
    return out


def _delimiter_hint(profile: Profile, contract: Contract, missing: Sequence[str]) -> Finding | None:
    """One header column that splits into the missing ones on another delimiter: say so plainly."""
    if profile.format not in ("csv", "csv.gz") or len(profile.columns) != 1 or len(missing) < 1:
        return None
    header = next(iter(profile.columns))
    for delim in _OTHER_DELIMITERS:
        if delim == contract.csv.delimiter:
            continue
        parts = [p.strip().strip('"') for p in header.split(delim)]
        if len(parts) > 1 and any(p in contract.columns for p in parts):
            return Finding("wrong_delimiter", FAIL, f"the header looks delimited by {delim!r} but the "
                                                    f"contract says {contract.csv.delimiter!r}; set csv: "
                                                    f"{{delimiter: {delim!r}}}")
    return None


def _check_rows(profile: Profile, contract: Contract) -> list[Finding]:
    bounds = contract.rows
    rows = profile.rows
    qualifier = "" if profile.complete else " (counted before reading stopped)"
    if rows == 0 and (bounds.min is None or bounds.min > 0):
        if profile.format in ("csv", "csv.gz") and contract.csv.header and profile.columns:
            return [Finding("header_only", FAIL, "the file has a header but no data rows")]
        return [Finding("row_count", FAIL, "the file has no rows")]
    out = []
    if bounds.min is not None and rows < bounds.min:
        out.append(Finding("row_count", FAIL, f"the file has {count_of(rows, 'row')}{qualifier}, below "
                                              f"the minimum {bounds.min:,}"))
    if bounds.max is not None and rows > bounds.max:
        out.append(Finding("row_count", FAIL, f"the file has {count_of(rows, 'row')}{qualifier}, above "
                                              f"the maximum {bounds.max:,}"))
    return out


def _type_matches(actual: str, declared: str) -> bool:
    return actual in (declared, "null") or (declared, actual) == ("float", "integer")


_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")


def _check_column(col: ColumnProfile, rule: ColumnRule, rows: int, *, comma_hint: bool = False) -> list[Finding]:
    out: list[Finding] = []
    name = col.name
    if rule.type is not None and not _type_matches(col.type, rule.type):
        out.append(Finding("wrong_type", FAIL, f"column {name!r} is {col.type}, the contract says "
                                               f"{rule.type}", column=name))
        return out  # ranges and values of the wrong type would only repeat the same problem
    if col.invalid:
        where = f" (first at data row {col.invalid_row:,})" if col.invalid_row else ""
        example = f", e.g. {_show(col.invalid_example)}" if col.invalid_example is not None else ""
        fix = ""
        if comma_hint and rule.type == "float" and _DECIMAL_COMMA.fullmatch((col.invalid_example or "").strip()):
            fix = "; numbers with a decimal comma: set csv: {decimal: ','}"
        out.append(Finding("wrong_type", FAIL, f"column {name!r} has {count_of(col.invalid, 'value')} "
                                               f"not of type {rule.type or col.type}{example}{where}{fix}",
                           column=name))
    total = col.count + col.nulls
    if not rule.nullable and col.nulls:
        out.append(Finding("not_nullable", FAIL, f"column {name!r} must not be empty but has "
                                                 f"{count_of(col.nulls, 'empty value')}", column=name))
    if rule.max_null_fraction is not None and total and col.null_fraction > rule.max_null_fraction:
        out.append(Finding("null_fraction", FAIL, f"column {name!r} is {col.null_fraction:.1%} empty, "
                                                  f"above the limit {rule.max_null_fraction:.1%}",
                           column=name))
    if col.non_finite:
        out.append(Finding("non_finite", FAIL, f"column {name!r} has "
                                               f"{count_of(col.non_finite, 'NaN or infinite value')}", column=name))
    out += _check_range(col, rule)
    if rule.allowed is not None and col.not_allowed:
        shown = ", ".join(_show(v) for v in col.not_allowed_examples)
        out.append(Finding("not_allowed", FAIL, f"column {name!r} has {count_of(col.not_allowed, 'value')} "
                                                f"outside the allowed list (e.g. {shown})", column=name))
    return out


def _check_range(col: ColumnProfile, rule: ColumnRule) -> list[Finding]:
    out = []
    for side in ("min", "max"):
        bound = _comparable(getattr(rule, side), col.type)
        seen = col.min if side == "min" else col.max
        if bound is None or seen is None:
            continue
        try:
            broken = seen < bound if side == "min" else seen > bound  # type: ignore[operator]
        except TypeError:
            continue  # a bound of another kind than the values: the config reader's business
        if not broken:
            continue
        count = col.below_min if side == "min" else col.above_max
        word = "below the minimum" if side == "min" else "above the maximum"
        extreme = "smallest" if side == "min" else "largest"
        many = count_of(count, "value") if count else "values"
        out.append(Finding("out_of_range", FAIL, f"column {col.name!r} has {many} {word} "
                                                 f"{_show(getattr(rule, side))} ({extreme} {_show(seen)})",
                           column=col.name))
    return out


def _comparable(bound: float | str | None, col_type: str) -> Scalar | None:
    """The contract bound as a value comparable with the column's values, or None."""
    if bound is None:
        return None
    if col_type in ("timestamp", "date") and isinstance(bound, str):
        try:
            if col_type == "date":
                return date.fromisoformat(bound)
            return _aware(datetime.fromisoformat(bound))
        except ValueError:
            return None
    if col_type in ("integer", "float") and isinstance(bound, str):
        return None
    return bound


def _check_cells(col: ColumnProfile, *, declared: bool) -> list[Finding]:
    out = []
    if col.formula_cells:
        example = f", e.g. {_show(col.formula_example)}" if col.formula_example else ""
        out.append(Finding("formula_injection", WARN, f"column {col.name!r} has "
                                                      f"{count_of(col.formula_cells, 'text cell')} starting "
                                                      "with = + - or @ that a spreadsheet would run as a "
                                                      f"formula{example}", column=col.name))
    if col.non_finite and not declared:
        out.append(Finding("non_finite", WARN, f"column {col.name!r} has "
                                               f"{count_of(col.non_finite, 'NaN or infinite value')}", column=col.name))
    return out


# --- freshness ----------------------------------------------------------------------------------------

_PATH_DATE = re.compile(r"(?<!\d)(\d{4})[/-](\d{2})[/-](\d{2})(?:[/T_ -](\d{2})(?!\d))?")
_HIVE_DATE = re.compile(r"year=(\d{4})/month=(\d{1,2})/day=(\d{1,2})(?:/hour=(\d{1,2}))?")


def partition_end(path: str) -> datetime | None:
    """The end of the partition period named in ``path`` (``…/2026/11/20/…`` → 2026-11-21T00:00Z).

    The deepest date in the path wins; ``yyyy/MM/dd``, ``yyyy-MM-dd`` and ``year=/month=/day=`` are
    understood, with an optional hour. The end of the period, not its start, is the newest time the
    data can describe, so a daily file is not called stale the morning after its day.
    """
    matches = list(_PATH_DATE.finditer(path)) + list(_HIVE_DATE.finditer(path))
    if not matches:
        return None
    last = max(matches, key=lambda m: m.end())
    year, month, day, hour = last.groups()
    try:
        start = datetime(int(year), int(month), int(day), int(hour or 0), tzinfo=UTC)
    except ValueError:
        return None
    return start + (timedelta(hours=1) if hour is not None else timedelta(days=1))


def _check_freshness(profile: Profile, contract: Contract, now: datetime, path: str) -> list[Finding]:
    spec = contract.freshness
    if spec is None:
        return []
    out = []
    max_age = spec.max_age
    if spec.column is not None:
        col = profile.columns.get(spec.column)
        if col is not None and col.type in ("timestamp", "date"):
            newest = col.max
            if newest is None:
                out.append(Finding("stale_data", FAIL, f"column {spec.column!r} has no values, so the data's "
                                                       "age is unknown", column=spec.column))
            else:
                newest_at = _as_instant(newest)
                if newest_at is not None and now - newest_at > max_age:
                    out.append(Finding("stale_data", FAIL, f"the newest {spec.column!r} is {_show(newest)}, "
                                                           f"{_age(now - newest_at)} old (max_age "
                                                           f"{_age(max_age)})", column=spec.column))
    if spec.from_path:
        end = partition_end(path)
        if end is None:
            out.append(Finding("stale_data", WARN, f"no partition date (yyyy/MM/dd) in the path {path!r}, "
                                                   "so its age is unknown"))
        elif now - end > max_age:
            out.append(Finding("stale_data", FAIL, f"the partition in the path ends {_iso(end)}, "
                                                   f"{_age(now - end)} ago (max_age {_age(max_age)})"))
    return out


def _as_instant(value: Scalar) -> datetime | None:
    if isinstance(value, datetime):
        return _aware(value)
    if isinstance(value, date):  # a date covers its whole day: the newest instant is its end
        return datetime(value.year, value.month, value.day, tzinfo=UTC) + timedelta(days=1)
    return None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# --- wording ------------------------------------------------------------------------------------------


def _show(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:g}"
    if isinstance(value, (datetime, date)):
        return _iso(value)
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return repr(shown)
    return str(value)


def _iso(value: datetime | date) -> str:
    if isinstance(value, datetime):
        return _aware(value).astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value.isoformat()


def _age(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 86400 and seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds >= 86400:
        return f"{seconds / 86400:.1f}d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f}h"
    return f"{max(seconds, 0) // 60}m"


def _size(n: int) -> str:
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
