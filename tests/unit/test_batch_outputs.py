"""The breaker's view of a batch of many files: complete, every file judged, the worst one counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.core.batch_outputs import OutputsSeen, judge_outputs

NOW = datetime(2026, 11, 29, 6, tzinfo=UTC)
FILES = tuple(f"scores/2026/11/29/part-{i:05d}.parquet" for i in range(6))


def seen(judged: dict[str, str], **kwargs: object) -> OutputsSeen:
    return OutputsSeen(FILES, judged, **kwargs)  # type: ignore[arg-type]


def test_every_file_judged_and_passing_is_ready_and_passes() -> None:
    verdict = judge_outputs(seen(dict.fromkeys(FILES, "pass")), timedelta(0), NOW)

    assert (verdict.ready, verdict.status, verdict.reason) == (True, "pass", "")


def test_the_worst_file_decides_and_at_most_three_failing_parts_are_named() -> None:
    judged = {name: ("fail" if i % 2 else "warn") for i, name in enumerate(FILES)}
    judged[FILES[5]] = "fail"

    verdict = judge_outputs(seen(judged), timedelta(0), NOW)

    assert verdict.status == "fail"
    assert verdict.reason == "3 of 6 files failed: part-00001.parquet, part-00003.parquet, part-00005.parquet"


def test_an_unjudged_file_is_not_ready_and_says_how_many_were_judged() -> None:
    verdict = judge_outputs(seen(dict.fromkeys(FILES[:4], "pass")), timedelta(0), NOW)

    assert (verdict.ready, verdict.status) == (False, None)
    assert verdict.reason == "outputs not fully validated: 4 of 6 judged"


def test_a_missing_marker_or_a_file_inside_the_quiet_period_is_not_ready() -> None:
    judged = dict.fromkeys(FILES, "pass")

    no_marker = judge_outputs(seen(judged, marker="_SUCCESS"), timedelta(0), NOW)
    arriving = judge_outputs(seen(judged, newest=NOW - timedelta(seconds=10)), timedelta(seconds=30), NOW)
    quiet = judge_outputs(seen(judged, newest=NOW - timedelta(seconds=40)), timedelta(seconds=30), NOW)

    assert not no_marker.ready and "_SUCCESS marker has not arrived" in no_marker.reason
    assert not arriving.ready and arriving.reason.startswith("outputs are still arriving")
    assert quiet.ready and quiet.status == "pass"


def test_a_batch_with_no_files_yet_is_not_ready() -> None:
    verdict = judge_outputs(OutputsSeen((), {}), timedelta(0), NOW)

    assert (verdict.ready, verdict.reason) == (False, "no output files for the batch yet")


def test_a_batched_dataset_waits_for_its_batch_judgement_and_that_judgement_counts() -> None:
    judged = dict.fromkeys(FILES, "pass")

    waiting = judge_outputs(seen(judged, batched=True), timedelta(0), NOW)
    held = judge_outputs(seen(judged, batched=True, batch_status="warn",
                              batch_reason="Row count is 300, outside the normal range"), timedelta(0), NOW)

    assert not waiting.ready and "not judged as one yet" in waiting.reason
    assert (held.ready, held.status) == (True, "warn") and "Row count" in held.reason
