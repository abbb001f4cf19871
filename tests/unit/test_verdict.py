"""The output guard's decisions, pure: judging a profiled file and folding it into its batch verdict."""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType

from shared.core import history, verdict
from shared.core.findings import Finding
from shared.core.models import Severity
from shared.core.profile import ColumnProfile, Profile
from shared.core.spec import OutputSpec, PipelinesConfig
from shared.core.typed import coerce

NOW = datetime(2026, 11, 21, 6, tzinfo=UTC)
NAME = "scores/2026/11/21/part-0.csv"


def output() -> OutputSpec:
    config, problems = coerce(PipelinesConfig, {"datasets": [{"name": "scores", "output": {
        "container": "outputs", "prefix": "scores",
        "contract": {"format": "csv", "columns": {"id": {"type": "integer", "nullable": False},
                                                  "score": {"type": "float", "min": 0, "max": 1}},
                     "rows": {"min": 10}}}}]})
    assert config is not None and config.datasets[0].output is not None, problems
    return config.datasets[0].output


def profile(rows: int = 50, score_max: float = 0.9, readable: bool = True,
            problems: tuple[Finding, ...] = ()) -> Profile:
    columns = {"id": ColumnProfile("id", "integer", count=rows, min=1, max=rows),
               "score": ColumnProfile("score", "float", count=rows, min=0.1, max=score_max, mean=0.5, std=0.1)}
    return Profile("csv", rows * 10, rows, MappingProxyType(columns if readable else {}), problems=problems,
                   readable=readable, column_order=tuple(columns) if readable else ())


def judge(p: Profile, past: list[history.Observation] | None = None) -> verdict.FileJudgement:
    out = output()
    observation = history.from_profile(p, ts=NOW, dataset="scores", stage="output", name=NAME)
    return verdict.judge_file("scores", out, "outputs", NAME, "2026/11/21", p, observation, past or [], NOW)


def test_a_good_file_passes_keeps_its_observation_and_raises_nothing() -> None:
    judged = judge(profile())
    assert judged.status == "pass" and judged.codes == () and judged.alerts == ()
    assert judged.report["status"] == "pass" and judged.report["file"] == f"outputs/{NAME}"
    assert judged.report_blob == "scores/_reports/2026/11/21/part-0.csv.report.json"
    assert judged.observation is not None and judged.observation.rows == 50


def test_a_file_breaking_its_contract_fails_with_one_alert_naming_its_batch_and_report() -> None:
    judged = judge(profile(rows=5, score_max=7.0))
    assert judged.status == "fail" and set(judged.codes) >= {"row_count", "out_of_range"}
    (alert,) = judged.alerts
    assert alert.code == "output_failed" and alert.severity is Severity.FAIL
    assert alert.facts["batch"] == "scores:2026/11/21"
    assert alert.facts["report"] == f"outputs/{judged.report_blob}"
    assert alert.message.startswith(f"{NAME}: ") and "more)" in alert.message


def test_an_unreadable_file_fails_and_leaves_history_alone() -> None:
    unreadable = Finding("unreadable", Severity.FAIL, "the file is not valid CSV")
    judged = judge(profile(readable=False, problems=(unreadable,)))
    assert judged.status == "fail" and judged.codes[0] == "unreadable"
    assert judged.observation is None


def test_the_batch_verdict_is_the_worst_of_its_files() -> None:
    files, status = verdict.merge_file({"a.csv": "pass"}, "b.csv", "warn")
    assert files == {"a.csv": "pass", "b.csv": "warn"} and status == "warn"
    files, status = verdict.merge_file(files, "c.csv", "fail")
    assert status == "fail"


def test_a_file_judged_again_replaces_its_own_status_in_the_verdict() -> None:
    files, status = verdict.merge_file({"a.csv": "fail", "b.csv": "pass"}, "a.csv", "pass")
    assert files == {"a.csv": "pass", "b.csv": "pass"} and status == "pass"


def test_a_batch_with_no_files_yet_passes() -> None:
    assert verdict.worst([]) == "pass"
