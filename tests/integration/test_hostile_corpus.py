"""Malformed and hostile files → a clear finding, and ``autopilot validate`` exits per DESIGN 3.2.

Every corpus file is profiled in-process (no exception may escape) and validated by the CLI as a real
subprocess (no traceback, one JSON document with --json, the right exit code). The CLI's own contract
(exit 3 for what stops it from running) is tested at the end.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cli.validate import run
from shared.adapters.profilers import detect_format, profile_file
from shared.config import load_contract
from shared.core.checks import check
from shared.core.findings import CODES, status
from tests.hostile_corpus import BENIGN, CASES, CONTRACT, GOOD, HEADER, Case, write

ROOT = Path(__file__).resolve().parents[2]
STATUS = {0: "pass", 1: "warn", 2: "fail"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    directory = tmp_path_factory.mktemp("corpus")
    return {case.name: write(case, directory) for case in CASES + BENIGN}


def validate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.validate", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def cli_runs(corpus: dict[str, tuple[Path, Path]]) -> dict[str, subprocess.CompletedProcess[str]]:
    """The CLI on every corpus file, two at a time (the machine has two cores)."""
    def one(name: str) -> tuple[str, subprocess.CompletedProcess[str]]:
        data, contract = corpus[name]
        return name, validate(str(data), "--contract", str(contract), "--json")
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(one, sorted(corpus)))


def test_the_corpus_holds_at_least_forty_hostile_files_of_every_format() -> None:
    assert len(CASES) >= 40
    assert len({c.name for c in CASES}) == len(CASES)
    suffixes = {c.name.rsplit(".", 1)[-1] for c in CASES}
    assert suffixes >= {"csv", "gz", "jsonl", "parquet"}
    assert all(code in CODES for c in CASES for code in c.expect)


@pytest.mark.parametrize("case", CASES + BENIGN, ids=lambda c: c.name)
def test_each_file_gives_its_expected_finding_in_process(case: Case, corpus: dict[str, tuple[Path, Path]]) -> None:
    data, contract_path = corpus[case.name]
    contract = load_contract(contract_path)
    fmt = detect_format(data.name, contract)
    assert fmt is not None
    profile = profile_file(data, contract, fmt=fmt)
    findings = check(profile, contract, datetime.now(UTC), path=str(data))
    found = [f.code for f in findings]
    assert status(findings) == STATUS[case.exit], found
    if case.expect:
        assert set(case.expect) & set(found), found
    for f in findings:  # one clear sentence each
        assert f.message and "\n" not in f.message and len(f.message) < 300 and f.code in CODES


@pytest.mark.parametrize("case", CASES + BENIGN, ids=lambda c: c.name)
def test_the_cli_exits_by_design_prints_one_json_document_and_never_a_traceback(
        case: Case, cli_runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    proc = cli_runs[case.name]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "Exception ignored" not in proc.stderr and "Warning" not in proc.stderr
    assert proc.returncode == case.exit, proc.stderr
    report = json.loads(proc.stdout)                     # exactly one document: json.loads rejects extra data
    assert proc.stdout.count("\n") == 1
    assert report["status"] == STATUS[case.exit]
    if case.expect:
        assert set(case.expect) & {f["code"] for f in report["findings"]}
    assert report["status"].upper() in proc.stderr       # the human summary went to stderr


# --- the CLI's own contract --------------------------------------------------------------------------------


@pytest.fixture
def good(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    data = tmp_path / "good.csv"
    data.write_bytes(GOOD)
    contract = tmp_path / "contract.yaml"
    contract.write_text(CONTRACT)
    yield data, contract


def test_a_passing_file_prints_human_text_on_stdout_and_exits_0(good: tuple[Path, Path]) -> None:
    proc = validate(str(good[0]), "--contract", str(good[1]))
    assert proc.returncode == 0
    assert proc.stdout.startswith("PASS") and "no findings" in proc.stdout
    assert proc.stderr == ""


def test_a_path_that_does_not_exist_is_exit_3(good: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert run([str(good[0].with_name("missing.csv")), "--contract", str(good[1])]) == 3
    assert "missing.csv: no such file" in capsys.readouterr().err


def test_a_directory_is_exit_3(good: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert run([str(good[0].parent), "--contract", str(good[1])]) == 3
    assert "not a regular file" in capsys.readouterr().err


def test_a_missing_contract_is_exit_3_with_its_name(
        good: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert run([str(good[0]), "--contract", str(good[1].with_name("nope.yaml"))]) == 3
    assert "nope.yaml: contract not found" in capsys.readouterr().err


def test_an_invalid_contract_is_exit_3_naming_every_problem_with_its_line(
        good: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    good[1].write_text("columns:\n  id: {type: integr}\nrowz: {min: 1}\n")
    assert run([str(good[0]), "--contract", str(good[1])]) == 3
    err = capsys.readouterr().err
    assert "contract.yaml:2" in err and "contract.yaml:3" in err and "rowz" in err


def test_a_contract_that_is_not_yaml_is_exit_3_without_a_traceback(good: tuple[Path, Path]) -> None:
    good[1].write_text("columns: [unclosed\n")
    proc = validate(str(good[0]), "--contract", str(good[1]))
    assert proc.returncode == 3 and "Traceback" not in proc.stderr and "not valid YAML" in proc.stderr


def test_bad_arguments_are_exit_3_with_the_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["only-a-path.csv"]) == 3
    err = capsys.readouterr().err
    assert "usage: autopilot validate" in err and "--contract" in err


def test_help_is_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--help"]) == 0
    assert "Exit 0 pass, 1 warn, 2 fail, 3 cannot run" in capsys.readouterr().out


def test_a_file_name_without_a_known_format_is_exit_3_unless_the_contract_names_one(
        good: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    odd = good[0].with_suffix(".txt")
    odd.write_bytes(GOOD)
    assert run([str(odd), "--contract", str(good[1])]) == 3
    assert "cannot tell the format" in capsys.readouterr().err
    good[1].write_text(CONTRACT + "format: csv\n")
    assert run([str(odd), "--contract", str(good[1])]) == 0


def test_a_malformed_history_line_is_exit_3_naming_the_line(
        good: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    history = good[0].with_name("history.jsonl")
    ok = {"ts": "2026-11-20T06:00:00Z", "dataset": "scores", "stage": "output", "name": "a.csv", "bytes": 10}
    history.write_text("\n".join([json.dumps(ok), "{broken", json.dumps({**ok, "stage": "middle"}),
                                  json.dumps({**ok, "bytes": -1}), ""]))
    assert run([str(good[0]), "--contract", str(good[1]), "--history", str(history)]) == 3
    err = capsys.readouterr().err
    assert "history.jsonl:2: not valid JSON" in err
    assert "history.jsonl:3: stage must be 'upstream' or 'output'" in err
    assert "history.jsonl:4: bytes must be" in err


def test_a_well_formed_history_is_accepted(good: tuple[Path, Path]) -> None:
    history = good[0].with_name("history.jsonl")
    line = {"ts": "2026-11-20T06:00:00Z", "dataset": "scores", "stage": "output", "name": "a.csv",
            "bytes": 10, "rows": 5, "columns": {"score": {"mean": 0.4, "std": 0.1, "nulls": 0,
                                                          "histogram": [1, 2, 3]}}}
    history.write_text(json.dumps(line) + "\n\n" + json.dumps(line) + "\n")
    assert run([str(good[0]), "--contract", str(good[1]), "--history", str(history)]) == 0


def test_a_long_validation_draws_a_progress_bar_on_a_terminal_and_only_there(tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    row = b"1,2026-11-20T06:00:00Z,0.5,label1\n"
    with big.open("wb") as fh:
        fh.write(HEADER)
        fh.write(row * ((70 << 20) // len(row)))
    contract = tmp_path / "contract.yaml"
    contract.write_text(CONTRACT)
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "cli.validate", str(big), "--contract", str(contract)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=secondary, timeout=120, check=False)
        os.close(secondary)
        drawn = b""
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:   # the terminal closed: everything has been read
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(primary)
    assert proc.returncode == 0
    assert b"MB/s" in drawn and b"%" in drawn        # the bar, on the terminal
    assert b"MB/s" not in proc.stdout                 # and never in the report
    piped = validate(str(big), "--contract", str(contract))
    assert piped.returncode == 0 and "MB/s" not in piped.stderr
