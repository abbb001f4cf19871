"""Files as real producers write them (issue 11, point 1): each class is written here the way its
producer writes it — Python's csv module (RFC 4180), pyarrow with page checksums, Spark's INT96,
Parquet modular encryption, Excel exports — and must be profiled and judged right.
"""

from __future__ import annotations

import csv
import io
import random
import statistics
from datetime import UTC, datetime

from shared.adapters.profilers import Limits, profile_file
from shared.config import parse_yaml_as
from shared.core.checks import check
from shared.core.findings import status
from shared.core.profile import Profile
from shared.core.spec import Contract

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
SMALL_BLOCKS = Limits(max_line_bytes=4096, threads=False)


def contract(text: str) -> Contract:
    result: Contract = parse_yaml_as(Contract, text, "contract.yaml")
    return result


def run(data: bytes, contract_: Contract, fmt: str, limits: Limits = SMALL_BLOCKS) -> Profile:
    return profile_file(io.BytesIO(data), contract_, fmt=fmt, limits=limits)


# --- CSV: quoted values that span lines (RFC 4180) -----------------------------------------------------

NOTES = contract("""
columns:
  id: {type: integer, nullable: false}
  note: {type: string}
  score: {type: float, min: 0, max: 1}
""")


def rfc4180(n: int) -> tuple[bytes, list[float]]:
    """What Python's csv module (and Excel, and most exporters) write: CRLF rows, quoted values holding
    newlines, commas and doubled quotes."""
    rng = random.Random(5)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["id", "note", "score"])
    scores = []
    for i in range(n):
        note = f'line one\nline two, said "{i}"\r\nend' if i % 3 == 0 else "plain"
        scores.append(rng.random())
        writer.writerow([i, note, scores[-1]])
    return out.getvalue().encode(), scores


def test_a_csv_with_quoted_values_spanning_lines_across_many_blocks_is_profiled_exactly() -> None:
    data, scores = rfc4180(3000)
    assert data.count(b"\n") > 4000       # the quoted newlines are really in the file
    p = run(data, NOTES, "csv")
    assert p.problems == () and p.complete
    assert p.rows == 3000
    assert (p.columns["note"].count, p.columns["id"].max) == (3000, 2999)
    s = p.columns["score"]
    assert (s.count, s.min, s.max) == (3000, min(scores), max(scores))
    assert s.mean is not None and abs(s.mean - statistics.fmean(scores)) < 1e-12
    assert check(p, NOTES, NOW) == []


def test_a_quote_that_is_never_closed_in_a_file_of_many_blocks_is_a_finding_not_a_valid_read() -> None:
    data, _ = rfc4180(3000)
    data = data.replace(b"\r\n1500,", b'\r\n1500,"', 1)       # opens a quote no one closes as meant
    p = run(data, NOTES, "csv")
    findings = check(p, NOTES, NOW)
    assert {f.code for f in findings} & {"line_too_long", "unterminated_quote", "ragged_rows"}
    assert status(findings) == "fail"
