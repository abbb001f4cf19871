"""JSON Lines profiler: one JSON object per line, parsed line by line in bounded chunks.

Lines are parsed with the standard library (so a bad line is counted, with its number, instead of
stopping the read) and each chunk of rows becomes Arrow arrays for the shared column statistics.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import IO, Any

import pyarrow as pa

from shared.adapters.profilers_arrow import ARROW_TYPES, ColumnStats
from shared.adapters.profilers_io import Limits, Progress
from shared.core.findings import Finding, count_of
from shared.core.models import Severity
from shared.core.profile import Profile
from shared.core.spec import Contract

FAIL = Severity.FAIL
_CHUNK_ROWS = 20_000
_READ = 1 << 20


class _LineTooLong(Exception):
    pass


class _TooManyColumns(Exception):
    pass


def _lines(source: IO[bytes], limit: int) -> Iterator[bytes]:
    """Lines without their newline; raises _LineTooLong past ``limit`` bytes without a newline."""
    pending = b""
    while True:
        chunk = source.read(_READ)
        if not chunk:
            break
        parts = (pending + chunk).split(b"\n")
        pending = parts.pop()
        for line in parts:
            if len(line) > limit:
                raise _LineTooLong
            yield line
        if len(pending) > limit:
            raise _LineTooLong
    if pending:
        yield pending


# A \uD800-\uDFFF escape: json.loads pairs a high and a low one into one character and leaves a lone
# one in the text as a surrogate code point, which no UTF-8 encoder (stdout, a report, a table) accepts.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE = re.compile("[\ud800-\udfff]")


def _has_lone_surrogate(obj: dict[str, Any]) -> bool:
    return any(_LONE.search(k) for k in obj) or any(isinstance(v, str) and _LONE.search(v) for v in obj.values())


def _replace_lone_surrogates(obj: dict[str, Any]) -> dict[str, Any]:
    """Keys and text values with each lone surrogate replaced by U+FFFD (nested values are shown as
    escaped JSON text, which is safe as it is)."""
    return {_LONE.sub("\ufffd", k): _LONE.sub("\ufffd", v) if isinstance(v, str) else v for k, v in obj.items()}


def _valid(value: Any, target: str) -> Any:
    """``value`` as the Python value of the contract type ``target``, or _BAD."""
    if target == "integer":
        return value if isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**64 \
            else _BAD
    if target == "float":
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else _BAD
    if target == "boolean":
        return value if isinstance(value, bool) else _BAD
    if target == "string":
        return value if isinstance(value, str) else _BAD
    if not isinstance(value, str):
        return _BAD
    try:
        if target == "timestamp":
            ts = datetime.fromisoformat(value)
            return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
        return date.fromisoformat(value)
    except ValueError:
        return _BAD


_BAD = object()


class _Columns:
    """The values of a chunk of rows, per column; a row's absent keys cost nothing (no padding)."""

    def __init__(self, contract: Contract, max_columns: int) -> None:
        self.contract = contract
        self.max_columns = max_columns
        self.stats: dict[str, ColumnStats] = {}
        self.values: dict[str, list[Any]] = {}
        self.rows_at: dict[str, list[int]] = {}     # the chunk row of each value, for error messages
        self.rows_in_chunk = 0
        self.chunk_start = 0

    def add_row(self, obj: dict[str, Any]) -> None:
        for key, value in obj.items():
            column = self.values.get(key)
            if column is None:
                if key not in self.stats:
                    if len(self.stats) >= self.max_columns:
                        raise _TooManyColumns
                    stats = self.stats[key] = ColumnStats(key, self.contract)
                    stats.nulls += self.chunk_start     # absent from every earlier chunk
                column = self.values[key] = []
                self.rows_at[key] = []
            column.append(value)
            self.rows_at[key].append(self.rows_in_chunk)
        self.rows_in_chunk += 1

    def flush(self) -> None:
        for name, stats in self.stats.items():
            present = self.values.get(name, [])
            stats.nulls += self.rows_in_chunk - len(present)     # rows of this chunk without the key
            if present:
                stats.add(self._array(name, present))
        self.chunk_start += self.rows_in_chunk
        self.values, self.rows_at = {}, {}
        self.rows_in_chunk = 0

    def _array(self, name: str, values: list[Any]) -> pa.Array:
        rule = self.contract.columns.get(name)
        target = rule.type if rule is not None else None
        if target is None:
            try:
                return pa.array(values)
            except (pa.ArrowException, TypeError, ValueError, OverflowError):
                return pa.array([None if v is None else json.dumps(v) for v in values], pa.string())
        converted: list[Any] = []
        bad = 0
        first: tuple[str, int] | None = None
        for i, value in enumerate(values):
            if value is None:
                converted.append(None)
                continue
            ok = _valid(value, target)
            if ok is _BAD:
                bad += 1
                if first is None:
                    first = (json.dumps(value)[:60], self.chunk_start + self.rows_at[name][i] + 1)
                ok = None
            converted.append(ok)
        arrow_type = ARROW_TYPES[target]()
        if target == "integer" and any(v is not None and v >= 2**63 for v in converted):
            if all(v is None or v >= 0 for v in converted):
                arrow_type = pa.uint64()      # unsigned 64-bit ids above 2^63 - 1 are integers too
            else:  # beside negatives they fit no 64-bit column: the large ones are bad
                for i, v in enumerate(converted):
                    if v is not None and v >= 2**63:
                        bad += 1
                        converted[i] = None
                        row = self.chunk_start + self.rows_at[name][i] + 1
                        if first is None or row < first[1]:
                            first = (str(v), row)
        if first is not None:
            self.stats[name].add_invalid(bad, first[0], first[1])
        return pa.array(converted, arrow_type)


def profile_jsonl(source: IO[bytes], contract: Contract, *, size: int, limits: Limits,
                  progress: Progress | None) -> Profile:
    columns = _Columns(contract, limits.max_columns)
    rows = bad_json = bad_text = surrogates = first_surrogate = 0
    first_bad: tuple[int, str] | None = None
    first_text = 0
    stop: Finding | None = None
    line_no = 0
    try:
        for line_no, raw_line in enumerate(_lines(source, limits.max_line_bytes), start=1):
            line = raw_line[3:] if line_no == 1 and raw_line.startswith(b"\xef\xbb\xbf") else raw_line
            if not line.strip():
                continue
            try:
                obj = json.loads(line.decode("utf-8"))
            except UnicodeDecodeError:
                bad_text += 1
                first_text = first_text or line_no
                continue
            except (ValueError, RecursionError):
                obj = None
            if not isinstance(obj, dict):
                bad_json += 1
                first_bad = first_bad or (line_no, "is not a JSON object")
                continue
            if b"\\u" in line and _SURROGATE_ESCAPE.search(line) and _has_lone_surrogate(obj):
                obj = _replace_lone_surrogates(obj)
                surrogates += 1
                first_surrogate = first_surrogate or line_no
            columns.add_row(obj)
            rows += 1
            if columns.rows_in_chunk >= _CHUNK_ROWS:
                columns.flush()
                if progress is not None:
                    progress(source.tell(), size)
        columns.flush()
    except _TooManyColumns:
        stop = Finding("too_many_columns", FAIL, f"line {line_no:,} brings the number of distinct keys past "
                                                 f"{limits.max_columns:,}, the limit; reading stopped")
    except _LineTooLong:
        stop = Finding("line_too_long", FAIL, f"line {line_no + 1:,} is longer than {limits.max_line_bytes:,} "
                                              "bytes, the reader's limit; reading stopped")
    except (OSError, ValueError) as exc:
        stop = Finding("unreadable", FAIL, f"the file is not readable as JSON Lines: {exc}")
    problems: list[Finding] = []
    if bad_json:
        bad_no, why = first_bad or (0, "")
        if rows == 0 and not bad_text:
            problems.append(Finding("unreadable", FAIL, f"no line is a JSON object (line {bad_no:,} {why})"))
        elif bad_json:
            problems.append(Finding("unreadable", FAIL, f"{count_of(bad_json, 'line')} skipped: not a JSON "
                                                        f"object (first: line {bad_no:,} {why})"))
    if bad_text:
        problems.append(Finding("encoding", FAIL, f"{count_of(bad_text, 'line')} skipped: invalid UTF-8 "
                                                  f"(first: line {first_text:,})"))
    if surrogates:
        verb = "holds" if surrogates == 1 else "hold"
        problems.append(Finding("encoding", FAIL, f"{count_of(surrogates, 'line')} {verb} a lone UTF-16 surrogate "
                                                  "escape (e.g. \\ud800), which is not Unicode text; shown as "
                                                  f"\ufffd (first: line {first_surrogate:,})"))
    if stop is not None:
        problems.append(stop)
    if rows == 0 and not problems:
        problems.append(Finding("empty_file", FAIL, "the file has no JSON lines (only blank space)"))
    profiles = {name: st.result() for name, st in columns.stats.items()}
    return Profile(format="jsonl", bytes=size, rows=rows, columns=profiles, problems=tuple(problems),
                   complete=stop is None, readable=rows > 0, column_order=tuple(profiles))
