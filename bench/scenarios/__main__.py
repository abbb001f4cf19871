"""Score today's detectors on the labelled scenario suite (both halves) and print a Markdown table.

    .venv/bin/python -m bench.scenarios [--seeds 4] [--half tuning] [--write DIR] [--names-only]

``--half tuning`` scores the tuning half only: what to look at while tuning, so the held-out half stays
unseen until the end.

``--names-only`` drops what each dataset's owner declares (the multi-file family's ``output.batch``,
the holiday family's ``history.holidays``): what a config naming only the dataset gets.

``--write DIR`` also leaves every scenario as DESIGN 3.4 lines (``DIR/<name>.jsonl``), its labels
(``DIR/<name>.labels.json``) and its pipelines.yaml (``DIR/<name>.config.yaml``), so one can be replayed
by hand: ``autopilot backtest DIR/drop-1.jsonl --config DIR/drop-1.config.yaml``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench.scenarios import generate, score


def write(folder: Path, scenarios: list[generate.Scenario]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for s in scenarios:
        # JSON is YAML: the config the scorer used, as a file the CLI reads.
        (folder / f"{s.name}.config.yaml").write_text(json.dumps(score.config_body(s)) + "\n", encoding="utf-8")
        (folder / f"{s.name}.jsonl").write_text("".join(o.to_json() + "\n" for o in s.observations),
                                                encoding="utf-8")
        labels = [{"dataset": i.dataset, "kind": i.kind, "codes": sorted(i.codes), "must_find": i.must_find,
                   "start": i.start.isoformat(), "end": i.end.isoformat()} for i in s.incidents]
        (folder / f"{s.name}.labels.json").write_text(
            json.dumps({"family": s.family, "seed": s.seed, "half": s.half, "clean": s.clean,
                        "incidents": labels}, indent=1), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=len(generate.SEEDS))
    parser.add_argument("--half", choices=("tuning", "held-out"), default=None)
    parser.add_argument("--write", type=Path, default=None)
    parser.add_argument("--names-only", action="store_true",
                        help="score every scenario with a config that names only its dataset (no owner's settings)")
    args = parser.parse_args()
    started = time.perf_counter()
    scenarios = [s for s in generate.suite(range(args.seeds)) if args.half in (None, s.half)]
    if args.names_only:
        for s in scenarios:
            s.config = {}
    if args.write:
        write(args.write, scenarios)
    tallies = score.run(scenarios)
    observations = sum(len(s.observations) for s in scenarios)
    halves = "even seeds tuning, odd seeds held-out" if args.half is None else f"the {args.half} half only"
    print(f"{len(scenarios)} scenarios ({len(generate.FAMILIES)} families × {args.seeds} seeds; {halves}), "
          f"{observations:,} observations, "
          f"{sum(len([i for i in s.incidents if i.must_find]) for s in scenarios)} labelled incidents, "
          f"scored in {time.perf_counter() - started:.1f} s\n")
    print(score.table(tallies, list(generate.FAMILIES)))
    missed = [m for t in tallies.values() for m in t.missed]
    if missed:
        print("\nmissed incidents:\n  " + "\n  ".join(sorted(missed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
