"""Backtests on generated histories with known anomalies, through the detectors the functions use."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shared.core.history import Observation, history_findings, parse_observation
from shared.core.spec import PipelinesConfig
from shared.core.typed import coerce
from shared.services import backtest

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 6, 1, 6, tzinfo=UTC)   # a Monday


def names_only() -> PipelinesConfig:
    config, _ = coerce(PipelinesConfig, {"datasets": [{"name": "scores"}]})
    assert config is not None
    return config


def histogram(rng: random.Random, shift: float = 0.0, n: int = 500) -> list[int]:
    counts = [0] * 12   # below, 10 bins over [0, 1], above
    for _ in range(n):
        x = min(max(rng.betavariate(2 + shift * 6, 5), 0.0), 0.9999)
        counts[1 + int(x * 10)] += 1
    return counts


def generate(days: int = 70, seed: int = 0, *, spikes: frozenset[int] = frozenset(),
             drops: frozenset[int] = frozenset(), shift_from: int | None = None,
             missing: frozenset[int] = frozenset(), drift_from: int | None = None) -> list[dict[str, object]]:
    """One output file a day at 06:00; weekends are smaller; anomalies where asked."""
    rng = random.Random(seed)
    out = []
    for d in range(days):
        if d in missing:
            continue
        ts = START + timedelta(days=d, minutes=rng.randint(0, 20))
        rows = (4_000 if ts.weekday() >= 5 else 10_000) * (1 + rng.gauss(0, 0.03))
        rows *= 3.0 if d in spikes else 0.33 if d in drops else 1.0
        if shift_from is not None and d >= shift_from:
            rows *= 1.8
        hist = histogram(rng, 0.5 if drift_from is not None and d >= drift_from else 0.0)
        out.append({"ts": ts.isoformat().replace("+00:00", "Z"), "dataset": "scores", "stage": "output",
                    "name": f"scores/{ts:%Y/%m/%d}/scores.csv", "bytes": int(rows * 42), "rows": int(rows),
                    "columns": {"score": {"mean": 0.3, "std": 0.1, "nulls": 0, "histogram": hist}}})
    return out


def alerts_for(records: list[dict[str, object]]) -> list[backtest.BacktestAlert]:
    return backtest.run([parse_observation(json.dumps(r)) for r in records], names_only())


def days_flagged(alerts: list[backtest.BacktestAlert], codes: set[str]) -> set[int]:
    return {(a.ts - START).days for a in alerts if a.code in codes}


def test_a_clean_seasonal_history_raises_no_alert() -> None:
    for seed in range(3):
        assert alerts_for(generate(seed=seed)) == []


def test_spikes_and_drops_are_found_by_size_and_rows() -> None:
    spikes, drops = frozenset({30, 45}), frozenset({38, 52})
    found = days_flagged(alerts_for(generate(spikes=spikes, drops=drops)), {"rows_anomaly", "size_anomaly"})
    assert found == spikes | drops


def test_a_level_shift_alerts_once_when_it_starts_then_is_learned() -> None:
    # One alert per episode (issue 12): the shift's first file alerts; the next two continue the same
    # episode, and the third, where the shift is learned, says so in its findings without alerting again.
    records = generate(shift_from=40)
    alerts = alerts_for(records)
    assert [(a.ts - START).days for a in alerts] == [40]
    stream = [parse_observation(json.dumps(r)) for r in records]
    contract = backtest._contract(backtest._dataset(names_only(), "scores"), "output", stream)
    learned = [f for f in history_findings(stream[42], stream[:42], contract) if f.code == "level_shift"]
    assert learned and all(f.ongoing for f in learned)


def test_missing_arrivals_raise_late_once_and_recover() -> None:
    alerts = alerts_for(generate(missing=frozenset({30, 31, 32})))
    codes = [(a.code, (a.ts - START).days) for a in alerts if a.code.startswith("output_")]
    assert [c for c, _ in codes] == ["output_late", "output_recovered"]
    assert codes[0][1] == 30 and codes[1][1] == 33


def test_score_drift_is_found_by_psi() -> None:
    alerts = alerts_for(generate(drift_from=50))
    assert 50 in days_flagged(alerts, {"drift"})
    assert min(days_flagged(alerts, {"drift", "level_shift"})) == 50


def test_precision_and_recall_over_seeds() -> None:
    hits = expected = reported = 0
    for seed in range(5):
        truth = {30, 38, 45, 52}
        alerts = alerts_for(generate(seed=seed, spikes=frozenset({30, 45}), drops=frozenset({38, 52})))
        flagged = days_flagged(alerts, {"rows_anomaly", "size_anomaly", "null_anomaly", "drift", "level_shift"})
        hits += len(flagged & truth)
        expected += len(truth)
        reported += len(flagged)
    precision, recall = hits / reported, hits / expected
    print(f"backtest precision {precision:.2f} recall {recall:.2f}")
    assert precision >= 0.9 and recall >= 0.9


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", "backtest", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_the_cli_prints_one_json_object_per_alert_and_exits_with_the_worst(tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    history.write_text("\n".join(json.dumps(r) for r in generate(spikes=frozenset({30}))) + "\n")
    config = tmp_path / "config.yaml"
    config.write_text("datasets: [{name: scores}]\n")
    result = run_cli(str(history), "--config", str(config), "--json")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 2, result.stderr
    assert {line["code"] for line in lines} >= {"rows_anomaly"}
    assert all(set(line) == {"ts", "dataset", "code", "severity", "message"} for line in lines)


def test_the_cli_names_malformed_lines_and_exits_3(tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    history.write_text('{"ts": "2026-01-01T00:00:00Z", "dataset": "s", "stage": "output", "bytes": 1}\n'
                       '{"ts": "yesterday", "dataset": "s", "stage": "output", "bytes": 1}\nnot json\n')
    config = tmp_path / "config.yaml"
    config.write_text("datasets: [{name: s}]\n")
    result = run_cli(str(history), "--config", str(config))
    assert result.returncode == 3 and "Traceback" not in result.stderr
    assert f"{history}:2: ts 'yesterday' is not an ISO 8601 time" in result.stderr
    assert f"{history}:3: not valid JSON" in result.stderr


def test_the_cli_exits_3_on_a_bad_config(tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    history.write_text("")
    config = tmp_path / "config.yaml"
    config.write_text("datasets: [{name: s, colour: red}]\n")
    result = run_cli(str(history), "--config", str(config))
    assert result.returncode == 3 and "unknown field 'colour'" in result.stderr


def test_observations_round_trip() -> None:
    record = generate(days=1)[0]
    obs = parse_observation(json.dumps(record))
    assert isinstance(obs, Observation) and parse_observation(obs.to_json()) == obs


def _parts(days: int, *, dataset: str = "scores") -> list[Observation]:
    """A Spark-style output: 3-6 uneven parts a day in one date folder, the day's total steady."""
    rng = random.Random(7)
    out = []
    for d in range(days):
        day = START + timedelta(days=d)
        count = rng.randint(3, 6)
        weights = [rng.gammavariate(1.5, 1) for _ in range(count)]
        for p, w in enumerate(weights):
            rows = int(20_000 * w / sum(weights))
            out.append(Observation(day + timedelta(minutes=p), dataset, "output",
                                   f"{dataset}/{day:%Y/%m/%d}/part-{p:05d}.parquet", rows * 50, rows))
    return out


def test_a_batched_dataset_is_judged_per_batch_as_the_guard_judges_it() -> None:
    parts = _parts(60)
    alone, _ = coerce(PipelinesConfig, {"datasets": [{"name": "scores"}]})
    batched, _ = coerce(PipelinesConfig, {"datasets": [{"name": "scores", "output": {
        "container": "out", "prefix": "scores", "batch": {"marker": "_SUCCESS"}}}]})
    assert alone is not None and batched is not None
    assert backtest.run(parts, batched) == []
    # A day whose batch lost half its rows is found once, at the batch's last part; judged one by one
    # against each other's uneven sizes, its parts look like any others.
    day = START + timedelta(days=45)
    halved = [replace(o, rows=(o.rows or 0) // 2, bytes=o.bytes // 2) if o.ts.date() == day.date() else o
              for o in parts]
    assert [a for a in backtest.run(halved, alone) if a.ts.date() == day.date()] == []
    alerts = backtest.run(halved, batched)
    assert [(a.code, a.ts) for a in alerts] == [
        ("rows_anomaly", max(o.ts for o in parts if o.ts.date() == day.date()))]
