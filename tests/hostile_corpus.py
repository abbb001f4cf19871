"""A corpus of malformed and hostile data files, generated (nothing binary is checked in).

Each case names the file, how to make it, the contract to validate it against (the default one unless
given), the finding codes of which at least one must appear, and the exit code ``autopilot validate``
must return (1 warn, 2 fail). ``BENIGN`` are look-alikes that must pass.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pyarrow.parquet.encryption as pe

CONTRACT = """\
columns:
  id: {type: integer, nullable: false}
  ts: {type: timestamp}
  score: {type: float, min: 0, max: 1, max_null_fraction: 0.2}
  label: {type: string}
rows: {min: 3}
drift: {columns: [score]}
"""

HEADER = b"id,ts,score,label\n"
TS = "2026-11-20T06:00:00Z"


def rows(n: int = 5, start: int = 1) -> bytes:
    return b"".join(f"{i},{TS},0.{i % 10},label{i % 3}\n".encode() for i in range(start, start + n))


GOOD = HEADER + rows()


@dataclass(frozen=True)
class Case:
    name: str                          # file name (its suffix picks the format)
    make: Callable[[], bytes]
    expect: tuple[str, ...]            # at least one of these codes must be found
    exit: int = 2
    contract: str = CONTRACT


def _random(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def _random_text(n: int, seed: int) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.choice(b"abc xyz;:.,\n") for _ in range(n))


def _gzip_bomb() -> bytes:
    """~1 MB of gzip that inflates to ~1 GB of valid CSV rows: many copies of one highly packed member."""
    line = f"1,{TS},0.5,x\n".encode()
    block = line * ((16 << 20) // len(line))
    member = gzip.compress(block, compresslevel=9)
    return gzip.compress(HEADER) + member * 64


def _gzip_truncated() -> bytes:
    data = gzip.compress(HEADER + rows(5000))
    return data[: len(data) // 2]


def _parquet(table: pa.Table, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, **kwargs)  # type: ignore[arg-type]
    return buf.getvalue()


def _good_table(n: int = 1000) -> pa.Table:
    return pa.table({"id": pa.array(range(n), pa.int64()),
                     "ts": pa.array([1_763_618_400_000_000] * n, pa.timestamp("us", tz="UTC")),
                     "score": pa.array([(i % 100) / 100 for i in range(n)], pa.float64()),
                     "label": pa.array([f"l{i % 3}" for i in range(n)], pa.string())})


def _parquet_truncated() -> bytes:
    data = _parquet(_good_table())
    return data[: len(data) * 2 // 3]


def _parquet_corrupt_pages() -> bytes:
    data = bytearray(_parquet(_good_table(20_000), compression="snappy"))
    footer = int.from_bytes(data[-8:-4], "little")
    rng = random.Random(3)
    for _ in range(400):   # scribble over the data pages, keep the footer intact
        data[rng.randrange(4, len(data) - footer - 8)] = rng.randrange(256)
    return bytes(data)


def _parquet_footer_lies() -> bytes:
    data = bytearray(_parquet(_good_table()))
    data[-8:-4] = (2**31 - 1).to_bytes(4, "little")
    return bytes(data)


def _parquet_with(**columns: pa.Array) -> bytes:
    table = _good_table(len(next(iter(columns.values()))))
    for name, arr in columns.items():
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, arr)
        else:
            table = table.append_column(name, arr)
    return _parquet(table)


class _Base64Kms(pe.KmsClient):
    """Wraps keys by base64: enough to write a file as an encrypting producer does."""

    def wrap_key(self, key_bytes: bytes, master_key_identifier: str) -> bytes:
        return base64.b64encode(key_bytes)

    def unwrap_key(self, wrapped_key: bytes, master_key_identifier: str) -> bytes:
        return base64.b64decode(wrapped_key)


def _parquet_encrypted_columns() -> bytes:
    """Modular encryption of score and label under a plaintext footer (pyarrow used to SIGABRT on it)."""
    config = pe.EncryptionConfiguration(footer_key="footer", column_keys={"col": ["score", "label"]},
                                        plaintext_footer=True, double_wrapping=False)
    props = pe.CryptoFactory(lambda _c: _Base64Kms()).file_encryption_properties(pe.KmsConnectionConfig(), config)
    return _parquet(_good_table(), encryption_properties=props)


def _parquet_checksum_mismatch() -> bytes:
    """Page checksums on (Spark's default), one byte flipped inside a value of the score page."""
    data = bytearray(_parquet(_good_table(5000), write_page_checksum=True, compression="none",
                              use_dictionary=False))
    chunk = pq.ParquetFile(io.BytesIO(bytes(data))).metadata.row_group(0).column(2)
    data[chunk.data_page_offset + chunk.total_compressed_size - 100] ^= 0x10
    return bytes(data)


def _parquet_int96_end_of_time() -> bytes:
    table = _good_table().set_column(1, "ts", pa.array([253402300799_000_000] * 1000, pa.timestamp("us", tz="UTC")))
    return _parquet(table, use_deprecated_int96_timestamps=True, store_schema=False)


def _excel_export() -> bytes:
    """BOM, ';' and decimal commas, CRLF: Excel's "CSV UTF-8" in a German locale."""
    text = HEADER.decode().replace(",", ";") + "".join(f"{i};{TS};0,{i % 10};label{i}\n" for i in range(1, 6))
    return b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode()


def _multiline_quoted(n: int = 40_000) -> bytes:
    """RFC 4180 values spanning lines across several 1 MB blocks of the reader."""
    return HEADER + b"".join(f'{i},{TS},0.5,"line one\nline two {i}"\n'.encode() for i in range(n))


def _jsonl(objs: list[object]) -> bytes:
    return b"".join(json.dumps(o).encode() + b"\n" for o in objs)


def _good_objs(n: int = 5) -> list[object]:
    return [{"id": i, "ts": TS, "score": 0.5, "label": "a"} for i in range(n)]


CASES: tuple[Case, ...] = (
    # --- CSV: not a CSV at all
    Case("empty.csv", lambda: b"", ("empty_file",)),
    Case("blank_lines.csv", lambda: b"\n\n  \n\n", ("empty_file",)),
    Case("header_only.csv", lambda: HEADER, ("header_only",)),
    Case("header_only_no_newline.csv", lambda: HEADER.rstrip(b"\n"), ("header_only",)),
    Case("random_bytes.csv", lambda: _random(4096, 1), ("unreadable", "encoding")),
    Case("random_text.csv", lambda: _random_text(3000, 2), ("missing_column",)),
    Case("gzip_named_csv.csv", lambda: gzip.compress(GOOD), ("unreadable",)),
    Case("parquet_named_csv.csv", lambda: _parquet(_good_table()), ("unreadable",)),
    Case("zip_named_csv.csv", lambda: b"PK\x03\x04" + _random(500, 4), ("unreadable",)),
    Case("utf16_bom.csv", lambda: GOOD.decode().encode("utf-16"), ("encoding",)),
    Case("utf16_no_bom.csv", lambda: GOOD.decode().encode("utf-16-le"), ("unreadable",)),
    Case("utf32.csv", lambda: GOOD.decode().encode("utf-32"), ("encoding",)),
    # --- CSV: structure
    Case("wrong_delimiter.csv", lambda: GOOD.replace(b",", b";"), ("wrong_delimiter",)),
    Case("tab_delimited.csv", lambda: GOOD.replace(b",", b"\t"), ("wrong_delimiter",)),
    Case("ragged_short_row.csv", lambda: GOOD + b"6,2026-11-20T06:00:00Z\n", ("ragged_rows",)),
    Case("ragged_long_row.csv", lambda: GOOD + b"6,2026-11-20T06:00:00Z,0.5,a,b,c\n", ("ragged_rows",)),
    Case("unclosed_quote.csv", lambda: HEADER + b'1,2026-11-20T06:00:00Z,0.5,"oops\n' + rows(20, 2),
         ("unterminated_quote",)),
    Case("duplicate_column.csv", lambda: b"id,ts,score,label,score\n" + b"1,%s,0.5,a,0.6\n" % TS.encode() * 3,
         ("duplicate_column",)),
    Case("missing_column.csv", lambda: b"id,ts,label\n" + b"1,%s,a\n" % TS.encode() * 3, ("missing_column",)),
    Case("ten_mb_single_line.csv", lambda: b"id," + b"x" * (10 << 20), ("line_too_long",)),
    Case("ten_mb_cell.csv", lambda: HEADER + b'1,%s,0.5,"' % TS.encode() + b"y" * (10 << 20) + b'"\n',
         ("line_too_long",)),
    Case("too_few_rows.csv", lambda: HEADER + rows(2), ("row_count",)),
    Case("twenty_thousand_columns.csv", lambda: b",".join(b"c%d" % i for i in range(20_000)) + b"\n" +
         b",".join(b"1" for _ in range(20_000)) + b"\n", ("too_many_columns",)),
    # --- CSV: encoding
    Case("invalid_utf8_cell.csv", lambda: GOOD + b"9,%s,0.5,caf\xe9\n" % TS.encode(), ("encoding",)),
    Case("invalid_utf8_header.csv", lambda: b"id,ts,sc\xffore,label\n" + rows(), ("encoding",)),
    Case("invalid_utf8_ragged_row.csv", lambda: GOOD + b"7,\xff\xfe,0.5,a,extra\n" + rows(3, 8),
         ("ragged_rows", "encoding")),
    Case("nul_bytes_inside.csv", lambda: HEADER + b"1,%s,0.5,a\x00b\n" % TS.encode() * 3, ("unreadable",)),
    # --- CSV: values
    Case("wrong_type_integer.csv", lambda: GOOD + b"abc,%s,0.5,a\n" % TS.encode(), ("wrong_type",)),
    Case("wrong_type_float.csv", lambda: GOOD + b"8,%s,high,a\n" % TS.encode(), ("wrong_type",)),
    Case("wrong_type_timestamp.csv", lambda: GOOD + b"8,yesterday,0.5,a\n", ("wrong_type",)),
    Case("wrong_types_everywhere.csv", lambda: HEADER + b"x,y,z,w\n" * 5, ("wrong_type",)),
    Case("nan_scores.csv", lambda: GOOD + b"8,%s,NaN,a\n9,%s,nan,a\n" % (TS.encode(), TS.encode()),
         ("non_finite",)),
    Case("inf_scores.csv", lambda: GOOD + b"8,%s,inf,a\n9,%s,-inf,a\n" % (TS.encode(), TS.encode()),
         ("non_finite",)),
    Case("null_id.csv", lambda: GOOD + b",%s,0.5,a\n" % TS.encode(), ("not_nullable",)),
    Case("mostly_null_scores.csv", lambda: HEADER + b"1,%s,,a\n" % TS.encode() * 5 + rows(2, 2),
         ("null_fraction",)),
    Case("out_of_range.csv", lambda: GOOD + b"8,%s,1.7,a\n9,%s,-0.2,a\n" % (TS.encode(), TS.encode()),
         ("out_of_range",)),
    Case("formula_injection.csv", lambda: GOOD + b'8,%s,0.5,=HYPERLINK("http://x.invalid")\n'
         b"9,%s,0.5,@SUM(A1)\n10,%s,0.5,+cmd|' /C calc'!A0\n" % (TS.encode(), TS.encode(), TS.encode()),
         ("formula_injection",), exit=1),
    Case("stale.csv", lambda: HEADER + rows().replace(b"2026-11-20", b"2019-01-01"), ("stale_data",),
         contract=CONTRACT + "freshness: {column: ts, max_age: 30d}\n"),
    Case("extra_column.csv", lambda: b"id,ts,score,label,secret\n" + b"1,%s,0.5,a,s\n" % TS.encode() * 3,
         ("extra_column",), contract=CONTRACT + "allow_extra_columns: false\n"),
    Case("forbidden_column.csv", lambda: b"id,ts,score,label,ssn\n" + b"1,%s,0.5,a,1\n" % TS.encode() * 3,
         ("forbidden_column",), contract=CONTRACT + "forbidden_columns: [ssn]\n"),
    Case("too_big.csv", lambda: GOOD * 10, ("byte_size",), contract=CONTRACT + "bytes: {max: 100}\n"),
    Case("not_allowed.csv", lambda: GOOD, ("not_allowed",),
         contract=CONTRACT.replace("label: {type: string}", "label: {type: string, allowed: [label0]}")),
    # --- gzip CSV
    Case("gzip_bomb.csv.gz", _gzip_bomb, ("decompression_limit",)),
    Case("truncated.csv.gz", _gzip_truncated, ("unreadable",)),
    Case("not_gzip.csv.gz", lambda: GOOD, ("unreadable",)),
    Case("corrupt.csv.gz", lambda: gzip.compress(GOOD)[:10] + _random(200, 5), ("unreadable",)),
    Case("empty_member.csv.gz", lambda: gzip.compress(b""), ("empty_file",)),
    Case("raw_deflate.csv.gz", lambda: zlib.compress(GOOD), ("unreadable",)),
    # --- JSON Lines
    Case("empty.jsonl", lambda: b"", ("empty_file",)),
    Case("blank.jsonl", lambda: b"\n \n", ("empty_file",)),
    Case("plain_text.jsonl", lambda: b"hello\nworld\n", ("unreadable",)),
    Case("arrays.jsonl", lambda: _jsonl([[1, 2], [3, 4]]), ("unreadable",)),
    Case("some_bad_lines.jsonl", lambda: _jsonl(_good_objs()) + b"{oops\n", ("unreadable",)),
    Case("wrong_types.jsonl", lambda: _jsonl([*_good_objs(), {"id": "x", "ts": 5, "score": "hi"}]),
         ("wrong_type",)),
    Case("huge_int.jsonl", lambda: _jsonl([*_good_objs(), {"id": 2**70, "ts": TS, "score": 0.1}]),
         ("wrong_type",)),
    Case("nan.jsonl", lambda: _jsonl(_good_objs()) + b'{"id": 9, "ts": "%s", "score": NaN}\n' % TS.encode(),
         ("non_finite",)),
    Case("deep_nesting.jsonl", lambda: _jsonl(_good_objs()) + b"[" * 200_000 + b"]" * 200_000 + b"\n",
         ("unreadable",)),
    Case("invalid_utf8.jsonl", lambda: _jsonl(_good_objs()) + b'{"id": 1, "label": "caf\xe9"}\n', ("encoding",)),
    Case("ten_mb_line.jsonl", lambda: b'{"id": 1, "label": "' + b"z" * (10 << 20) + b'"}\n', ("line_too_long",)),
    Case("missing_column.jsonl", lambda: _jsonl([{"id": i} for i in range(5)]), ("missing_column",)),
    Case("a_new_key_every_line.jsonl", lambda: _jsonl([{f"k{i}": i} for i in range(12_000)]), ("too_many_columns",)),
    # --- Parquet
    Case("truncated.parquet", _parquet_truncated, ("unreadable",)),
    Case("random_bytes.parquet", lambda: _random(5000, 6), ("unreadable",)),
    Case("magic_only.parquet", lambda: b"PAR1" + _random(100, 7) + b"PAR1", ("unreadable",)),
    Case("footer_lies.parquet", _parquet_footer_lies, ("unreadable",)),
    Case("tiny.parquet", lambda: b"PAR1", ("unreadable",)),
    Case("csv_named.parquet", lambda: GOOD, ("unreadable",)),
    Case("corrupt_pages.parquet", _parquet_corrupt_pages, ("unreadable", "out_of_range", "non_finite")),
    Case("wrong_type.parquet", lambda: _parquet_with(score=pa.array(["x"] * 10)), ("wrong_type",)),
    Case("missing_column.parquet", lambda: _parquet(_good_table().drop_columns(["score"])), ("missing_column",)),
    Case("nan_scores.parquet", lambda: _parquet_with(score=pa.array([float("nan")] * 10)), ("non_finite",)),
    Case("out_of_range.parquet", lambda: _parquet_with(score=pa.array([5.0] * 10)), ("out_of_range",)),
    Case("zero_rows.parquet", lambda: _parquet(_good_table(0)), ("row_count",)),
    Case("null_ids.parquet", lambda: _parquet_with(id=pa.array([None] * 10, pa.int64())), ("not_nullable",)),
    Case("timestamp_beyond_year_9999.parquet",
         lambda: _parquet_with(ts=pa.array([2**63 - 1] * 10, pa.timestamp("us", tz="UTC"))), ("out_of_range",),
         contract=CONTRACT.replace("ts: {type: timestamp}", "ts: {type: timestamp, max: '2030-01-01T00:00:00Z'}")),
    Case("encrypted_columns.parquet", _parquet_encrypted_columns, ("unreadable",)),
    Case("checksum_mismatch.parquet", _parquet_checksum_mismatch, ("unreadable",)),
    Case("excel_export.csv", _excel_export, ("wrong_delimiter",)),
    Case("lone_surrogate_key.jsonl", lambda: _jsonl(_good_objs()) + b'{"id": 9, "\\ud800": 1}\n', ("encoding",)),
    Case("cp1252_header.csv", lambda: b"id,ts,score,label,caf\xe9\n" + rows(), ("encoding",)),
    Case("year_9999.csv", lambda: GOOD.replace(b"2026-11-20T06", b"9999-12-31T23"), ("out_of_range",),
         contract=CONTRACT.replace("ts: {type: timestamp}", "ts: {type: timestamp, max: '2030-01-01T00:00:00Z'}")),
)

BENIGN: tuple[Case, ...] = (
    Case("good.csv", lambda: GOOD, (), exit=0),
    Case("utf8_bom.csv", lambda: b"\xef\xbb\xbf" + GOOD, (), exit=0),
    Case("crlf.csv", lambda: GOOD.replace(b"\n", b"\r\n"), (), exit=0),
    Case("naive_timestamps.csv", lambda: GOOD.replace(b"T06:00:00Z", b" 06:00:00"), (), exit=0),
    Case("quoted_newline.csv", lambda: HEADER + b'1,%s,0.5,"two\nlines"\n' % TS.encode() + rows(4, 2), (), exit=0),
    Case("negative_number_text.csv", lambda: HEADER + b"1,%s,0.5,-5\n" % TS.encode() * 3, (), exit=0),
    Case("two_members.csv.gz", lambda: gzip.compress(GOOD) + gzip.compress(rows(3, 6)), (), exit=0),
    Case("good.jsonl", lambda: _jsonl(_good_objs()), (), exit=0),
    Case("good.parquet", lambda: _parquet(_good_table()), (), exit=0),
    Case("multiline_quoted_big.csv", _multiline_quoted, (), exit=0),
    Case("int96_end_of_time.parquet", _parquet_int96_end_of_time, (), exit=0),
    Case("uint64_ids.csv", lambda: HEADER + b"18446744073709551615" + rows()[1:], (), exit=0),
    Case("excel_export_with_settings.csv", _excel_export, (), exit=0,
         contract=CONTRACT + "csv: {delimiter: ';', decimal: ','}\n"),
)


def write(case: Case, directory: Path) -> tuple[Path, Path]:
    """Write the case's data file and contract into ``directory``; returns both paths."""
    data = directory / case.name
    data.write_bytes(case.make())
    contract = directory / f"{case.name}.contract.yaml"
    contract.write_text(case.contract)
    return data, contract
