"""``autopilot backtest HISTORY.jsonl --config FILE [--json]`` (DESIGN 3.2)."""

from __future__ import annotations

import argparse
import json
import sys

from cli.main import parse_args
from shared.config import load_pipelines

EXIT = {None: 0, "info": 0, "warn": 1, "fail": 2}


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="autopilot backtest",
                                     description="Replay history through the detectors; print every alert "
                                                 "that would have fired.")
    parser.add_argument("history", help="observations, one JSON object per line (DESIGN 3.4)")
    parser.add_argument("--config", required=True, help="pipelines config (only dataset names are required)")
    parser.add_argument("--json", action="store_true", help="one JSON object per alert on stdout")
    args = parse_args(parser, argv)
    from cli.validate import read_history
    from shared.services import backtest

    config = load_pipelines(args.config)
    observations = read_history(args.history)
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
