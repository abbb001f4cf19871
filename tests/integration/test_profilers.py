"""The streaming profilers on real files written by real writers (pyarrow, gzip, json), no fakes.

Statistics are compared with values computed independently in Python; small reader limits force many
blocks so the batch-merging code runs as it does on gigabyte files.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import random
import statistics
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shared.adapters.profilers import Limits, detect_format, profile_file
from shared.adapters.profilers_io import GunzipReader
from shared.config import parse_yaml_as
from shared.core.checks import check
from shared.core.profile import Profile
from shared.core.spec import Contract

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
BASE = datetime(2026, 11, 20, tzinfo=UTC)
SMALL_BLOCKS = Limits(max_line_bytes=4096, threads=False)


def contract(text: str) -> Contract:
    result: Contract = parse_yaml_as(Contract, text, "contract.yaml")
    return result


SCORES = contract("""
columns:
  id: {type: integer, nullable: false}
  ts: {type: timestamp}
  score: {type: float, min: 0, max: 1}
  label: {type: string, allowed: [a, b, c]}
  ok: {type: boolean}
  day: {type: date}
drift: {columns: [score], bins: 10}
""")


def make_rows(n: int, seed: int = 1) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        out.append({"id": i, "ts": BASE + timedelta(seconds=rng.randrange(86400)),
                    "score": None if i % 17 == 0 else rng.random(), "label": rng.choice("abc"),
                    "ok": rng.random() < 0.5, "day": date(2026, 11, 1) + timedelta(days=rng.randrange(20))})
    return out


def to_csv(rows: list[dict[str, Any]]) -> bytes:
    lines = ["id,ts,score,label,ok,day"]
    for r in rows:
        score = "" if r["score"] is None else repr(r["score"])
        ts = r["ts"].strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(f"{r['id']},{ts},{score},{r['label']},{str(r['ok']).lower()},{r['day'].isoformat()}")
    return ("\n".join(lines) + "\n").encode()


def run(data: bytes, contract_: Contract, fmt: str, limits: Limits = SMALL_BLOCKS) -> Profile:
    return profile_file(io.BytesIO(data), contract_, fmt=fmt, limits=limits)


def assert_matches_python(p: Profile, rows: list[dict[str, Any]]) -> None:
    scores = [r["score"] for r in rows if r["score"] is not None]
    assert p.rows == len(rows)
    s = p.columns["score"]
    assert (s.type, s.count, s.nulls) == ("float", len(scores), len(rows) - len(scores))
    assert s.min == min(scores) and s.max == max(scores)
    assert s.mean == pytest.approx(statistics.fmean(scores), rel=1e-12)
    assert s.std == pytest.approx(statistics.pstdev(scores), rel=1e-9)
    ids = p.columns["id"]
    assert (ids.type, ids.min, ids.max, ids.nulls) == ("integer", 0, len(rows) - 1, 0)
    if ids.from_statistics:  # Parquet: footer statistics have no moments, and none are scanned for
        assert ids.mean is None and ids.std is None
    else:
        assert ids.std == pytest.approx(statistics.pstdev(range(len(rows))), rel=1e-9)
    ts = p.columns["ts"]
    assert ts.type == "timestamp"
    assert ts.max == max(r["ts"] for r in rows) and ts.max.tzinfo is not None  # type: ignore[union-attr]
    assert p.columns["day"].min == min(r["day"] for r in rows)
    assert p.columns["ok"].type == "boolean"
    assert p.columns["label"].not_allowed == 0
    hist = s.histogram
    assert hist is not None and (hist.lo, hist.hi, len(hist.counts)) == (0.0, 1.0, 10)
    expected = [0] * 10
    for v in scores:
        expected[min(int(v * 10), 9)] += 1
    assert list(hist.counts) == expected and hist.below == hist.above == 0


def test_csv_statistics_over_many_small_blocks_equal_python_reference_values() -> None:
    rows = make_rows(3000)
    p = run(to_csv(rows), SCORES, "csv")
    assert p.problems == () and p.complete
    assert_matches_python(p, rows)


def test_gzip_csv_with_several_members_gives_the_same_profile_as_the_plain_file() -> None:
    rows = make_rows(2000)
    data = to_csv(rows)
    cut = data.index(b"\n", len(data) // 2) + 1
    p = run(gzip.compress(data[:cut]) + gzip.compress(data[cut:]), SCORES, "csv.gz")
    assert p.problems == ()
    assert p.content_bytes == len(data)
    assert_matches_python(p, rows)


def test_parquet_statistics_and_drift_scan_equal_python_reference_values() -> None:
    rows = make_rows(3000)
    table = pa.Table.from_pylist(rows, schema=pa.schema([
        ("id", pa.int64()), ("ts", pa.timestamp("us", tz="UTC")), ("score", pa.float64()),
        ("label", pa.string()), ("ok", pa.bool_()), ("day", pa.date32())]))
    buf = io.BytesIO()
    pq.write_table(table, buf, row_group_size=500)
    p = run(buf.getvalue(), SCORES, "parquet")
    assert p.problems == ()
    assert_matches_python(p, rows)
    assert p.columns["id"].from_statistics and not p.columns["score"].from_statistics


def test_jsonl_statistics_equal_python_reference_values() -> None:
    rows = make_rows(3000)
    text = "".join(json.dumps({**r, "ts": r["ts"].isoformat(), "day": r["day"].isoformat()}) + "\n" for r in rows)
    p = run(text.encode(), SCORES, "jsonl")
    assert p.problems == ()
    assert_matches_python(p, rows)


def test_a_bad_value_deep_in_the_file_is_counted_with_its_row_and_the_read_goes_on() -> None:
    rows = make_rows(3000)
    data = to_csv(rows).replace(b"\n2500,", b"\nnot-a-number,")
    p = run(data, SCORES, "csv")
    ids = p.columns["id"]
    assert p.rows == 3000 and p.complete
    assert (ids.invalid, ids.invalid_example, ids.invalid_row, ids.nulls) == (1, "not-a-number", 2501, 0)
    assert [f.code for f in check(p, SCORES, NOW)] == ["wrong_type"]


def test_values_outside_the_allowed_list_and_the_range_are_counted() -> None:
    rows = make_rows(500)
    data = to_csv(rows).replace(b",a,", b",zz,", 3).replace(b"\n10,", b"\n10,2026-11-20T00:00:00Z,7.5,")
    data = b"\n".join(line if not line.startswith(b"10,2026-11-20T00:00:00Z,7.5,") else
                      b"10,2026-11-20T00:00:00Z,7.5,a,true,2026-11-02" for line in data.split(b"\n"))
    p = run(data, SCORES, "csv")
    assert p.columns["label"].not_allowed == 3 and p.columns["label"].not_allowed_examples == ("zz",)
    assert p.columns["score"].above_max == 1 and p.columns["score"].histogram.above == 1  # type: ignore[union-attr]
    assert {f.code for f in check(p, SCORES, NOW)} == {"not_allowed", "out_of_range"}


def test_timestamps_without_a_zone_are_taken_as_utc_and_mixed_zones_are_normalised() -> None:
    c = contract("columns: {ts: {type: timestamp}}")
    naive = run(b"ts\n2026-11-20 06:00:00\n2026-11-20 07:00:00\n", c, "csv")
    mixed = run(b"ts\n2026-11-20 06:00:00\n2026-11-20T09:00:00+02:00\n", c, "csv")
    assert naive.columns["ts"].max == datetime(2026, 11, 20, 7, tzinfo=UTC)
    assert mixed.columns["ts"].max == datetime(2026, 11, 20, 7, tzinfo=UTC)
    assert naive.problems == mixed.problems == ()


def test_a_csv_without_a_header_takes_the_contract_column_names_in_order() -> None:
    c = contract("csv: {header: false, delimiter: ';'}\ncolumns: {id: {type: integer}, name: {type: string}}")
    p = run(b"1;x\n2;y\n3;z\n", c, "csv")
    assert p.rows == 3 and list(p.columns) == ["id", "name"] and p.columns["id"].max == 3


def test_a_latin1_contract_reads_latin1_text() -> None:
    c = contract("csv: {encoding: latin-1}\ncolumns: {name: {type: string}}")
    p = run("name\ncafé\nnaïve\n".encode("latin-1"), c, "csv")
    assert p.problems == () and p.rows == 2


def test_formula_cells_are_counted_but_signed_numbers_in_text_columns_are_not() -> None:
    c = contract("columns: {note: {type: string}}")
    p = run(b"note\n=1+2\n-5\n+3.5\n@SUM(A1)\nplain\n-cmd\n", c, "csv")
    assert p.columns["note"].formula_cells == 3
    assert p.columns["note"].formula_example == "=1+2"


def test_a_ragged_row_with_invalid_utf8_never_prints_pyarrows_traceback(capfd: pytest.CaptureFixture[str]) -> None:
    data = b"a,b\n1,2\n3,\xff\xfe,4\n5,6\n"
    p = run(data, contract("columns: {a: {type: integer}}"), "csv", Limits(threads=False))
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Exception ignored" not in err
    assert {f.code for f in p.problems} >= {"ragged_rows", "encoding"}


def test_the_gunzip_reader_stops_a_bomb_early_and_inflates_normal_data_exactly() -> None:
    payload = b"x" * (8 << 20)
    with pytest.raises(Exception, match="zip bomb") as info:
        reader = GunzipReader(io.BytesIO(gzip.compress(payload)), Limits(ratio_floor=1 << 20, max_ratio=50))
        while reader.read(1 << 16):
            pass
    assert type(info.value).__name__ == "DecompressionLimit"
    normal = random.Random(5).randbytes(300_000)
    reader = GunzipReader(io.BytesIO(gzip.compress(normal) + gzip.compress(normal)), Limits())
    assert reader.read(-1) + reader.read(-1) == normal + normal


def test_a_decompressed_size_limit_stops_the_read_with_a_finding() -> None:
    rows = make_rows(3000)
    p = run(gzip.compress(to_csv(rows)), SCORES, "csv.gz", Limits(max_decompressed_bytes=60_000, threads=False))
    assert [f.code for f in p.problems] == ["decompression_limit"] and not p.complete


class RangedReader:
    """Only read/seek/tell, no fileno: what a blob stream gives the profilers in Azure."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos, self.reads = data, 0, 0

    def read(self, n: int = -1) -> bytes:
        end = len(self.data) if n is None or n < 0 else min(self.pos + n, len(self.data))
        out, self.pos = self.data[self.pos:end], end
        self.reads += 1
        return out

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = {0: offset, 1: self.pos + offset, 2: len(self.data) + offset}[whence]
        return self.pos

    def tell(self) -> int:
        return self.pos

    @property
    def closed(self) -> bool:
        return False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "jsonl", "parquet"])
def test_every_format_reads_from_a_plain_ranged_reader_object(fmt: str) -> None:
    rows = make_rows(800)
    csv = to_csv(rows)
    data = {"csv": csv, "csv.gz": gzip.compress(csv),
            "jsonl": "".join(json.dumps({**r, "ts": r["ts"].isoformat(), "day": str(r["day"])}) + "\n"
                             for r in rows).encode()}.get(fmt)
    if data is None:
        buf = io.BytesIO()
        pq.write_table(pa.Table.from_pylist(rows), buf)
        data = buf.getvalue()
    reader = RangedReader(data)
    p = profile_file(reader, SCORES, fmt=fmt)  # type: ignore[arg-type]
    assert p.rows == 800 and p.bytes == len(data)
    assert p.columns["score"].max == max(r["score"] for r in rows if r["score"] is not None)
    assert reader.reads > 0


def test_a_statistics_only_parquet_contract_reads_just_the_footer() -> None:
    n = 400_000
    table = pa.table({"id": pa.array(range(n), pa.int64()),
                      "score": pa.array([(i % 1000) / 1000 for i in range(n)], pa.float64()),
                      "label": pa.array([f"label-{i % 97}" for i in range(n)])})
    buf = io.BytesIO()
    pq.write_table(table, buf, row_group_size=50_000, compression="none")
    data = buf.getvalue()
    c = contract("columns: {id: {type: integer, nullable: false, min: 0}, label: {type: string}}\n"
                 "rows: {min: 10}")
    p = run(data, c, "parquet")
    assert p.rows == n and p.columns["score"].max == 0.999 and p.columns["id"].nulls == 0
    assert p.bytes_read is not None and p.bytes_read < 128 * 1024 < len(data) // 10
    drift = contract("columns: {score: {type: float}}\ndrift: {columns: [score]}")
    scanned = run(data, drift, "parquet")
    assert scanned.columns["score"].histogram is not None
    assert scanned.bytes_read is not None and scanned.bytes_read > 4 * p.bytes_read


def test_parquet_nulls_and_min_max_merge_across_row_groups() -> None:
    table = pa.table({"v": pa.array([5, None, 7, 1, None, 9, None], pa.int64())})
    buf = io.BytesIO()
    pq.write_table(table, buf, row_group_size=2)
    p = run(buf.getvalue(), contract("columns: {v: {type: integer}}"), "parquet")
    v = p.columns["v"]
    assert (v.min, v.max, v.nulls, v.count, v.from_statistics) == (1, 9, 3, 4, True)


def test_jsonl_columns_that_appear_late_count_the_earlier_rows_as_empty() -> None:
    lines = [json.dumps({"id": i}) for i in range(30_000)] + [json.dumps({"id": 1, "extra": 2.5})]
    p = run(("\n".join(lines) + "\n").encode(), contract("columns: {id: {type: integer}}"), "jsonl")
    assert p.rows == 30_001
    assert (p.columns["extra"].nulls, p.columns["extra"].count) == (30_000, 1)
    assert p.columns["id"].nulls == 0


def test_progress_is_reported_with_growing_positions_up_to_the_total(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_bytes(to_csv(make_rows(20_000)))
    seen: list[tuple[int, int]] = []
    profile_file(path, SCORES, fmt="csv", limits=Limits(max_line_bytes=1 << 16, threads=False),
                 progress=lambda done, total: seen.append((done, total)))
    assert len(seen) > 5
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert all(total == path.stat().st_size for _, total in seen)


@pytest.mark.parametrize(("name", "fmt"), [("a.csv", "csv"), ("a.CSV.GZ", "csv.gz"), ("x/y.jsonl", "jsonl"),
                                           ("p.parquet", "parquet"), ("a.ndjson", "jsonl"), ("a.txt", None)])
def test_the_format_comes_from_the_file_name_unless_the_contract_names_one(name: str, fmt: str | None) -> None:
    assert detect_format(name, Contract()) == fmt
    assert detect_format(name, contract("format: parquet")) == "parquet"


def test_non_finite_floats_are_kept_out_of_the_mean_and_counted() -> None:
    p = run(b"score\n0.5\nNaN\ninf\n0.25\n-inf\n", contract("columns: {score: {type: float}}"), "csv")
    s = p.columns["score"]
    assert (s.non_finite, s.count, s.nulls) == (3, 5, 0)
    assert s.mean == pytest.approx(0.375) and s.max == 0.5 and not math.isnan(s.std or 0.0)
