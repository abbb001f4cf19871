"""Findings: what is wrong with one file, as values (a stable code, a severity, one clear sentence).

The codes are a public contract (reports, alerts and the README list them); never rename one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from shared.core.models import Severity

CODES: Mapping[str, str] = MappingProxyType({
    # reading the file
    "unreadable": "the file cannot be parsed as its format (truncated, corrupt, binary, not that format)",
    "empty_file": "the file (after decompression) has no bytes",
    "header_only": "a CSV file has its header but no data rows",
    "encoding": "bytes that are not valid in the contract's encoding, or a UTF-16/32 file",
    "line_too_long": "a line is longer than the reader's limit (hostile or corrupt input)",
    "ragged_rows": "rows whose number of fields differs from the header; they are skipped",
    "decompression_limit": "decompressed size or ratio beyond the limit (a zip bomb); reading stopped",
    "too_many_columns": "more columns (or JSON keys) than the reader's limit; reading stopped",
    "duplicate_column": "two columns have the same name",
    "wrong_delimiter": "the header looks delimited by another character than the contract's; reported once, with "
                       "the setting to use (and `decimal: \",\"` when the numbers need it), instead of a finding "
                       "per column",
    # the contract
    "missing_column": "a required column is absent",
    "forbidden_column": "a forbidden column is present",
    "extra_column": "a column the contract does not declare, when extra columns are not allowed",
    "wrong_type": "a column's type, or some of its values, do not match the declared type",
    "not_nullable": "a non-nullable column has empty values",
    "null_fraction": "a column's share of empty values is above max_null_fraction",
    "non_finite": "NaN or infinite values in a float column",
    "out_of_range": "values below the column's min or above its max",
    "not_allowed": "values outside the column's allowed list",
    "row_count": "the number of rows is outside the contract's bounds",
    "byte_size": "the file size is outside the contract's bounds",
    "stale_data": "the newest timestamp (or the partition date in the path) is older than max_age",
    "unterminated_quote": "a quoted CSV value runs to the end of a block: rows after it were swallowed",
    "formula_injection": "CSV text cells starting with = + - @ that a spreadsheet would run as formulas",
    # history (learned baselines, DESIGN 1.2)
    "size_anomaly": "the file size is outside the range learned from this dataset's history",
    "rows_anomaly": "the row count is outside the range learned from this dataset's history",
    "null_anomaly": "a column's null fraction is outside the range learned from history",
    "drift": "a drift column's distribution moved against history (PSI bands: 0.1 moderate, 0.25 major)",
    "level_shift": "a metric moved to a new level for three files in a row; it is now learned as normal",
    "insufficient_history": "not enough history yet to judge against a baseline (n/needed is reported)",
    # a batch of many files (output.batch configured), judged as one
    "part_schema_mismatch": "a part file's columns or types differ from the ones the batch's other parts share",
})


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    message: str
    column: str | None = None
    # The same excursion as the previous file's finding (same metric, same side): the file is still
    # judged (its status stands), but the episode was already alerted once.
    ongoing: bool = False

    def to_dict(self) -> dict[str, str]:
        out = {"code": self.code, "severity": self.severity.value, "message": self.message}
        if self.column is not None:
            out["column"] = self.column
        return out


def worst(findings: Iterable[Finding]) -> Severity | None:
    """The most severe finding's severity, or None when there is none."""
    top: Severity | None = None
    for f in findings:
        if top is None or f.severity.rank > top.rank:
            top = f.severity
    return top


def to_alert(findings: Iterable[Finding]) -> list[Finding]:
    """The warnings and failures a file's alert carries, worst first; empty when the file raises no
    alert: nothing serious, or every serious finding continues an episode an earlier file alerted.
    One alert per file (never one per finding code), as the output guard and the backtest raise it."""
    serious = sorted((f for f in findings if f.severity is not Severity.INFO), key=lambda f: -f.severity.rank)
    return [] if all(f.ongoing for f in serious) else serious


def status(findings: Iterable[Finding]) -> str:
    """``pass`` | ``warn`` | ``fail`` (DESIGN 3.3); info findings do not change a pass."""
    top = worst(findings)
    return "pass" if top is None or top is Severity.INFO else top.value


def count_of(n: int, noun: str, plural: str | None = None) -> str:
    """``1 row``, ``2 rows``, ``12,345 values``."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
