"""Parquet profiler: the footer's statistics first, data pages only for the columns a check needs.

Rows, nulls and min/max come from the row groups' statistics, so a contract about schema, nulls,
ranges of non-float columns, rows, size and freshness reads only the footer. Columns are scanned
(pre-buffering off, small buffers) for drift histograms, mean/std of drift columns, allowed values,
when a row group lacks the statistics a declared column needs, and for every declared float column:
statistics leave NaN out, and a declared float column holding NaN fails ``non_finite`` as in a CSV.
Page checksums (CRC) are verified on every page read; a statistics-only contract reads no page, so
it cannot see a corrupt one.
"""

from __future__ import annotations

import io
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from shared.adapters import parquet_footer
from shared.adapters.profilers_arrow import ColumnStats, contract_type, py_scalar
from shared.adapters.profilers_io import Limits, unreadable
from shared.core.findings import Finding
from shared.core.models import Severity
from shared.core.profile import ColumnProfile, Profile
from shared.core.spec import Contract

_ERRORS = (pa.ArrowException, OSError, ValueError, TypeError, IndexError, KeyError, OverflowError)


class CountingReader(io.RawIOBase):
    """A seekable reader that counts the bytes read through it (how much of a blob a check costs)."""

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self._raw = raw
        self.bytes_read = 0
        self.reads = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def read(self, size: int | None = -1) -> bytes:
        data = self._raw.read(-1 if size is None else size)
        self.bytes_read += len(data)
        self.reads += 1
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _footer_problem(source: CountingReader, size: int, limits: Limits) -> str | None:
    if size < 12:
        return f"the file has {size} bytes, too few to be Parquet"
    source.seek(size - 8)
    tail = source.read(8)
    source.seek(0)
    head = source.read(4)
    source.seek(0)
    if tail[4:] == b"PARE":
        return "the Parquet file is encrypted; it cannot be profiled"
    if tail[4:] != b"PAR1" or head != b"PAR1":
        return "the file is not Parquet or is truncated (no PAR1 magic at both ends)"
    footer = int.from_bytes(tail[:4], "little")
    if footer + 12 > size:
        return f"the Parquet footer claims {footer:,} bytes, more than the file holds (corrupt)"
    if footer > limits.parquet_footer_bytes:
        return f"the Parquet footer is {footer:,} bytes, above the limit {limits.parquet_footer_bytes:,}"
    return None


def _encryption_problem(source: CountingReader, size: int) -> str | None:
    """Encrypted columns under a plaintext footer: pyarrow would abort the process on their metadata."""
    source.seek(size - 8)
    length = int.from_bytes(source.read(4), "little")
    source.seek(size - 8 - length)
    footer = source.read(length)
    source.seek(0)
    try:
        found = parquet_footer.encryption(footer)
    except parquet_footer.FooterError:
        return None                          # not the Thrift we expect: pyarrow judges it as before
    if not found.algorithm and not found.columns:
        return None
    try:
        # the footer alone is a valid Parquet file for pyarrow's schema reader (no column metadata touched)
        schema = pq.ParquetFile(io.BytesIO(b"PAR1" + footer + length.to_bytes(4, "little") + b"PAR1")).schema
        names = [schema.column(i).path for i in sorted(found.columns)]
    except _ERRORS:
        names = []
    which = f" ({', '.join(names)})" if names else ""
    return (f"the Parquet file has encrypted columns{which} (modular encryption, plaintext footer); "
            "they cannot be read without their keys")


def profile_parquet(source: IO[bytes], contract: Contract, *, size: int, limits: Limits) -> Profile:
    counter = CountingReader(source)
    if problem := _footer_problem(counter, size, limits) or _encryption_problem(counter, size):
        return unreadable("parquet", size, problem, bytes_read=counter.bytes_read)
    try:
        # pages written with a CRC (parquet-mr/Spark by default, pyarrow with write_page_checksum) are
        # verified as they are read; without it a flipped byte is read as a wrong value
        # INT96 (Spark's timestamps) read as nanoseconds wraps past 2262: 9999-12-31, the usual "end of
        # time", would come back as 1816. Microseconds hold years 1–9999, all a datetime can.
        pf = pq.ParquetFile(counter, pre_buffer=False, buffer_size=limits.parquet_buffer_bytes,
                            page_checksum_verification=True, coerce_int96_timestamp_unit="us")
        schema = pf.schema_arrow
        meta = pf.metadata
        rows = meta.num_rows
        leaves = {pf.schema.column(i).path: i for i in range(meta.num_columns)}
        columns = {field.name: _from_statistics(field, leaves.get(field.name), meta) for field in schema}
    except _ERRORS as exc:
        return unreadable("parquet", size, f"the Parquet metadata cannot be read: {_short(exc)}",
                          bytes_read=counter.bytes_read)
    scan = [name for name, col in columns.items() if _needs_scan(name, col, contract)]
    problems: list[Finding] = []
    complete = True
    if scan:
        stats = {name: ColumnStats(name, contract) for name in scan}
        try:
            for batch in pf.iter_batches(batch_size=65_536, columns=scan, use_threads=False):
                for name in scan:
                    stats[name].add(batch.column(name))
        except _ERRORS as exc:
            complete = False
            if "checksum verification failed" in str(exc):
                message = (f"a data page of {_listing(scan)} does not match its checksum: the file is "
                           "corrupt; reading stopped")
            else:
                message = f"the Parquet data pages cannot be read: {_short(exc)}"
            problems.append(Finding("unreadable", Severity.FAIL, message))
        for name in scan:
            columns[name] = stats[name].result()
    return Profile(format="parquet", bytes=size, rows=rows, columns=columns, problems=tuple(problems),
                   complete=complete, column_order=tuple(schema.names), bytes_read=counter.bytes_read)


def _from_statistics(field: pa.Field, leaf: int | None, meta: Any) -> ColumnProfile:
    kind = contract_type(field.type)
    nulls = 0
    lo: Any = None
    hi: Any = None
    exact = leaf is not None
    for g in range(meta.num_row_groups):
        if leaf is None:
            break
        chunk = meta.row_group(g).column(leaf)
        group_rows = meta.row_group(g).num_rows
        st = chunk.statistics
        if st is None or not st.has_null_count:
            exact = False
            continue
        nulls += st.null_count
        if st.null_count == group_rows:
            continue
        if not st.has_min_max:
            exact = False
            continue
        try:
            raw_lo, raw_hi = st.min, st.max
        except _ERRORS:                      # e.g. a timestamp beyond year 9999: scan the column instead
            exact = False
            continue
        if isinstance(raw_lo, bytes) or isinstance(raw_hi, bytes):
            exact = False                    # binary statistics are not comparable values
            continue
        g_lo, g_hi = py_scalar(raw_lo), py_scalar(raw_hi)
        lo = g_lo if lo is None or g_lo < lo else lo
        hi = g_hi if hi is None or g_hi > hi else hi
    rows = meta.num_rows
    if not exact:
        return ColumnProfile(name=field.name, type=kind, count=0, nulls=0, from_statistics=False)
    return ColumnProfile(name=field.name, type=kind, count=rows - nulls, nulls=nulls, min=lo, max=hi,
                         from_statistics=True)


def _needs_scan(name: str, col: ColumnProfile, contract: Contract) -> bool:
    if col.type not in ("integer", "float", "string", "boolean", "timestamp", "date"):
        return False
    rule = contract.columns.get(name)
    if name in contract.drift.columns or (rule is not None and rule.allowed is not None):
        return True
    if col.type == "float" and rule is not None:
        return True     # statistics leave NaN out, and a declared float column must not hold any (as in CSV)
    freshness = contract.freshness is not None and contract.freshness.column == name
    return not col.from_statistics and (rule is not None or freshness)


def _listing(names: list[str]) -> str:
    return f"column {names[0]!r}" if len(names) == 1 else "one of the columns " + ", ".join(map(repr, names))


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."
