"""``autopilot backtest HISTORY.jsonl --config FILE [--json]`` (DESIGN 3.2)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from shared.config import load_pipelines
from shared.errors import ConfigError

EXIT = {None: 0, "info": 0, "warn": 1, "fail": 2}


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="autopilot backtest",
                                     description="Replay history through the detectors; print every alert "
                                                 "that would have fired.")
    parser.add_argument("history", help="observations, one JSON object per line (DESIGN 3.4)")
    parser.add_argument("--config", required=True, help="pipelines config (only dataset names are required)")
    parser.add_argument("--json", action="store_true", help="one JSON object per alert on stdout")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 3 if exc.code else 0
    from shared.core.history import parse_observation
    from shared.services import backtest

    try:
        config = load_pipelines(args.config)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 3
    try:
        lines = Path(args.history).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        print(f"autopilot backtest: {args.history}: cannot be read: {exc}", file=sys.stderr)
        return 3
    observations, problems = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            observations.append(parse_observation(line))
        except ValueError as exc:
            problems.append(f"{args.history}:{number}: {exc}")
    if problems:
        print(f"{args.history} has {len(problems)} malformed line(s):", file=sys.stderr)
        for p in problems[:20]:
            print(f"  - {p}", file=sys.stderr)
        if len(problems) > 20:
            print(f"  ... and {len(problems) - 20} more", file=sys.stderr)
        return 3
    alerts = backtest.run(observations, config)
    for alert in alerts:
        if args.json:
            print(json.dumps(alert.to_dict(), ensure_ascii=False))
        else:
            print(f"{alert.ts:%Y-%m-%d %H:%M}Z  {alert.severity.value:<4}  {alert.dataset:<12} {alert.code:<18} "
                  f"{alert.message}")
    worst = backtest.worst(alerts)
    print(f"{len(observations)} observations replayed, {len(alerts)} alert(s); worst: "
          f"{worst.value if worst else 'none'}", file=sys.stderr)
    return EXIT[worst.value if worst else None]
