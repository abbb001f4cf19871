"""``autopilot history import`` / ``autopilot history export``: seed the baselines from a dataset's
existing outputs in storage, and write the history table out as JSON Lines for ``autopilot backtest``."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import IO

from cli.main import EXIT_CANNOT_RUN, deps_for, duration_option, parse_args
from shared.errors import ExternalError
from shared.services.deps import Deps


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="autopilot history",
                                     description="Seed baselines from existing outputs, or export observations.")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    imp = sub.add_parser("import", help="profile a dataset's existing outputs into its history")
    imp.add_argument("--dataset", required=True, help="the dataset (as named in the pipelines config)")
    imp.add_argument("--since", default="90d", help="how far back to look for outputs (default 90d)")
    exp = sub.add_parser("export", help="write observations as JSON Lines (DESIGN 3.4) for backtest")
    exp.add_argument("--dataset", help="only this dataset (default: every dataset)")
    exp.add_argument("--since", default="90d", help="how far back (default 90d)")
    exp.add_argument("--out", help="write to this file instead of stdout")
    for p in (imp, exp):
        p.add_argument("--settings", help="a local.settings.json whose Values are the app settings")
    args = parse_args(parser, argv)
    window = duration_option("autopilot history", "--since", args.since)
    deps = deps_for(args.settings)
    now = datetime.now(UTC)
    try:
        if args.action == "import":
            return _import(deps, args.dataset, now - window, now)
        return _export(deps, args.dataset, now - window, now, args.out)
    except KeyError:
        names = ", ".join(ds.name for ds in deps.config.datasets)
        print(f"autopilot history: no dataset {args.dataset!r} in the config (it has: {names})", file=sys.stderr)
        return EXIT_CANNOT_RUN
    except ValueError as exc:
        print(f"autopilot history: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    except ExternalError as exc:
        print(f"autopilot history: storage cannot be read: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN


def _import(deps: Deps, dataset: str, since: datetime, now: datetime) -> int:
    from cli.validate import _ProgressBar
    from shared.services import history_seed

    bars: list[_ProgressBar] = []

    def progress(done: int, total: int) -> None:
        if not bars:
            bars.append(_ProgressBar(sys.stderr, total))
        bars[0](done, total)

    outcome = history_seed.import_history(deps, dataset, since, now, progress if sys.stderr.isatty() else None)
    if bars:
        bars[0].close()
    print(f"{outcome.dataset}: {outcome.files} output file(s) since {since:%Y-%m-%d}; {outcome.imported} "
          f"profiled into history, {outcome.judged_already} already judged by the output guard"
          + (f", {len(outcome.unreadable)} unreadable" if outcome.unreadable else "")
          + (f", {len(outcome.failed)} could not be read" if outcome.failed else ""), file=sys.stderr)
    for line in outcome.unreadable[:20]:
        print(f"  unreadable: {line}", file=sys.stderr)
    for line in outcome.failed[:20]:
        print(f"  not read: {line}", file=sys.stderr)
    return 0 if not outcome.failed else 1


def _export(deps: Deps, dataset: str | None, since: datetime, now: datetime, out: str | None) -> int:
    from shared.services import history_seed

    stream: IO[str] = open(out, "w", encoding="utf-8") if out else sys.stdout  # noqa: SIM115
    count = 0
    try:
        for obs in history_seed.export_history(deps, dataset, since, now):
            stream.write(obs.to_json() + "\n")
            count += 1
    finally:
        if out:
            stream.close()
    print(f"{count} observation(s) written" + (f" to {out}" if out else ""), file=sys.stderr)
    return 0
