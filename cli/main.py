"""``autopilot``: the operator CLI (DESIGN 3.2).

Exit codes: 0 pass, 1 warn, 2 fail, 3 the command itself could not run. Errors the user can fix are
printed as one clear message; a traceback is never shown for them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from shared.errors import AutopilotError, ConfigError

EXIT_CANNOT_RUN = 3


class Exit(Exception):
    """Leave the command with ``code``: what the user needs to read was already printed."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """``parser.parse_args``, with argparse's own exit (a usage problem, or --help) as the CLI's code."""
    try:
        return parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage problem (or the help)
        raise Exit(EXIT_CANNOT_RUN if exc.code else 0) from None


def duration_option(prog: str, flag: str, text: str) -> timedelta:
    """A duration option (``--since 7d``); a bad one is said once, naming the command and the option."""
    from shared.core.typed import Invalid, parse_duration

    try:
        return parse_duration(text)
    except Invalid as exc:
        print(f"{prog}: {flag}: {exc}", file=sys.stderr)
        raise Exit(EXIT_CANNOT_RUN) from None


def read_settings_file(path: str) -> dict[str, str]:
    """The ``Values`` of a local.settings.json file (the same reader as the local host's)."""
    from shared import local_settings

    return local_settings.read(path)


def environment(settings: str | None) -> dict[str, str]:
    """The process environment with a local.settings.json's ``Values`` over it (``--settings``)."""
    env = dict(os.environ)
    if settings:
        env.update(read_settings_file(settings))
    return env


def deps_for(settings: str | None) -> Any:
    """The app's dependencies, built as the functions build them, from ``environment(settings)``."""
    from shared import bootstrap

    return bootstrap.build_deps(environment(settings))


def _config_check(args: argparse.Namespace) -> int:
    from shared import config

    env = environment(args.settings)
    if args.pipelines:
        env["PIPELINES_CONFIG"] = str(Path(args.pipelines).resolve())
    from cli.config_push import fetch_blob

    settings, pipelines = config.load_all(env, fetch_blob)
    if settings.factory is not None:
        from shared.adapters.data_factory import DataFactoryRunner
        from shared.bootstrap import check_claim_timeout

        check_claim_timeout(settings.claim_timeout, DataFactoryRunner.for_factory(settings.factory))
    print(f"configuration is valid: {len(pipelines.datasets)} dataset(s): "
          + ", ".join(ds.name for ds in pipelines.datasets), file=sys.stderr)
    # The host's next firings, so a reader sees what the expression means before deploying it.
    now = datetime.now(UTC)
    for name, schedule in (("upstream", settings.upstream_schedule), ("followup", settings.followup_schedule)):
        if schedule is not None:
            firings = [schedule.next_after(now)]
            for _ in range(2):
                firings.append(schedule.next_after(firings[-1]))
            print(f"{name} schedule: {schedule.expression!r}, next (UTC): "
                  + ", ".join(f"{t:%a %Y-%m-%d %H:%M:%S}" for t in firings), file=sys.stderr)
    return 0


def _config_push(args: argparse.Namespace) -> int:
    from cli import config_push

    return config_push.push(args)


# Commands that own their arguments: (module, function) of cli, each ``function(argv) -> exit code``,
# imported when run so that one command's imports never slow another's start.
PASS_THROUGH: dict[str, tuple[str, str, str]] = {
    "validate": ("validate", "run", "validate a local file against an output contract"),
    "backtest": ("backtest", "run", "replay history observations through the detectors"),
    "send-test-alert": ("send_test_alert", "run", "send one test alert through the configured channels"),
    "status": ("status", "run", "batches, runs, verdicts, refreshes, alerts and what is late, per dataset"),
    "history": ("history", "run", "history import (seed baselines from existing outputs) / history export"),
    "label": ("teach", "label", "label an alert --false-alarm or --expected"),
    "snooze": ("teach", "snooze", "silence an alert kind of a dataset for a while"),
}


def _pass_through(command: str) -> Any:
    module, function, _ = PASS_THROUGH[command]

    def handler(args: argparse.Namespace) -> int:
        code: int = getattr(importlib.import_module(f"cli.{module}"), function)(args.rest)
        return code

    return handler


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="autopilot", description="Operate ADF Autopilot.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = sub.add_parser("check-config", help="validate app settings and the pipelines config")
    check.add_argument("--settings", help="a local.settings.json whose Values are the app settings")
    check.add_argument("--pipelines", help="the pipelines config (default: PIPELINES_CONFIG or pipelines.yaml)")
    check.set_defaults(handler=_config_check)
    live = sub.add_parser("config", help="the live pipelines config (PIPELINES_CONFIG=blob://...)")
    live_sub = live.add_subparsers(dest="action", required=True, metavar="ACTION")
    push = live_sub.add_parser("push", help="validate a pipelines config and upload it as the live config")
    push.add_argument("file", help="the pipelines config (YAML) to upload")
    push.add_argument("--settings", help="a local.settings.json whose Values are the app settings")
    push.set_defaults(handler=_config_push)
    for name, (_, _, text) in PASS_THROUGH.items():
        command = sub.add_parser(name, help=text, add_help=False)
        command.add_argument("rest", nargs=argparse.REMAINDER)
        command.set_defaults(handler=_pass_through(name))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if argv and argv[0] in PASS_THROUGH:
        # These commands own their arguments (argparse.REMAINDER drops a leading --option).
        args = argparse.Namespace(rest=argv[1:], handler=_pass_through(argv[0]))
        return _run(args)
    try:
        args = parse_args(parser, argv)
    except Exit as exc:
        return exc.code
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        code: int = args.handler(args)
        return code
    except Exit as exc:
        return exc.code
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_CANNOT_RUN
    except AutopilotError as exc:
        print(f"autopilot: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    except KeyboardInterrupt:
        print("autopilot: interrupted", file=sys.stderr)
        return 130


def entry() -> None:
    """The console script: exit without interpreter teardown, where pyarrow's thread pools can
    abort now and then and replace the exit code (see cli.validate.exit_now)."""
    from cli.validate import exit_now

    exit_now(main())


if __name__ == "__main__":
    entry()
