"""The whole story on the sandbox, exactly as ``make demo`` plays it: every step must happen."""

from __future__ import annotations

import pytest


def test_the_demo_story_plays_as_designed(capsys: pytest.CaptureFixture[str]) -> None:
    from sandbox import demo

    code = demo.main()
    out = capsys.readouterr().out
    assert code == 0, out
    assert "check      FAIL" not in out and "every step played as designed" in out
    for step in ("tick 2: exactly one ADF run started", "tick 3: the batch already ran, nothing new started",
                 "Power BI: refresh held", "after the outage the retried alerts reached Teams",
                 "metrics recorded (customMetrics in Azure): autopilot.output.rows",
                 "drift started the retraining pipeline retrain_scores once",
                 "batch verdict pass over 3 files",
                 "history keeps one observation of 180 rows for it, not one per part",
                 "run_failed reached Teams with a link to the Databricks notebook run",
                 'work item #1 created: Bug "WARN · forecasts · output late", State New',
                 "one work item created in Azure DevOps",
                 "work item #1 resolved: State Resolved",
                 "work item #1 resolved in Azure DevOps, State Resolved",
                 "outputs fail: 1/1 files judged; failing: scores-"):
        assert step in out
