"""Backtest throughput: observations replayed per second at 1k, 10k and 100k observations of history.

One output dataset, hourly (rows with hour-of-day and weekday seasonality) and daily (weekday
seasonality; 24 staleness ticks between observations): Poisson rows, bytes, a score column with a
12-bin histogram for drift, an amount column with a few nulls, an incident every 337 files, written
as DESIGN 3.4 lines. Each size is parsed with the CLI's reader and replayed
with ``backtest.run`` (the code behind ``autopilot backtest``), in this process pinned to one core;
sizes are interleaved round by round so machine drift hits them alike. CPU seconds (process time) are
the figure: the machine is shared, and wall time there measures the neighbours. Target: ≥ 5,000
observations per second at every size, replay only and parse + replay.

Side by side, the implementation this replaced (``tests/oracle``: each observation replays its last
180 observations from scratch) on a small history, for the before/after ratio.

    .venv/bin/python -m bench.backtest [--sizes 1000,10000,100000] [--cadences hourly,daily] [--repeat 3]
                                       [--core 1] [--old 500]
    .venv/bin/python -m bench.backtest --write DIR   # also leave the history files and a config in DIR
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from cli.validate import read_history
from shared.core.history import Observation
from shared.core.spec import PipelinesConfig
from shared.core.typed import coerce
from shared.services import backtest

START = datetime(2025, 1, 6, tzinfo=UTC)   # a Monday
TARGET = 5_000.0
HOUR_SHAPE = [0.3, 0.2, 0.2, 0.2, 0.3, 0.5, 0.8, 1.1, 1.3, 1.4, 1.4, 1.3,
              1.3, 1.4, 1.4, 1.3, 1.2, 1.1, 1.0, 0.9, 0.8, 0.6, 0.5, 0.4]


def history_lines(n: int, seed: int = 0, cadence: str = "hourly") -> list[str]:
    rng = np.random.default_rng(seed)
    edges = np.linspace(0, 1, 11)
    base = np.diff(np.clip(edges, 0, 1) ** 0.7)                  # a skewed score distribution
    probs = np.concatenate([[0.001], base / base.sum() * 0.998, [0.001]])
    lines = []
    for i in range(n):
        if cadence == "hourly":
            ts = START + timedelta(hours=i, minutes=int(rng.integers(0, 6)))
            expected = 2_000 * HOUR_SHAPE[ts.hour] * (0.5 if ts.weekday() >= 5 else 1.0)
        else:   # daily at about 06:00: 24 staleness ticks between observations
            ts = START + timedelta(days=i, hours=6, minutes=int(rng.integers(0, 30)))
            expected = 40_000 * (0.5 if ts.weekday() >= 5 else 1.0)
        if i % 337 == 200:
            expected *= 0.2                                       # an incident: a partial file
        rows = int(rng.poisson(expected))
        hist = rng.multinomial(rows, probs).tolist()
        nulls = int(rng.binomial(rows, 0.002))
        lines.append(json.dumps({
            "ts": ts.isoformat().replace("+00:00", "Z"), "dataset": "events", "stage": "output",
            "name": f"events/{ts:%Y/%m/%d/%H}/part-0.csv", "bytes": rows * 48 + 120, "rows": rows,
            "columns": {"score": {"mean": 0.42, "std": 0.2, "nulls": 0, "histogram": hist},
                        "amount": {"mean": 12.5, "std": 4.0, "nulls": nulls}}}))
    return lines


def config() -> PipelinesConfig:
    result, problems = coerce(PipelinesConfig, {"datasets": [{"name": "events"}]})
    assert result is not None, problems
    return result


def timed(fn, *args):  # type: ignore[no-untyped-def]
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn(*args)
    return result, time.process_time() - cpu, time.perf_counter() - wall


def measure(path: Path, cfg: PipelinesConfig) -> tuple[int, float, float, float]:
    """Alerts, parse CPU s, replay CPU s, replay wall s."""
    observations, parse_cpu, _ = timed(read_history, path)
    alerts, replay_cpu, replay_wall = timed(backtest.run, observations, cfg)
    return len(alerts), parse_cpu, replay_cpu, replay_wall


def compare_old(n: int, cfg: PipelinesConfig) -> None:
    from tests.oracle import backtest as old_backtest

    observations: list[Observation] = read_history_lines(history_lines(n))
    new, new_cpu, _ = timed(backtest.run, observations, cfg)
    old, old_cpu, _ = timed(old_backtest.run, observations, cfg)
    common = {(a.ts, a.code, a.message) for a in old} & {(a.ts, a.code, a.message) for a in new}
    print(f"before/after on {n} observations: old {old_cpu:.2f} s CPU ({n / old_cpu:,.0f}/s), new {new_cpu:.3f} s "
          f"({n / new_cpu:,.0f}/s): {old_cpu / new_cpu:,.0f}x")
    # Up to 180 observations both replay the whole stream and must agree exactly; beyond, the old one
    # restarted each replay 180 observations back (the guard replays its 180 days: the new behaviour).
    print(f"  alerts: old {len(old)}, new {len(new)}, in common {len(common)}, identical lists: {old == new}")


def read_history_lines(lines: list[str]) -> list[Observation]:
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    try:
        return read_history(f.name)
    finally:
        os.unlink(f.name)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--cadences", default="hourly,daily")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--core", type=int, default=None, help="pin this process to one core")
    parser.add_argument("--old", type=int, default=500, help="size for the before/after comparison (0: skip)")
    parser.add_argument("--write", type=Path, default=None, help="keep the history files and a config here")
    args = parser.parse_args()
    if args.core is not None:
        os.sched_setaffinity(0, {args.core})
    sizes = [int(s) for s in args.sizes.split(",")]
    cases = [(c, n) for c in args.cadences.split(",") for n in sizes]
    folder = args.write or Path(tempfile.mkdtemp(prefix="bench-backtest-"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text("datasets: [{name: events}]\n", encoding="utf-8")
    paths = {}
    for cadence, n in cases:
        paths[cadence, n] = folder / f"history-{cadence}-{n}.jsonl"
        paths[cadence, n].write_text("\n".join(history_lines(n, cadence=cadence)) + "\n", encoding="utf-8")
    cfg = config()
    runs: dict[tuple[str, int], list[tuple[int, float, float, float]]] = {case: [] for case in cases}
    for _ in range(args.repeat):
        for case in cases:
            runs[case].append(measure(paths[case], cfg))
    print(f"affinity {sorted(os.sched_getaffinity(0))}, medians of {args.repeat} interleaved runs, CPU time")
    ok, per_obs = True, {}
    for cadence, n in cases:
        done = runs[cadence, n]
        parse = statistics.median(r[1] for r in done)
        replay = statistics.median(r[2] for r in done)
        wall = statistics.median(r[3] for r in done)
        per_obs[cadence, n] = replay / n
        both = n / (parse + replay)
        ok &= n / replay >= TARGET and both >= TARGET
        print(f"{cadence:>6} {n:>7} observations: replay {n / replay:>7,.0f}/s ({replay:.2f} s CPU, wall "
              f"{n / wall:,.0f}/s), parse + replay {both:>7,.0f}/s, {done[0][0]} alerts")
    for cadence in args.cadences.split(","):
        if len(sizes) > 1:
            print(f"{cadence}: cost per observation, {sizes[-1]:,} vs {sizes[0]:,}: "
                  f"{per_obs[cadence, sizes[-1]] / per_obs[cadence, sizes[0]]:.2f}x")
    print(f"target >= {TARGET:,.0f}/s at every size: {'met' if ok else 'MISSED'}")
    if args.old:
        compare_old(args.old, cfg)
    if args.write is None:
        for path in [*paths.values(), folder / "config.yaml"]:
            path.unlink()
        folder.rmdir()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
