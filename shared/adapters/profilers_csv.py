"""CSV (and gzip CSV) profiler on pyarrow's streaming reader, with the contract's column types declared.

Declared types make the read fast and strict. When a value does not convert, the read starts again
with that column read as text and converted batch by batch ("lenient"), so every bad value is counted
instead of the first one stopping the read; a second such column makes every declared column lenient,
so a file is read at most three times.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import threading
from datetime import UTC, date, datetime
from typing import IO, Any, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from shared.adapters import profilers_csv_dialect as dialect
from shared.adapters.profilers_arrow import ARROW_TYPES, ColumnStats, empty_text, null_text
from shared.adapters.profilers_io import (
    CorruptGzip,
    DecompressionLimit,
    GunzipReader,
    Limits,
    PassView,
    Progress,
    sniff_text,
    unreadable,
    use_threads,
)
from shared.core.findings import Finding, count_of
from shared.core.models import Severity
from shared.core.profile import Profile
from shared.core.spec import Contract

FAIL = Severity.FAIL
NULL_VALUES = ["", "NULL", "null", "NA", "N/A", "n/a", "#N/A"]   # not NaN: that is a float, counted apart
_CONVERSION = re.compile(r"In CSV column #(\d+): (?:Row #\d+: )?CSV conversion error to ([^:]+): (.*)", re.S)
_INT = re.compile(r"[+-]?\d{1,20}")
_INT64_MAX, _UINT64_MAX = 2**63 - 1, 2**64 - 1
_TRUE, _FALSE = frozenset({"true", "1"}), frozenset({"false", "0"})


class _Restart(Exception):
    """A column's values do not convert: read again with that column lenient."""


class _Pass:
    """One read of the file with a given set of declared and lenient columns."""

    def __init__(self, contract: Contract, header: list[str], lenient: dict[str, str | None],
                 binary: set[str], utf8: bool) -> None:
        self.contract = contract
        self.header = header
        self.lenient = lenient
        self.binary = binary
        self.utf8 = utf8
        self.rows = 0
        self.names: list[str] = []
        self.stats: list[ColumnStats] = []
        self.ragged = 0
        self.ragged_first: tuple[int | None, int, int] | None = None
        self.bad_text = 0
        self.bad_text_first: tuple[str, int] | None = None
        self.runaway: tuple[str, int] | None = None

    def column_types(self) -> dict[str, pa.DataType]:
        out: dict[str, pa.DataType] = {}
        for i, name in enumerate(self.header):
            key = name if self.contract.csv.header else f"f{i}"
            rule = self.contract.columns.get(name)
            if name in self.binary:
                out[key] = pa.binary()
            elif name in self.lenient:
                out[key] = pa.string()
            elif rule is not None and rule.type is not None:
                out[key] = ARROW_TYPES[rule.type]()
        return out

    def on_invalid_row(self, row: Any) -> str:
        self.ragged += 1
        if self.ragged_first is None:
            self.ragged_first = (row.number, row.expected_columns, row.actual_columns)
        return "skip"

    def run(self, stream: Any, limits: Limits, progress: Progress | None, raw: IO[bytes], size: int) -> None:
        opts = self.contract.csv
        reader = pcsv.open_csv(
            stream,
            read_options=pcsv.ReadOptions(block_size=limits.max_line_bytes, use_threads=use_threads(limits),
                                          autogenerate_column_names=not opts.header,
                                          encoding="utf8" if self.utf8 else opts.encoding),
            # RFC 4180 lets a quoted value span lines; pyarrow's default chunker cuts blocks at any
            # newline and then reports a valid file as out of sync. Measured: no cost on one core
            # (bench/RESULTS.md, "Quoted values that span lines").
            parse_options=pcsv.ParseOptions(delimiter=opts.delimiter, quote_char=opts.quote or False,
                                            newlines_in_values=True, invalid_row_handler=self.on_invalid_row),
            convert_options=pcsv.ConvertOptions(column_types=self.column_types(), null_values=NULL_VALUES,
                                                decimal_point=opts.decimal,
                                                strings_can_be_null=False))   # empties: counted by ColumnStats
        self.names = [self._display(i, n) for i, n in enumerate(reader.schema.names)]
        self.stats = [ColumnStats(n, self.contract, check_formulas=True, empty_is_null=True) for n in self.names]
        for batch in reader:
            for i, column in enumerate(batch.columns):
                name = self.names[i]
                # an untyped column whose first block is not valid UTF-8 is inferred as binary: decode it
                # here so its bad bytes are counted (`encoding`), as they are in a typed column
                arr = self._coerce(column, name, self.stats[i]) \
                    if name in self.lenient or name in self.binary or pa.types.is_binary(column.type) else column
                self.stats[i].add(arr)
                if self.runaway is None and pa.types.is_string(arr.type) and len(arr):
                    self._check_runaway(arr, name)
            self.rows += batch.num_rows
            if progress is not None:
                progress(raw.tell(), size)

    def _check_runaway(self, arr: Any, name: str) -> None:
        """An unclosed quote swallows the rest of the block into the block's last value; spot it there."""
        last = arr[len(arr) - 1].as_py()
        if isinstance(last, str) and last.endswith(("\n", "\r")) and last.count("\n") >= 1:
            self.runaway = (name, self.rows + len(arr))

    def _display(self, index: int, name: str) -> str:
        if self.contract.csv.header:
            return name
        declared = list(self.contract.columns)
        return declared[index] if index < len(declared) else f"column_{index + 1}"

    def _coerce(self, arr: Any, name: str, stats: ColumnStats) -> Any:
        if pa.types.is_binary(arr.type):
            arr = self._decode(arr, name, stats)
        target = self.lenient.get(name)
        if target is None or target == "string":
            return arr
        arrow_type = ARROW_TYPES[target]()
        if pa.types.is_string(arr.type):   # an empty cell is an empty value, not a bad one
            arr = pc.if_else(pc.equal(arr, empty_text()), null_text(), arr)
        decimal = self.contract.csv.decimal
        try:
            if target != "float" or decimal == ".":   # a cast would take "1.5" in a decimal-comma file
                return pc.cast(arr, arrow_type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        if target == "integer":
            try:  # ids and hashes written as unsigned 64-bit (above 2^63 - 1) are integers too
                return pc.cast(arr, pa.uint64())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                pass
        if target == "timestamp":
            try:  # timestamps without a zone offset: taken as UTC
                return pc.cast(pc.cast(arr, pa.timestamp("us")), arrow_type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                pass
        values: list[Any] = []
        bad = 0
        first: tuple[str, int] | None = None
        for i, text in enumerate(arr.to_pylist()):
            value = None if text is None else _convert(text, target, decimal)
            if value is _BAD:
                bad += 1
                if first is None:
                    first = (text, self.rows + i + 1)
                value = None
            values.append(value)
        if target == "integer" and any(v is not None and v > _INT64_MAX for v in values):
            if all(v is None or v >= 0 for v in values):
                arrow_type = pa.uint64()
            else:  # negatives beside values above 2^63 - 1 fit no 64-bit column: the large ones are bad
                for i, v in enumerate(values):
                    if v is not None and v > _INT64_MAX:
                        bad += 1
                        values[i] = None
                        if first is None or self.rows + i + 1 < first[1]:
                            first = (str(v), self.rows + i + 1)
        if first is not None:
            stats.add_invalid(bad, first[0][:60], first[1])
        return pa.array(values, type=arrow_type)

    def _decode(self, arr: Any, name: str, stats: ColumnStats) -> Any:
        try:
            return pc.cast(arr, pa.string())
        except pa.ArrowInvalid:
            pass
        before = self.bad_text
        values: list[str | None] = []
        for i, raw in enumerate(arr.to_pylist()):
            try:
                values.append(None if raw is None else raw.decode("utf-8"))
            except UnicodeDecodeError:
                values.append(None)
                self.bad_text += 1
                if self.bad_text_first is None:
                    self.bad_text_first = (name, self.rows + i + 1)
        stats.exclude(self.bad_text - before)
        return pa.array(values, pa.string())


_BAD = object()


def _convert(text: str, target: str, decimal: str = ".") -> Any:
    """One text value as ``target``'s Python type, or _BAD."""
    text = text.strip()
    if target == "float" and decimal != ".":
        if "." in text:
            return _BAD
        text = text.replace(decimal, ".")
    try:
        if target == "integer":
            return int(text) if _INT.fullmatch(text) and -(2**63) <= int(text) <= _UINT64_MAX else _BAD
        if target == "float":
            return float(text) if "_" not in text else _BAD
        if target == "boolean":
            low = text.lower()
            return True if low in _TRUE else False if low in _FALSE else _BAD
        if target == "timestamp":
            value = datetime.fromisoformat(text)
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if target == "date":
            return date.fromisoformat(text)
    except (ValueError, OverflowError):
        return _BAD
    return text


def _header(head: bytes, contract: Contract, encoding: str) -> list[str]:
    """The column names, parsed from the first line(s) with the contract's dialect."""
    if not contract.csv.header:
        return list(contract.columns)
    text = head.decode(encoding, errors="replace").lstrip("\ufeff")
    quote = contract.csv.quote or None
    try:
        reader = csv.reader(io.StringIO(text), delimiter=contract.csv.delimiter, quotechar=quote,
                            quoting=csv.QUOTE_MINIMAL if quote else csv.QUOTE_NONE)
        return next(reader, [])
    except csv.Error:
        return []


def profile_csv(source: IO[bytes], contract: Contract, *, fmt: str, size: int, limits: Limits,
                progress: Progress | None, unraisable: list[BaseException]) -> Profile:
    encoding = contract.csv.encoding
    try:
        utf8 = codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")
    except LookupError:
        return _failed(fmt, size, "encoding", f"the contract's encoding {encoding!r} is not a known encoding")
    compressed = fmt == "csv.gz"
    want = limits.max_line_bytes + 1
    try:
        head = (GunzipReader(source, limits) if compressed else source).read(want)
    except CorruptGzip as exc:
        return unreadable(fmt, size, str(exc))
    except DecompressionLimit as exc:
        return _failed(fmt, size, "decompression_limit", str(exc))
    source.seek(0)
    if not head.strip():
        return _empty(fmt, size, compressed)
    if reason := sniff_text(head, fmt, encoding):
        code, _, message = reason.partition(":")
        return _failed(fmt, size, code, message)
    inline = None
    if b"\n" not in head and b"\r" not in head:
        if len(head) >= want:
            return _failed(fmt, size, "line_too_long", f"the first line is longer than "
                                                       f"{limits.max_line_bytes:,} bytes, the reader's limit")
        inline = head + b"\n"    # one line and no newline: pyarrow would call it empty
    header = _header(head, contract, "utf-8" if utf8 else encoding)
    if len(header) > limits.max_columns:
        return _failed(fmt, size, "too_many_columns", f"the header has {len(header):,} columns, above the "
                                                      f"limit {limits.max_columns:,}")
    # another dialect (a spreadsheet export) breaks every row alike: one finding with the fix, not a cascade
    text = head[:1 << 16].decode("utf-8" if utf8 else encoding, errors="replace")   # the header and a sample
    if problem := dialect.header_not_decodable(head, encoding) or dialect.wrong_delimiter(text, contract):
        return _failed(fmt, size, problem.code, problem.message)
    lenient: dict[str, str | None] = {}
    binary: set[str] = set()
    for _attempt in range(len(header) + 4):
        state = _Pass(contract, header, lenient, binary, utf8)
        outcome = _run(state, source, fmt, size, limits, progress, unraisable, inline)
        if not isinstance(outcome, _Restart):
            return outcome
        index, why = int(outcome.args[0]), outcome.args[2]
        names = state.names or header
        name = names[index] if index < len(names) else f"column_{index + 1}"
        rule = contract.columns.get(name)
        target = rule.type if rule is not None else None
        if "invalid UTF8" in why and utf8:
            binary.add(name)
        elif name in lenient:
            return unreadable(fmt, size, f"column {name!r} cannot be read as text: {why}")
        elif lenient:  # a second column with bad values: read every declared column leniently
            lenient.update({n: r.type for n, r in contract.columns.items() if r.type not in (None, "string")})
            lenient[name] = target
        else:
            lenient[name] = target
        source.seek(0)
    return unreadable(fmt, size, "the file's columns could not be converted after several attempts")


def _run(state: _Pass, source: IO[bytes], fmt: str, size: int, limits: Limits, progress: Progress | None,
         unraisable: list[BaseException], inline: bytes | None) -> Profile | _Restart:
    view = PassView(source, threading.Lock())   # this pass's own position; late read-ahead cannot move the next's
    try:
        return _run_pass(state, source, view, fmt, size, limits, progress, unraisable, inline)
    finally:
        view.detach_pass()


def _run_pass(state: _Pass, source: IO[bytes], view: PassView, fmt: str, size: int, limits: Limits,
              progress: Progress | None, unraisable: list[BaseException], inline: bytes | None) -> Profile | _Restart:
    gz = GunzipReader(cast(IO[bytes], view), limits) if fmt == "csv.gz" and inline is None else None
    stream: Any = io.BytesIO(inline) if inline is not None else gz if gz is not None else view
    stop: Finding | None = None
    try:
        state.run(stream, limits, progress, source, size)
    except pa.ArrowInvalid as exc:
        text = str(exc)
        if m := _CONVERSION.search(text):
            return _Restart(m.group(1), m.group(2), m.group(3))
        if "straddling" in text or "straddles" in text:
            # quoted values may span lines, so an unclosed quote also ends here: say so
            stop = Finding("line_too_long", FAIL, f"a row is longer than {limits.max_line_bytes:,} bytes, "
                                                  "the reader's limit (or a quote is never closed); "
                                                  "reading stopped")
        elif "Empty CSV file" in text:
            return _empty(fmt, size, fmt == "csv.gz")
        elif "CSV parse error" in text and unraisable:
            state.ragged += 1
            state.bad_text += 1
            stop = Finding("unreadable", FAIL, f"reading stopped at a malformed row that is not valid "
                                               f"{state.contract.csv.encoding}")
        else:
            stop = Finding("unreadable", FAIL, f"the file is not readable as CSV: {_first_line(text)}")
    except DecompressionLimit as exc:
        stop = Finding("decompression_limit", FAIL, str(exc))
    except CorruptGzip as exc:
        stop = Finding("unreadable", FAIL, str(exc))
    except UnicodeDecodeError as exc:
        stop = Finding("encoding", FAIL, f"the file is not valid {state.contract.csv.encoding} "
                                         f"(byte {exc.object[exc.start:exc.start + 1]!r}); reading stopped")
    except (pa.ArrowException, OSError, ValueError) as exc:
        stop = Finding("unreadable", FAIL, f"the file is not readable as CSV: {_first_line(str(exc))}")
    content = len(inline) - 1 if inline is not None and fmt == "csv.gz" else gz.produced if gz else None
    return _profile(state, fmt, size, content, stop, unraisable)


def _profile(state: _Pass, fmt: str, size: int, content: int | None, stop: Finding | None,
             unraisable: list[BaseException]) -> Profile:
    problems: list[Finding] = []
    if state.ragged:
        line, expected, actual = state.ragged_first or (None, 0, 0)
        where = f" (first at line {line:,}: {actual} fields instead of {expected})" if line else ""
        problems.append(Finding("ragged_rows", FAIL, f"{count_of(state.ragged, 'row')} with another number of "
                                                     f"fields than the header{where}, skipped"))
    decode_errors = sum(isinstance(e, UnicodeDecodeError) for e in unraisable)
    if state.bad_text or decode_errors:
        count = max(state.bad_text, decode_errors)
        where = ""
        if state.bad_text_first:
            where = f" (first in column {state.bad_text_first[0]!r} at data row {state.bad_text_first[1]:,})"
        problems.append(Finding("encoding", FAIL, f"invalid {state.contract.csv.encoding} in "
                                                  f"{count_of(count, 'value')}{where}"
                                                  f"{dialect.encoding_hint(b'', state.contract.csv.encoding)}"))
    unraisable.clear()
    if state.runaway is not None:
        name, row = state.runaway
        problems.append(Finding("unterminated_quote", FAIL, f"a quoted value in column {name!r} (data row "
                                                            f"{row:,}) runs to the end of a block: an unclosed "
                                                            "quote swallowed the rows after it", column=name))
    if stop is not None:
        problems.append(stop)
    columns: dict[str, Any] = {}
    for st in state.stats:
        columns.setdefault(st.name, st.result())
    return Profile(format=fmt, bytes=size, rows=state.rows, columns=columns,
                   content_bytes=content, problems=tuple(problems),
                   complete=stop is None, readable=bool(state.names), column_order=tuple(state.names))


def _empty(fmt: str, size: int, compressed: bool) -> Profile:
    message = "the file has no header and no data (only blank space)"
    return Profile(format=fmt, bytes=size, rows=0, content_bytes=0 if compressed else None, readable=False,
                   problems=(Finding("empty_file", FAIL, message),))


def _failed(fmt: str, size: int, code: str, message: str) -> Profile:
    return Profile(format=fmt, bytes=size, rows=0, readable=False, complete=False,
                   problems=(Finding(code, FAIL, message),))


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "unknown error"
    return line if len(line) <= 160 else line[:157] + "..."
