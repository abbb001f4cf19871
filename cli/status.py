"""``autopilot status``: per dataset, the recent batches with their run, outputs verdict, refresh and
alerts, and what is late now, read from the state tables the functions write (read only)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from cli.main import EXIT_CANNOT_RUN, deps_for, duration_option, parse_args
from shared.errors import ExternalError


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="autopilot status",
                                     description="What Autopilot saw and decided, per dataset.")
    parser.add_argument("--settings", help="a local.settings.json whose Values are the app settings")
    parser.add_argument("--dataset", help="only this dataset")
    parser.add_argument("--since", default="7d", help="how far back to show batches and alerts (default 7d)")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = parse_args(parser, argv)
    from shared.core.status_text import render_text
    from shared.services import status

    window = duration_option("autopilot status", "--since", args.since)
    deps = deps_for(args.settings)
    now = datetime.now(UTC)
    try:
        view = status.view(deps, now, now - window, args.dataset)
    except KeyError:
        names = ", ".join(ds.name for ds in deps.config.datasets)
        print(f"autopilot status: no dataset {args.dataset!r} in the config (it has: {names})", file=sys.stderr)
        return EXIT_CANNOT_RUN
    except ExternalError as exc:
        print(f"autopilot status: state cannot be read: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    if args.json:
        print(json.dumps(view.to_dict(), indent=2))
    else:
        print(render_text(view))
    return 0
