"""Per-column statistics accumulated over a stream of Arrow arrays, in bounded memory.

Each batch is reduced with ``pyarrow.compute`` kernels (min/max, mean, variance, null counts) and
merged into running totals (Chan's parallel variance), so memory does not grow with the file.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime
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

_FORMULA_START = np.zeros(256, dtype=bool)
_FORMULA_START[[ord(c) for c in "=+-@"]] = True
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

    def __init__(self, name: str, contract: Contract, *, check_formulas: bool = False) -> None:
        self.name = name
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
        self.check_formulas = check_formulas
        self.hist: np.ndarray | None = None
        self.hist_range = histogram_range(self.rule)
        self.hist_below = self.hist_above = 0
        if name in contract.drift.columns:
            self.hist = np.zeros(contract.drift.bins, dtype=np.int64)
        self._allowed: pa.Array | None = None
        if self.rule is not None and self.rule.allowed is not None:
            self._allowed = pa.array(list(self.rule.allowed), pa.string())
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
        valid = len(arr) - nulls
        self.nulls += nulls
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
            self._add_allowed(arr)

    def _add_min_max(self, arr: pa.Array) -> tuple[Any, Any]:
        mm = pc.min_max(arr)
        lo, hi = py_scalar(mm["min"].as_py()), py_scalar(mm["max"].as_py())
        if lo is not None and (self.min is None or lo < self.min):
            self.min = lo
        if hi is not None and (self.max is None or hi > self.max):
            self.max = hi
        return lo, hi

    def _add_numeric(self, arr: pa.Array, valid: int) -> None:
        mean = pc.mean(arr).as_py()
        if pa.types.is_floating(arr.type) and mean is not None and not math.isfinite(mean):
            finite = pc.is_finite(arr)
            kept = pc.sum(finite).as_py() or 0
            self.non_finite += valid - kept
            arr = arr.filter(finite)
            valid = kept
            if valid == 0:
                return
            mean = pc.mean(arr).as_py()
        lo, hi = self._add_min_max(arr)
        var = pc.variance(arr).as_py() or 0.0
        n_a, n_b = self.moments, valid
        delta = mean - self.mean
        total = n_a + n_b
        self.mean += delta * n_b / total
        self.m2 += var * n_b + delta * delta * n_a * n_b / total
        self.moments = total
        if self._lo is not None and lo < self._lo:
            self.below_min = (self.below_min or 0) + (pc.sum(pc.less(arr, self._lo)).as_py() or 0)
        if self._hi is not None and hi > self._hi:
            self.above_max = (self.above_max or 0) + (pc.sum(pc.greater(arr, self._hi)).as_py() or 0)
        if self.hist is not None:
            self._add_histogram(arr)

    def _add_histogram(self, arr: pa.Array) -> None:
        assert self.hist is not None
        values = arr.drop_null().to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        lo, hi = self.hist_range
        bins = len(self.hist)
        idx = np.floor((values - lo) * (bins / (hi - lo)))
        idx[values == hi] = bins - 1        # the top edge belongs to the last bin
        below = idx < 0
        above = idx >= bins
        self.hist_below += int(np.count_nonzero(below))
        self.hist_above += int(np.count_nonzero(above))
        inside = idx[~(below | above)].astype(np.int64)
        self.hist += np.bincount(inside, minlength=bins)[:bins]

    def _add_string(self, arr: pa.Array) -> None:
        if self._bounds is not None and any(isinstance(b, str) for b in self._bounds):
            self._add_min_max(arr)
        if self.check_formulas and pa.types.is_string(arr.type):
            self._add_formulas(arr)

    def _add_formulas(self, arr: pa.Array) -> None:
        """Count cells starting with = + - @, by looking at each value's first byte (no copies)."""
        offsets_buf, data_buf = arr.buffers()[1], arr.buffers()[2]
        if data_buf is None or data_buf.size == 0:
            return
        offsets = np.frombuffer(offsets_buf, dtype=np.int32, count=len(arr) + 1, offset=arr.offset * 4)
        data = np.frombuffer(data_buf, dtype=np.uint8)
        starts = offsets[:-1]
        nonempty = offsets[1:] > starts
        flagged = _FORMULA_START[np.take(data, starts, mode="clip")] & nonempty
        if arr.null_count:
            flagged &= arr.is_valid().to_numpy(zero_copy_only=False)
        hits = np.flatnonzero(flagged)
        for i in hits:
            value = arr[int(i)].as_py()
            if not _is_plain_number(value):   # "-5" or "+3.2" is a number, not a formula
                self.formula_cells += 1
                if self.formula_example is None:
                    self.formula_example = value

    def _add_allowed(self, arr: pa.Array) -> None:
        assert self._allowed is not None
        as_text = arr if pa.types.is_string(arr.type) else pc.cast(arr, pa.string())
        inside = pc.is_in(as_text, value_set=self._allowed)
        count = len(as_text) - as_text.null_count - (pc.sum(inside).as_py() or 0)
        if count:
            outside = pc.and_kleene(pc.invert(inside), as_text.is_valid())
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


def _is_plain_number(text: str) -> bool:
    body = text[1:].replace(".", "", 1).replace(",", "")
    return body.isdigit()
