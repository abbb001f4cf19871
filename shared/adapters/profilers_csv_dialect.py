"""Tell a CSV written in another dialect than the contract's from a broken one, from its first bytes.

A spreadsheet export (``;`` between fields, ``0,5`` for a half, a byte-order mark, Windows-1252 text)
read with the contract's defaults breaks every row the same way; reading on would list one finding per
column and row. When the header says so, the profiler stops with ONE finding that names the setting to
change instead.
"""

from __future__ import annotations

import csv
import re

from shared.core.findings import Finding
from shared.core.models import Severity
from shared.core.spec import Contract

_DELIMITERS = (";", "\t", "|", ",")
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
_SAMPLE_LINES = 50


def _fields(line: str, delimiter: str, quote: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter, quotechar=quote or None,
                               quoting=csv.QUOTE_MINIMAL if quote else csv.QUOTE_NONE), [])
    except csv.Error:
        return []


def _shown(delimiter: str) -> str:
    return "'\\t'" if delimiter == "\t" else repr(delimiter)


def wrong_delimiter(text: str, contract: Contract) -> Finding | None:
    """One finding when the first line splits into the contract's columns on another delimiter only."""
    opts = contract.csv
    lines = text.lstrip("\ufeff").splitlines()[: _SAMPLE_LINES + 1]
    if not lines or not contract.columns:
        return None
    expected = set(contract.columns)
    first = _fields(lines[0], opts.delimiter, opts.quote)
    if opts.header and (expected & {f.strip() for f in first}):
        return None                      # the contract's delimiter finds declared columns: not this problem
    if not opts.header and len(first) == len(expected):
        return None
    for delimiter in _DELIMITERS:
        if delimiter == opts.delimiter:
            continue
        parts = [p.strip() for p in _fields(lines[0], delimiter, opts.quote)]
        fits = (expected & set(parts)) if opts.header else len(parts) == len(expected)
        if len(parts) < 2 or not fits:
            continue
        fix = f"delimiter: {_shown(delimiter)}"
        if delimiter != "," and opts.decimal == "." and _decimal_commas(lines, parts, delimiter, contract):
            fix += ", decimal: ','"
        return Finding("wrong_delimiter", Severity.FAIL,
                       f"the file's fields are separated by {_shown(delimiter)}, not {_shown(opts.delimiter)} "
                       f"as the contract says (a spreadsheet export?); set csv: {{{fix}}}")
    return None


def _decimal_commas(lines: list[str], header: list[str], delimiter: str, contract: Contract) -> bool:
    """Whether a float column of the contract holds numbers written with a decimal comma."""
    names = header if contract.csv.header else list(contract.columns)
    floats = [i for i, n in enumerate(names) if (rule := contract.columns.get(n)) and rule.type == "float"]
    body = lines[1:] if contract.csv.header else lines
    for line in body:
        values = _fields(line, delimiter, contract.csv.quote)
        if any(i < len(values) and _DECIMAL_COMMA.fullmatch(values[i].strip()) for i in floats):
            return True
    return False


def encoding_hint(head: bytes, encoding: str) -> str:
    """A fix for text that is not valid in the contract's encoding, when another one reads it."""
    if encoding.lower().replace("_", "-") not in ("utf-8", "utf8", "utf-8-sig"):
        return ""
    try:
        head.decode("cp1252")
    except UnicodeDecodeError:
        return ""
    return "; if the producer writes Windows-1252 (Excel's \"CSV\" without UTF-8), set csv: {encoding: cp1252}"


def header_not_decodable(head: bytes, encoding: str) -> Finding | None:
    """The header line is not valid in the contract's encoding: every column name would be wrong."""
    try:
        head.split(b"\n", 1)[0].decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return Finding("encoding", Severity.FAIL, f"the header line is not valid {encoding}"
                                                  f"{encoding_hint(head, encoding)}")
    return None
