"""Files as real producers write them (issue 11, point 1): each class is written here the way its
producer writes it — Python's csv module (RFC 4180), pyarrow with page checksums, Spark's INT96,
Parquet modular encryption, Excel exports — and must be profiled and judged right.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import random
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pyarrow.parquet.encryption as pe

from shared.adapters import parquet_footer
from shared.adapters.profilers import Limits, profile_file
from shared.config import parse_yaml_as
from shared.core.checks import check
from shared.core.findings import status
from shared.core.profile import Profile
from shared.core.spec import Contract

ROOT = Path(__file__).resolve().parents[2]
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


# --- Parquet: modular encryption with a plaintext footer ------------------------------------------------


class _InMemoryKms(pe.KmsClient):
    """A KMS that "wraps" keys by base64: enough to write a file as an encrypting producer does."""

    def wrap_key(self, key_bytes: bytes, master_key_identifier: str) -> bytes:
        return base64.b64encode(key_bytes)

    def unwrap_key(self, wrapped_key: bytes, master_key_identifier: str) -> bytes:
        return base64.b64decode(wrapped_key)


def encrypted_parquet(columns: list[str]) -> bytes:
    table = pa.table({"id": pa.array(range(100), pa.int64()),
                      "score": pa.array([i / 100 for i in range(100)]),
                      "secret": pa.array([f"s{i}" for i in range(100)])})
    factory = pe.CryptoFactory(lambda _config: _InMemoryKms())
    config = pe.EncryptionConfiguration(footer_key="footer", column_keys={"col": columns}, plaintext_footer=True,
                                        double_wrapping=False)
    props = factory.file_encryption_properties(pe.KmsConnectionConfig(), config)
    buf = io.BytesIO()
    with pq.ParquetWriter(buf, table.schema, encryption_properties=props) as writer:
        writer.write_table(table)
    return buf.getvalue()


SCORE_RANGE = contract("columns: {id: {type: integer}, score: {type: float, min: 0, max: 1}}")


def test_a_parquet_file_with_encrypted_columns_and_a_plaintext_footer_is_a_fail_naming_them() -> None:
    data = encrypted_parquet(["score", "secret"])
    assert data[-4:] == b"PAR1"                  # the plaintext-footer mode: not the PARE magic
    p = run(data, SCORE_RANGE, "parquet")
    findings = check(p, SCORE_RANGE, NOW)
    assert [f.code for f in findings] == ["unreadable"]
    assert "encrypted columns (score, secret)" in findings[0].message


def test_validating_an_encrypted_parquet_file_does_not_abort_the_process(tmp_path: Path) -> None:
    data, contract_file = tmp_path / "enc.parquet", tmp_path / "contract.yaml"
    data.write_bytes(encrypted_parquet(["secret"]))
    contract_file.write_text("columns: {id: {type: integer}, secret: {type: string}}\n")
    proc = subprocess.run([sys.executable, "-m", "cli.validate", str(data), "--contract", str(contract_file),
                           "--json"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2, proc.stderr              # SIGABRT was -6 (134 through a shell)
    report = json.loads(proc.stdout)
    assert [f["code"] for f in report["findings"]] == ["unreadable"]
    assert "terminate called" not in proc.stderr


def test_the_footer_reader_turns_any_malformed_footer_into_its_own_error() -> None:
    good = encrypted_parquet(["secret"])
    footer = good[-8 - int.from_bytes(good[-8:-4], "little"):-8]
    assert parquet_footer.encryption(footer).columns == frozenset({2})
    rng = random.Random(11)
    for cut in range(0, len(footer), 7):
        for blob in (footer[:cut], bytes(b ^ (rng.randrange(1, 256) if rng.random() < 0.02 else 0) for b in footer)):
            try:
                parquet_footer.encryption(blob)
            except parquet_footer.FooterError:
                pass


# --- Parquet: page checksums ---------------------------------------------------------------------------

DRIFT = contract("columns: {id: {type: integer}, score: {type: float, min: 0, max: 1}}\ndrift: {columns: [score]}")


def checksummed_parquet(flip_in: str | None) -> bytes:
    """pyarrow with page checksums (as parquet-mr/Spark write by default); optionally one flipped byte
    inside the last page of a column, where a value sits (not a page header)."""
    table = pa.table({"id": pa.array(range(5000), pa.int64()), "score": pa.array([i / 5000 for i in range(5000)])})
    buf = io.BytesIO()
    pq.write_table(table, buf, write_page_checksum=True, compression="none", use_dictionary=False)
    data = bytearray(buf.getvalue())
    if flip_in is not None:
        chunk = pq.ParquetFile(io.BytesIO(bytes(data))).metadata.row_group(0).column(table.column_names.index(flip_in))
        data[chunk.data_page_offset + chunk.total_compressed_size - 100] ^= 0x10
    return bytes(data)


def test_a_flipped_byte_in_a_checksummed_page_is_a_fail_finding_not_a_wrong_value() -> None:
    p = run(checksummed_parquet("score"), DRIFT, "parquet")
    findings = check(p, DRIFT, NOW)
    assert status(findings) == "fail" and not p.complete
    assert any(f.code == "unreadable" and "does not match its checksum" in f.message for f in findings)


def test_an_intact_checksummed_file_passes() -> None:
    p = run(checksummed_parquet(None), DRIFT, "parquet")
    assert check(p, DRIFT, NOW) == [] and p.columns["score"].count == 5000


# --- NaN: the same values in CSV and Parquet get the same verdict ------------------------------------------

RANGED = contract("columns: {id: {type: integer}, score: {type: float, min: 0, max: 1}}")


def test_nan_in_a_ranged_float_column_fails_alike_in_parquet_with_statistics_and_in_csv() -> None:
    scores = [0.1, float("nan"), 0.5, 0.9] * 250
    table = pa.table({"id": pa.array(range(len(scores)), pa.int64()), "score": pa.array(scores)})
    buf = io.BytesIO()
    pq.write_table(table, buf, row_group_size=300)          # statistics written, NaN left out of them
    stats = pq.ParquetFile(io.BytesIO(buf.getvalue())).metadata.row_group(0).column(1).statistics
    assert stats.has_min_max and (stats.min, stats.max) == (0.1, 0.9)
    csv_text = "id,score\n" + "".join(f"{i},{s}\n" for i, s in enumerate(scores))
    verdicts = {}
    for fmt, data in (("parquet", buf.getvalue()), ("csv", csv_text.encode())):
        p = run(data, RANGED, fmt)
        verdicts[fmt] = [(f.code, f.severity.value) for f in check(p, RANGED, NOW)]
        assert p.columns["score"].non_finite == 250
    assert verdicts["parquet"] == verdicts["csv"] == [("non_finite", "fail")]


def test_a_parquet_contract_without_float_rules_still_reads_only_the_footer() -> None:
    table = pa.table({"id": pa.array(range(200_000), pa.int64()), "score": pa.array([0.5] * 200_000)})
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="none")
    p = run(buf.getvalue(), contract("columns: {id: {type: integer, min: 0}}"), "parquet")
    assert p.bytes_read is not None and p.bytes_read < 128 * 1024 < len(buf.getvalue()) // 10


# --- Spark's INT96 timestamps past 2262 -------------------------------------------------------------------

END_OF_TIME = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def int96_parquet() -> bytes:
    """Timestamps as Spark writes them by default (INT96), with the common 9999-12-31 "valid until"."""
    ts = [datetime(2026, 11, 20, 6, tzinfo=UTC), END_OF_TIME, datetime(2026, 11, 19, tzinfo=UTC)] * 100
    buf = io.BytesIO()
    pq.write_table(pa.table({"valid_to": pa.array(ts, pa.timestamp("us", tz="UTC"))}), buf,
                   use_deprecated_int96_timestamps=True, store_schema=False)
    return buf.getvalue()


def test_int96_timestamps_after_2262_keep_their_value_in_the_profile_and_the_min_rule() -> None:
    data = int96_parquet()
    assert pq.ParquetFile(io.BytesIO(data)).schema.column(0).physical_type == "INT96"
    rule = contract("columns: {valid_to: {type: timestamp, min: '2020-01-01T00:00:00Z'}}")
    p = run(data, rule, "parquet")
    col = p.columns["valid_to"]
    assert (col.type, col.min, col.max) == ("timestamp", datetime(2026, 11, 19, tzinfo=UTC), END_OF_TIME)
    assert check(p, rule, NOW) == []


# --- bytes that are not UTF-8 in a column the contract does not type -----------------------------------------

ID_ONLY = contract("columns: {id: {type: integer}}")


def test_invalid_utf8_in_an_untyped_column_is_an_encoding_finding_with_its_place() -> None:
    data = b"id,note\n1,caf\xe9\n2,ok\n"                      # a Latin-1 producer writing to a UTF-8 contract
    findings = check(run(data, ID_ONLY, "csv"), ID_ONLY, NOW)
    assert [(f.code, f.severity.value) for f in findings] == [("encoding", "fail")]
    assert "column 'note' at data row 1" in findings[0].message


def test_invalid_utf8_deep_in_an_untyped_column_is_found_in_a_later_block() -> None:
    rows = b"".join(b"%d,fine text %d\n" % (i, i) for i in range(2000))
    data = b"id,note\n" + rows + b"2000,na\xefve\n"
    p = run(data, ID_ONLY, "csv")
    findings = check(p, ID_ONLY, NOW)
    assert [f.code for f in findings] == ["encoding"] and "data row 2,001" in findings[0].message
    assert p.rows == 2001 and p.columns["note"].type == "string"


# --- unsigned 64-bit integers ----------------------------------------------------------------------------

UNSIGNED = contract("columns: {id: {type: integer, min: 0}}")


def test_unsigned_64_bit_integers_above_2_63_in_a_csv_are_integers() -> None:
    big = [2**64 - 1, 2**63, 12345678901234567890]
    rows = b"".join(b"%d\n" % i for i in range(3000)) + b"".join(b"%d\n" % v for v in big)
    p = run(b"id\n" + rows, UNSIGNED, "csv")
    col = p.columns["id"]
    assert (col.type, col.count, col.invalid, col.min, col.max) == ("integer", 3003, 0, 0, 2**64 - 1)
    assert check(p, UNSIGNED, NOW) == []


def test_integers_that_fit_no_64_bit_column_are_wrong_type_with_the_first_one_named() -> None:
    p = run(b"id\n-1\n18446744073709551615\n18446744073709551616\n", UNSIGNED, "csv")
    findings = {f.code: f.message for f in check(p, UNSIGNED, NOW)}
    assert "2 values not of type integer, e.g. '18446744073709551615' (first at data row 2)" in findings["wrong_type"]


# --- lone surrogates and names that are not UTF-8 -----------------------------------------------------------


def validate_json(data_path: Path, contract_text: str) -> tuple[int, dict[str, object], str]:
    contract_file = data_path.parent / "contract.yaml"
    contract_file.write_text(contract_text)
    proc = subprocess.run([sys.executable, "-m", "cli.validate", os.fsencode(data_path), "--contract",
                           str(contract_file), "--json"], cwd=ROOT, capture_output=True, timeout=60, check=False)
    stdout = proc.stdout.decode("utf-8")              # must be UTF-8 text, one JSON document
    return proc.returncode, json.loads(stdout), proc.stderr.decode("utf-8", "replace")


def test_a_jsonl_key_holding_a_lone_surrogate_is_an_encoding_finding_and_json_output_survives(
        tmp_path: Path) -> None:
    data = tmp_path / "events.jsonl"
    data.write_bytes(b'{"id": 1, "\\ud800name": 2, "label": "x\\udc00"}\n{"id": 2, "label": "\\ud83d\\ude00"}\n')
    code, report, err = validate_json(data, "columns: {id: {type: integer}}\n")
    assert code == 2 and "Traceback" not in err
    assert [f["code"] for f in report["findings"]] == ["encoding"]   # type: ignore[index]
    assert "1 line holds a lone" in report["findings"][0]["message"]        # type: ignore[index]  # the pair is fine
    assert "\ufffdname" in report["profile"]["columns"]              # type: ignore[index]


def test_a_file_whose_name_is_not_utf8_is_validated_and_reported(tmp_path: Path) -> None:
    data = Path(os.fsdecode(os.fsencode(tmp_path) + b"/scores-\xff.csv"))
    data.write_bytes(b"id\n1\n2\n")
    code, report, err = validate_json(data, "columns: {id: {type: integer}}\n")
    assert (code, report["status"]) == (0, "pass"), err
    assert str(report["file"]).endswith("scores-\udcff.csv")


# --- spreadsheet exports: BOM, ';', decimal comma, Windows-1252 ---------------------------------------------

EXPORT_COLUMNS = """
columns:
  id: {type: integer, nullable: false}
  score: {type: float, min: 0, max: 1}
  amount: {type: float}
  label: {type: string}
"""


def excel_export(encoding: str = "utf-8-sig") -> bytes:
    """What Excel writes as "CSV UTF-8" in a German or French locale: BOM, ';', decimal comma, CRLF."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(["id", "score", "amount", "label"])
    for i in range(500):
        writer.writerow([i, f"{(i % 100) / 100:.2f}".replace(".", ","), f"{i * 1.5:.1f}".replace(".", ","),
                         "Straße; Ecke" if i % 7 == 0 else "café"])
    return out.getvalue().encode(encoding)


def test_an_excel_export_read_with_its_settings_passes_and_is_profiled_right() -> None:
    c = contract("csv: {delimiter: ';', decimal: ','}" + EXPORT_COLUMNS)
    p = run(excel_export(), c, "csv")
    assert check(p, c, NOW) == []
    assert (p.columns["score"].max, p.columns["amount"].max, p.columns["id"].max) == (0.99, 748.5, 499)


def test_an_excel_export_under_default_settings_is_one_finding_naming_delimiter_and_decimal() -> None:
    c = contract(EXPORT_COLUMNS)
    findings = check(run(excel_export(), c, "csv"), c, NOW)
    assert [(f.code, f.message.split("; set ")[-1]) for f in findings] == [
        ("wrong_delimiter", "csv: {delimiter: ';', decimal: ','}")]


def test_an_excel_export_with_only_the_delimiter_set_names_the_decimal_fix_per_float_column() -> None:
    c = contract("csv: {delimiter: ';'}" + EXPORT_COLUMNS)
    findings = check(run(excel_export(), c, "csv"), c, NOW)
    assert {f.code for f in findings} == {"wrong_type"}, [(f.code, f.message) for f in findings]
    assert all(f.message.endswith("set csv: {decimal: ','}") for f in findings) and len(findings) == 2


def test_a_windows_1252_export_under_a_utf8_contract_is_one_encoding_finding_naming_the_fix() -> None:
    c = contract("csv: {delimiter: ';', decimal: ','}" + EXPORT_COLUMNS)
    findings = check(run(excel_export("cp1252"), c, "csv"), c, NOW)
    assert [f.code for f in findings] == ["encoding"] and "set csv: {encoding: cp1252}" in findings[0].message
    fixed = contract("csv: {delimiter: ';', decimal: ',', encoding: cp1252}" + EXPORT_COLUMNS)
    assert check(run(excel_export("cp1252"), fixed, "csv"), fixed, NOW) == []


def test_a_tab_separated_file_under_a_comma_contract_is_one_finding() -> None:
    c = contract(EXPORT_COLUMNS)
    data = b"id\tscore\tamount\tlabel\n" + b"".join(b"%d\t0.5\t1.0\tx\n" % i for i in range(20))
    assert [(f.code, f.message.split("; set ")[-1]) for f in check(run(data, c, "csv"), c, NOW)] == [
        ("wrong_delimiter", "csv: {delimiter: '\\t'}")]


def test_unsigned_64_bit_integers_in_json_lines_are_integers_too() -> None:
    lines = b"".join(b'{"id": %d}\n' % v for v in (1, 2**63, 2**64 - 1))
    p = run(lines, UNSIGNED, "jsonl")
    assert (p.columns["id"].type, p.columns["id"].max, p.columns["id"].invalid) == ("integer", 2**64 - 1, 0)
    assert check(p, UNSIGNED, NOW) == []
    mixed = run(b'{"id": -1}\n{"id": 18446744073709551615}\n{"id": 1180591620717411303424}\n', UNSIGNED, "jsonl")
    assert mixed.columns["id"].invalid == 2 and mixed.columns["id"].invalid_row == 2
