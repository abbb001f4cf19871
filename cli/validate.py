"""``autopilot validate PATH --contract FILE [--history FILE] [--json]`` (DESIGN 3.2).

Exit 0 pass, 1 warn, 2 fail, 3 when the command itself cannot run (bad arguments, a missing PATH, an
unreadable or invalid contract or history). A malformed data file is a data problem: exit 2 with a
finding, never a traceback. ``--json`` prints exactly one JSON document on stdout; human text then goes
to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

from shared.errors import ConfigError

if TYPE_CHECKING:
    from shared.core.findings import Finding
    from shared.core.history import Observation
    from shared.core.profile import Profile
    from shared.core.spec import Contract

EXIT = {"pass": 0, "warn": 1, "fail": 2}
CANNOT_RUN = 3
_PROGRESS_FROM = 64 << 20           # files smaller than this finish before a bar helps


class _UsageError(Exception):
    pass


class _CannotRun(Exception):
    """The command cannot run (exit 3); the message is one line for stderr."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is exit 3 (the command could not run), not argparse's 2 (= fail)."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{self.format_usage().rstrip()}\n{self.prog}: error: {message}")


def _parser() -> _Parser:
    parser = _Parser(prog="autopilot validate",
                     description="Validate a data file (.csv, .csv.gz, .jsonl, .parquet) against an output "
                                 "contract. Exit 0 pass, 1 warn, 2 fail, 3 cannot run.")
    parser.add_argument("path", metavar="PATH", help="the data file to validate, or a Delta table's folder")
    parser.add_argument("--version", type=int, metavar="N",
                        help="the Delta table version to validate (default: the latest)")
    parser.add_argument("--contract", metavar="FILE", required=True,
                        help="output contract (YAML, the schema of a dataset's output block)")
    parser.add_argument("--history", metavar="FILE",
                        help="past observations of this dataset (JSON Lines, one observation per line)")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON document on stdout")
    parser.add_argument("--emit-observation", action="store_true",
                        help="print, on stdout, the history line (DESIGN 3.4) this file would add; the report "
                             "goes to stderr")
    parser.add_argument("--dataset", default="", help="the dataset the observation belongs to (with "
                        "--emit-observation)")
    parser.add_argument("--ts", help="the observation's time, ISO 8601 with a zone (default: the file's "
                        "modification time, as history uses a blob's)")
    return parser


def run(argv: list[str]) -> int:
    try:
        args = _parser().parse_args(argv)
    except _UsageError as exc:
        print(exc, file=sys.stderr)
        return CANNOT_RUN
    except SystemExit as exc:      # --help
        return int(exc.code or 0)
    try:
        return _validate(args)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return CANNOT_RUN
    except _CannotRun as exc:
        print(f"autopilot validate: {exc}", file=sys.stderr)
        return CANNOT_RUN
    except KeyboardInterrupt:
        print("autopilot validate: interrupted", file=sys.stderr)
        return 130


def _validate(args: argparse.Namespace) -> int:
    from shared.config import load_contract

    contract = load_contract(args.contract)
    path = Path(args.path)
    if not path.exists():
        raise _CannotRun(f"{path}: no such file")
    history = read_history(args.history) if args.history else None
    if path.is_dir() and (path / "_delta_log").is_dir():
        if contract.format not in (None, "delta"):
            raise _CannotRun(f"{path} is a Delta table but the contract says format {contract.format}")
        from cli.validate_delta import profile_table

        try:
            profile, shown = profile_table(path, contract, args.version)
        except ValueError as exc:
            raise _CannotRun(str(exc)) from exc
        return _judge(args, profile, contract, history, shown)
    if contract.format == "delta":
        raise _CannotRun(f"{path}: format delta needs a Delta table's folder (the one holding _delta_log/)")
    if not path.is_file():
        raise _CannotRun(f"{path}: not a regular file")
    if args.version is not None:
        raise _CannotRun("--version applies to a Delta table's folder only")

    from shared.adapters.profilers import detect_format, profile_file, unreadable

    fmt = detect_format(path.name, contract)
    if fmt is None:
        raise _CannotRun(f"{path}: cannot tell the format from the file name; name it .csv, .csv.gz, "
                         ".jsonl or .parquet, or set `format` in the contract")
    size = path.stat().st_size
    bar = _ProgressBar(sys.stderr, size) if sys.stderr.isatty() and size >= _PROGRESS_FROM else None
    try:
        profile = profile_file(path, contract, fmt=fmt, progress=bar)
    except OSError as exc:  # exists but cannot be read (permissions, I/O error): a data problem
        profile = unreadable(fmt, size, f"the file cannot be read: {exc.strerror or exc}")
    finally:
        if bar is not None:
            bar.close()
    return _judge(args, profile, contract, history, path)


def _judge(args: argparse.Namespace, profile: Profile, contract: Contract, history: list[Observation] | None,
           path: Path) -> int:
    from shared.core.checks import check
    from shared.core.report import build_report

    now = datetime.now(UTC)
    findings = check(profile, contract, now, path=str(path))
    if history is not None:
        findings += history_checks(profile, contract, history, path, now)
    report = build_report(profile, findings, file=str(path))
    if args.emit_observation:
        sys.stdout.write(_observation(args, profile, contract, path) + "\n")
        _human(report, sys.stderr)
    elif args.json:
        sys.stdout.write(_json_text(report) + "\n")
        _human(report, sys.stderr)
    else:
        sys.stdout.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]  # a file name's stray bytes
        _human(report, sys.stdout)
    return EXIT[report["status"]]


def _observation(args: argparse.Namespace, profile: Profile, contract: Contract, path: Path) -> str:
    """The line history would store for this file (the guard's ``from_profile``)."""
    from shared.core.history import from_profile

    if args.ts:
        try:
            ts = datetime.fromisoformat(args.ts.replace("Z", "+00:00"))
        except ValueError as exc:
            raise _CannotRun(f"--ts {args.ts!r} is not an ISO 8601 time such as 2026-11-29T06:00:00Z") from exc
        if ts.tzinfo is None:
            raise _CannotRun(f"--ts {args.ts!r} needs a time zone, e.g. 2026-11-29T06:00:00Z")
    else:
        ts = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    observation = from_profile(profile, ts=ts, dataset=args.dataset, stage="output", name=path.name,
                               drift_columns=contract.drift.columns)
    return observation.to_json()


def _json_text(report: dict[str, Any]) -> str:
    """The report as JSON text, readable where it can be; escaped (\\udcff) where a value holds a lone
    surrogate, e.g. a file name whose bytes are not UTF-8, which UTF-8 cannot carry."""
    text = json.dumps(report, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(report)
    return text


def _human(report: dict[str, Any], out: IO[str]) -> None:
    profile = report["profile"]
    head = (f"{report['status'].upper()}  {report['file']}  ({report['format']}, {_size(profile['bytes'])}, "
            f"{profile['rows']:,} rows, {len(profile['columns'])} columns)")
    out.write(head + "\n")
    for f in report["findings"]:
        out.write(f"  {f['severity']:<4}  {f['code']:<18} {f['message']}\n")
    if not report["findings"]:
        out.write("  no findings\n")


def _size(n: int) -> str:
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


class _ProgressBar:
    """A one-line bar on a terminal's stderr, redrawn at most ten times a second."""

    def __init__(self, out: IO[str], total: int) -> None:
        self.out, self.total = out, max(total, 1)
        self.start = self.last = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < 0.1:
            return
        self.last = now
        share = min(done / self.total, 1.0)
        rate = done / max(now - self.start, 1e-6) / 1e6
        filled = int(share * 30)
        self.out.write(f"\r  [{'#' * filled}{'.' * (30 - filled)}] {share:4.0%}  {rate:,.0f} MB/s ")
        self.out.flush()

    def close(self) -> None:
        self.out.write("\r" + " " * 60 + "\r")
        self.out.flush()


# --- history (DESIGN 3.4) ------------------------------------------------------------------------------


def read_history(path: str | os.PathLike[str]) -> list[Observation]:
    """Parse a history file (the parser ``autopilot backtest`` and the functions use); ConfigError lists
    every malformed line as ``FILE:LINE: reason``."""
    from shared.core.history import parse_observation

    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise ConfigError([f"{path}: history file not found"], str(path)) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: history file cannot be read: {exc}"], str(path)) from exc
    observations: list[Observation] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            observations.append(parse_observation(line))
        except ValueError as exc:
            problems.append(f"{path}:{number}: {exc}")
    if problems:
        raise ConfigError(problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else []),
                          str(path))
    return observations


def history_checks(profile: Profile, contract: Contract, history: list[Observation], path: Path,
                   now: datetime) -> list[Finding]:
    """The file against its own past: the output stage of the history's (most common) dataset."""
    from collections import Counter

    from shared.core.history import from_profile, history_findings

    outputs = [o for o in history if o.stage == "output"] or history
    if not outputs or not profile.readable:
        return []
    dataset = Counter(o.dataset for o in outputs).most_common(1)[0][0]
    past = [o for o in outputs if o.dataset == dataset]
    observation = from_profile(profile, ts=now, dataset=dataset, stage="output", name=str(path),
                               drift_columns=contract.drift.columns)
    return history_findings(observation, past, contract)


def exit_now(code: int) -> None:
    """Flush and leave without interpreter teardown: pyarrow's thread pools can abort it now and then
    ("terminate called without an active exception", exit 134; apache/arrow#34314), which would replace
    the exit code users and CI rely on."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(run(sys.argv[1:]))
