"""History you can see: `validate --emit-observation` prints the line history keeps, and what validate
prints can be fed back as history."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shared.core.history import parse_observation

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ("format: csv\ncolumns:\n  id: {type: integer}\n  score: {type: float, min: 0, max: 1}\n"
            "drift: {columns: [score], bins: 4}\n")


def validate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", "validate", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def write_csv(path: Path, rows: int, shift: float = 0.0) -> None:
    path.write_text("id,score\n" + "".join(f"{i},{min(0.99, (i % 10) / 10 + shift):.2f}\n" for i in range(rows)))


def test_the_emitted_line_is_the_observation_history_stores(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(CONTRACT)
    write_csv(tmp_path / "day.csv", 200)

    result = validate(str(tmp_path / "day.csv"), "--contract", str(tmp_path / "c.yaml"), "--emit-observation",
                      "--dataset", "scores", "--ts", "2026-11-29T06:00:00Z")

    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    observation = parse_observation(line)
    assert (observation.dataset, observation.stage, observation.name) == ("scores", "output", "day.csv")
    assert observation.ts == datetime(2026, 11, 29, 6, tzinfo=UTC)
    assert observation.rows == 200 and observation.bytes == (tmp_path / "day.csv").stat().st_size
    histogram = observation.columns["score"].histogram
    assert histogram is not None and sum(histogram) == 200 and len(histogram) == 4 + 2
    assert "PASS" in result.stderr   # the report, for a person, on stderr


def test_emitted_lines_are_a_history_the_next_file_is_judged_against(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(CONTRACT)
    start = datetime(2026, 11, 1, 6, tzinfo=UTC)
    lines = []
    for day in range(20):
        write_csv(tmp_path / "d.csv", 200 + day % 3)
        result = validate(str(tmp_path / "d.csv"), "--contract", str(tmp_path / "c.yaml"), "--emit-observation",
                          "--dataset", "scores", "--ts", (start + timedelta(days=day)).isoformat())
        lines.append(result.stdout.strip())
    (tmp_path / "h.jsonl").write_text("\n".join(lines) + "\n")
    write_csv(tmp_path / "today.csv", 2000, shift=0.5)   # enough rows for drift to be told from noise

    judged = validate(str(tmp_path / "today.csv"), "--contract", str(tmp_path / "c.yaml"), "--history",
                      str(tmp_path / "h.jsonl"), "--json")

    codes = {f["code"] for f in json.loads(judged.stdout)["findings"]}
    assert judged.returncode == 2 and {"rows_anomaly", "drift"} <= codes


def test_a_report_s_histogram_is_accepted_back_as_history() -> None:
    report_column = {"type": "float", "nulls": 0, "mean": 0.5,
                     "histogram": {"lo": 0, "hi": 1, "counts": [5, 10, 5], "below": 1, "above": 0}}
    line = json.dumps({"ts": "2026-11-29T06:00:00Z", "dataset": "scores", "stage": "output", "bytes": 10,
                       "rows": 21, "columns": {"score": report_column}})

    assert parse_observation(line).columns["score"].histogram == (1.0, 5.0, 10.0, 5.0, 0.0)
