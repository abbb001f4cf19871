"""The profile of one data file: what a streaming pass learned about it, as plain frozen values.

Profilers (``shared.adapters.profilers``) build it; checks and history read it. Values are Python
scalars: int, float, str, bool, ``datetime`` (always timezone-aware UTC) or ``date``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType

from shared.core.findings import Finding

Scalar = int | float | str | bool | datetime | date

# The types of the contract (DESIGN 3.7); a profile may also say "null" (no value seen, type unknown)
# or the file format's own name for anything else (e.g. "binary", "list<item: int64>").
CONTRACT_TYPES = ("integer", "float", "string", "boolean", "timestamp", "date")


@dataclass(frozen=True)
class Histogram:
    """Counts of values in ``bins`` equal-width bins over the fixed range [lo, hi].

    The edges come from the contract, never from the data, so histograms of different files of one
    dataset are comparable: the column's ``min``/``max`` when both are numbers, else [0, 1] (drift
    columns are usually model scores or probabilities). Values outside the range are counted in
    ``below`` / ``above`` rather than dropped, so a shifted distribution still shows.
    """

    lo: float
    hi: float
    counts: tuple[int, ...]
    below: int = 0
    above: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts) + self.below + self.above


@dataclass(frozen=True)
class ColumnProfile:
    name: str
    type: str
    count: int = 0                       # non-null values
    nulls: int = 0
    min: Scalar | None = None
    max: Scalar | None = None
    mean: float | None = None            # None: not computed (e.g. Parquet statistics only)
    std: float | None = None             # population standard deviation
    non_finite: int = 0                  # NaN, inf, -inf (float columns)
    invalid: int = 0                     # values that are not of the declared type (kept out of the stats)
    invalid_example: str | None = None
    invalid_row: int | None = None       # 1-based data row of the first invalid value, when known
    below_min: int | None = None         # values below the contract's min (None: not counted)
    above_max: int | None = None
    not_allowed: int = 0                 # values outside the contract's allowed list
    not_allowed_examples: tuple[str, ...] = ()
    formula_cells: int = 0               # text cells starting with = + - @ (CSV)
    formula_example: str | None = None
    histogram: Histogram | None = None
    from_statistics: bool = False        # min/max/nulls come from file metadata, not a data scan

    @property
    def null_fraction(self) -> float:
        total = self.count + self.nulls
        return self.nulls / total if total else 0.0


@dataclass(frozen=True)
class Profile:
    format: str                          # csv | csv.gz | jsonl | parquet
    bytes: int                           # size as stored
    rows: int
    columns: Mapping[str, ColumnProfile] = field(default_factory=lambda: MappingProxyType({}))
    content_bytes: int | None = None     # size after decompression (None: not compressed)
    problems: tuple[Finding, ...] = ()   # found while reading (unreadable, encoding, ragged rows…)
    complete: bool = True                # False: reading stopped early, the numbers are partial
    readable: bool = True                # False: nothing useful was read (no schema), checks stop early
    column_order: tuple[str, ...] = ()   # as in the file, duplicates kept
    bytes_read: int | None = None        # bytes actually read from the source, when counted

    @property
    def is_empty(self) -> bool:
        return (self.content_bytes if self.content_bytes is not None else self.bytes) == 0

