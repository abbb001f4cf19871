"""Per-column statistics accumulated over a stream of Arrow arrays, in bounded memory.

Each batch is reduced with ``pyarrow.compute`` kernels (min/max, mean, variance, null counts) and
merged into running totals (Chan's parallel variance), so memory does not grow with the file.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shared.core.profile import ColumnProfile, Histogram, Scalar
from shared.core.spec import ColumnRule, Contract

# Contract type → the Arrow type a reader should produce.
ARROW_TYPES: dict[str, Callable[[], pa.DataType]] = {
    "integer": pa.int64, "float": pa.float64, "string": pa.string, "boolean": pa.bool_,
    "timestamp": lambda: pa.timestamp("us", tz="UTC"), "date": pa.date32,
}

_FORMULA_BYTES = (b"=", b"+", b"-", b"@")
_EXAMPLES = 3


def contract_type(t: pa.DataType) -> str:
    """The contract's word for an Arrow type (DESIGN 3.7), or Arrow's own name for anything else."""
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "float"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_null(t):
        return "null"
    return str(t)


def histogram_range(rule: ColumnRule | None) -> tuple[float, float]:
    """Fixed histogram edges for a drift column: the contract's numeric min/max, else [0, 1]."""
    if rule is not None and isinstance(rule.min, (int, float)) and isinstance(rule.max, (int, float)) \
            and rule.max > rule.min:
        return float(rule.min), float(rule.max)
    return 0.0, 1.0


def py_scalar(value: Any) -> Scalar | None:
    """Arrow's Python value, with timestamps made timezone-aware UTC (naive ones are taken as UTC)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, (int, float, str, bool, date)):
        return value
    if value is None:
        return None
    return float(value) if hasattr(value, "__float__") else str(value)


class ColumnStats:
    """Running statistics of one column. ``add`` takes each batch's array of that column."""

    def __init__(self, name: str, contract: Contract, *, check_formulas: bool = False,
                 empty_is_null: bool = False) -> None:
        self.name = name
        self.empty_is_null = empty_is_null   # CSV: an empty text cell is an empty value
        self.rule = contract.columns.get(name)
        self.type: str | None = None
        self.count = self.nulls = self.non_finite = 0
        self.min: Any = None
        self.max: Any = None
        self.mean = 0.0
        self.m2 = 0.0
        self.moments = 0               # values counted in mean/m2
        self.invalid = 0
        self.excluded = 0              # invalid or undecodable values: read as empty, not counted as nulls
        self.invalid_example: str | None = None
        self.invalid_row: int | None = None
        self.below_min: int | None = None
        self.above_max: int | None = None
        self.not_allowed = 0
        self.not_allowed_examples: list[str] = []
        self.formula_cells = 0
        self.formula_example: str | None = None
        # an allowed list already rejects anything else, formulas included
        self.check_formulas = check_formulas and (self.rule is None or self.rule.allowed is None)
        self.hist: np.ndarray | None = None
        self.hist_range = histogram_range(self.rule)
        self.hist_below = self.hist_above = 0
        if name in contract.drift.columns:
            self.hist = np.zeros(contract.drift.bins, dtype=np.int64)
        self._allowed: pa.Array | None = None
        if self.rule is not None and self.rule.allowed is not None:
            self._allowed = string_array(self.rule.allowed)
        self._lo = self.rule.min if self.rule and isinstance(self.rule.min, (int, float)) else None
        self._hi = self.rule.max if self.rule and isinstance(self.rule.max, (int, float)) else None
        self._bounds = None if self.rule is None or (self.rule.min is None and self.rule.max is None) \
            else (self.rule.min, self.rule.max)

    # --- feeding -------------------------------------------------------------------------------------

    def add_invalid(self, count: int, example: str | None, row: int | None) -> None:
        if count and self.invalid_example is None:
            self.invalid_example, self.invalid_row = example, row
        self.invalid += count
        self.excluded += count

    def exclude(self, count: int) -> None:
        """``count`` values of the next batch are empty because they could not be decoded."""
        self.excluded += count

    def add(self, arr: pa.Array | pa.ChunkedArray) -> None:
        if isinstance(arr, pa.ChunkedArray):
            for chunk in arr.chunks:
                self.add(chunk)
            return
        kind = contract_type(arr.type)
        if self.type is None or self.type == "null":
            self.type = kind
        elif kind not in (self.type, "null"):
            if {kind, self.type} == {"integer", "float"}:
                self.type = "float"
            else:
                self.type = "mixed"
        nulls = arr.null_count
        empties = self._empties(arr) if self.empty_is_null and kind == "string" else 0
        valid = len(arr) - nulls - empties
        self.nulls += nulls + empties
        self.count += valid
        if valid == 0 or self.type == "mixed":
            return
        if pa.types.is_decimal(arr.type):
            arr = pc.cast(arr, pa.float64())
        if kind in ("integer", "float"):
            self._add_numeric(arr, valid)
        elif kind in ("timestamp", "date", "boolean"):
            self._add_min_max(arr)
        elif kind == "string":
            self._add_string(arr)
        if self._allowed is not None:
            self._add_allowed(arr, valid)

    @staticmethod
    def _empties(arr: pa.Array) -> int:
        """Valid text values of length 0 (counting them beats pyarrow's per-cell null-string lookup)."""
        if not pa.types.is_string(arr.type) or len(arr) == 0:
            return 0
        offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32, count=len(arr) + 1, offset=arr.offset * 4)
        empty = offsets[1:] == offsets[:-1]
        if arr.null_count:
            empty &= np.asarray(arr.is_valid())
        return int(np.count_nonzero(empty))

    def _add_min_max(self, arr: pa.Array) -> tuple[Any, Any]:
        lo: Any
        hi: Any
        if pa.types.is_timestamp(arr.type) or pa.types.is_date32(arr.type):
            # numpy on the raw numbers: as_py() of a zoned timestamp costs ~1 ms (a time-zone lookup)
            raw = numpy_view((arr.drop_null() if arr.null_count else arr).view(
                pa.int64() if pa.types.is_timestamp(arr.type) else pa.int32()))
            first, last = int(np.minimum.reduce(raw)), int(np.maximum.reduce(raw))
            if pa.types.is_timestamp(arr.type):
                lo, hi = _instant(first, arr.type.unit), _instant(last, arr.type.unit)
            else:
                lo, hi = _EPOCH_DAY + timedelta(days=first), _EPOCH_DAY + timedelta(days=last)
        else:
            mm = pc.min_max(arr)
            lo, hi = py_scalar(mm["min"].as_py()), py_scalar(mm["max"].as_py())
        self._merge_min_max(lo, hi)
        return lo, hi

    def _merge_min_max(self, lo: Any, hi: Any) -> None:
        if lo is not None and (self.min is None or lo < self.min):
            self.min = lo
        if hi is not None and (self.max is None or hi > self.max):
            self.max = hi

    def _add_numeric(self, arr: pa.Array, valid: int) -> None:
        with np.errstate(all="ignore"):    # inf - inf is NaN here on purpose; numpy must not print about it
            self._add_numeric_values(numpy_view(arr.drop_null() if arr.null_count else arr), valid)

    def _add_numeric_values(self, values: np.ndarray, valid: int) -> None:
        # numpy on the Arrow buffer (zero-copy without nulls): its SIMD min/max and sums beat the kernels
        mean = float(np.add.reduce(values, dtype=np.float64)) / valid
        if not math.isfinite(mean) and values.dtype.kind == "f":
            values = values[np.isfinite(values)]
            self.non_finite += valid - len(values)
            valid = len(values)
            if valid == 0:
                return
            mean = float(np.add.reduce(values, dtype=np.float64)) / valid
        lo, hi = np.minimum.reduce(values).item(), np.maximum.reduce(values).item()
        self._merge_min_max(lo, hi)
        centred = values - mean
        var = float(np.add.reduce(np.square(centred, out=centred))) / valid
        n_a, n_b = self.moments, valid
        delta = mean - self.mean
        total = n_a + n_b
        self.mean += delta * n_b / total
        self.m2 += var * n_b + delta * delta * n_a * n_b / total
        self.moments = total
        if self._lo is not None and lo < self._lo:
            self.below_min = (self.below_min or 0) + int(np.count_nonzero(values < self._lo))
        if self._hi is not None and hi > self._hi:
            self.above_max = (self.above_max or 0) + int(np.count_nonzero(values > self._hi))
        if self.hist is not None:
            self._add_histogram(values, lo, hi)

    def _add_histogram(self, values: np.ndarray, lo: float, hi: float) -> None:
        assert self.hist is not None
        edge_lo, edge_hi = self.hist_range
        bins = len(self.hist)
        if lo < edge_lo or hi > edge_hi:   # rare: count what falls outside, bin the rest
            below, above = values < edge_lo, values > edge_hi
            self.hist_below += int(np.count_nonzero(below))
            self.hist_above += int(np.count_nonzero(above))
            values = values[~(below | above)]
        idx = ((values - edge_lo) * (bins / (edge_hi - edge_lo))).astype(np.int64)
        np.minimum(idx, bins - 1, out=idx)     # the top edge belongs to the last bin
        self.hist += np.bincount(idx, minlength=bins)[:bins]

    def _add_string(self, arr: pa.Array) -> None:
        if self._bounds is not None and any(isinstance(b, str) for b in self._bounds):
            self._add_min_max(arr)
        if self.check_formulas and pa.types.is_string(arr.type):
            self._add_formulas(arr)

    def _add_formulas(self, arr: pa.Array) -> None:
        """Count cells starting with = + - @, by looking at each value's first byte (no copies of text)."""
        offsets_buf, data_buf = arr.buffers()[1], arr.buffers()[2]
        if data_buf is None or data_buf.size == 0:
            return
        raw = data_buf.to_pybytes()
        if not any(trigger in raw for trigger in _FORMULA_BYTES):   # memchr-fast: most batches stop here
            return
        data = np.frombuffer(raw, dtype=np.uint8)
        starts = np.frombuffer(offsets_buf, dtype=np.int32, count=len(arr), offset=arr.offset * 4)
        if starts[-1] >= data.size:          # the last value is empty: nothing to look at there
            starts = starts[:-1]
        first = np.take(data, starts)
        flagged = (first == 61) | (first == 43) | (first == 45) | (first == 64)     # = + - @
        for i in np.flatnonzero(flagged):
            value = arr[int(i)].as_py()       # an empty or null cell shares its start with the next one
            if value and value[0] in "=+-@" and not _is_plain_number(value):
                self.formula_cells += 1
                if self.formula_example is None:
                    self.formula_example = value

    def _add_allowed(self, arr: pa.Array, valid: int) -> None:
        assert self._allowed is not None
        as_text = arr if pa.types.is_string(arr.type) else pc.cast(arr, pa.string())
        inside = pc.is_in(as_text, value_set=self._allowed)
        count = valid - (pc.sum(inside).as_py() or 0)
        if count:
            outside = pc.and_kleene(pc.invert(inside), as_text.is_valid())
            if self.empty_is_null:
                outside = pc.and_kleene(outside, pc.not_equal(as_text, empty_text()))
            self.not_allowed += count
            if len(self.not_allowed_examples) < _EXAMPLES:
                for value in pc.unique(as_text.filter(outside)).to_pylist():
                    if value not in self.not_allowed_examples and len(self.not_allowed_examples) < _EXAMPLES:
                        self.not_allowed_examples.append(value)

    # --- result --------------------------------------------------------------------------------------

    def result(self) -> ColumnProfile:
        numeric = self.type in ("integer", "float") and self.moments > 0
        histogram = None
        if self.hist is not None:
            histogram = Histogram(self.hist_range[0], self.hist_range[1], tuple(int(c) for c in self.hist),
                                  self.hist_below, self.hist_above)
        return ColumnProfile(
            name=self.name, type=self.type or "null", count=self.count,
            nulls=self.nulls - self.excluded, min=self.min, max=self.max,
            mean=self.mean if numeric else None,
            std=math.sqrt(max(self.m2, 0.0) / self.moments) if numeric else None,
            non_finite=self.non_finite, invalid=self.invalid, invalid_example=self.invalid_example,
            invalid_row=self.invalid_row, below_min=self.below_min, above_max=self.above_max,
            not_allowed=self.not_allowed, not_allowed_examples=tuple(self.not_allowed_examples),
            formula_cells=self.formula_cells, formula_example=self.formula_example, histogram=histogram)


def numpy_view(arr: pa.Array) -> np.ndarray:
    """The values of a null-free numeric array as numpy, without a copy. (``to_numpy`` can import pandas
    when it is installed, ~0.2 s.)"""
    t = arr.type
    kind = "f" if pa.types.is_floating(t) else "i" if pa.types.is_signed_integer(t) else "u"
    width = t.bit_width // 8
    return np.frombuffer(arr.buffers()[1], dtype=f"<{kind}{width}", count=len(arr), offset=arr.offset * width)


def string_array(values: tuple[str, ...]) -> pa.Array:
    """A string array built from its buffers: ``pa.array`` would import pandas when it is installed
    (~0.2 s, to check for pandas objects)."""
    encoded = [v.encode("utf-8") for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return pa.Array.from_buffers(pa.string(), len(encoded),
                                 [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(b"".join(encoded))])


def empty_text() -> pa.Scalar:
    """The string scalar "" (``pa.scalar`` would import pandas when it is installed)."""
    return string_array(("",))[0]


def null_text() -> pa.Scalar:
    return pa.nulls(1, pa.string())[0]


def _instant(value: int | None, unit: str) -> datetime | None:
    """A raw timestamp number as an aware datetime; beyond Python's years 1–9999 it is clamped there."""
    if value is None:
        return None
    micros = value * _PER_MICRO[unit] if unit != "ns" else value // 1000
    try:
        return _EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC) if micros > 0 else datetime.min.replace(tzinfo=UTC)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = date(1970, 1, 1)
_PER_MICRO = {"s": 1_000_000, "ms": 1000, "us": 1}


def _is_plain_number(text: str) -> bool:
    body = text[1:].replace(".", "", 1).replace(",", "")
    return body.isdigit()
