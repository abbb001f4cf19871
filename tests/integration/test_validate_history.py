"""``autopilot validate --history``: the file is judged against its own past, as the output guard does."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = "format: csv\ncolumns:\n  id: {type: integer}\n  score: {type: float, min: 0, max: 1}\n"


def write_csv(path: Path, rows: int) -> None:
    path.write_text("id,score\n" + "".join(f"{i},0.{i % 10}\n" for i in range(rows)))


def history(path: Path, rows: int, days: int = 20) -> None:
    now = datetime.now(UTC)
    lines = [{"ts": (now - timedelta(days=days - d)).isoformat(), "dataset": "scores", "stage": "output",
              "name": f"scores/{d}.csv", "bytes": rows * 8, "rows": rows + (d % 3)} for d in range(days)]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")


def validate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", "validate", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_a_third_of_the_usual_rows_fails_against_history(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(CONTRACT)
    history(tmp_path / "h.jsonl", rows=900)
    write_csv(tmp_path / "today.csv", rows=300)
    result = validate(str(tmp_path / "today.csv"), "--contract", str(tmp_path / "c.yaml"), "--history",
                      str(tmp_path / "h.jsonl"), "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 2, result.stderr
    assert {"rows_anomaly", "size_anomaly"} <= {f["code"] for f in report["findings"]}


def test_a_usual_file_passes_against_history(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(CONTRACT)
    history(tmp_path / "h.jsonl", rows=900)
    write_csv(tmp_path / "today.csv", rows=901)
    result = validate(str(tmp_path / "today.csv"), "--contract", str(tmp_path / "c.yaml"), "--history",
                      str(tmp_path / "h.jsonl"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_too_little_history_is_said_not_silently_passed(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(CONTRACT)
    history(tmp_path / "h.jsonl", rows=900, days=5)
    write_csv(tmp_path / "today.csv", rows=300)
    result = validate(str(tmp_path / "today.csv"), "--contract", str(tmp_path / "c.yaml"), "--history",
                      str(tmp_path / "h.jsonl"), "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 0
    assert [f["message"] for f in report["findings"] if f["code"] == "insufficient_history"] == [
        "History baselines not judged yet: insufficient history (5/14 files)."]
