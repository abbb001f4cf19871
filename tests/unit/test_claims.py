"""The claim protocol's decisions, pure: a claim as read goes in, one step comes out (no storage)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.core import claims
from shared.core.claims import Claim, ClaimStatus
from shared.core.models import Batch, BlobInfo

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
TIMEOUT = timedelta(minutes=10)


def batch(*names: str) -> Batch:
    files = tuple(BlobInfo(f"raw/scores/2026/11/21/{n}", 10, NOW - timedelta(hours=1)) for n in names or ("a.csv",))
    return Batch("scores", "2026/11/21", "raw/scores/2026/11/21/", files)


def decide(seen: Claim | None, slots: int = 1, now: datetime = NOW) -> claims.Step:
    return claims.decide(seen, batch(), now, TIMEOUT, slots, "token-1", "wait")


def test_a_batch_never_claimed_is_claimed_with_its_files_then_started() -> None:
    step = decide(None)
    assert isinstance(step, claims.Start) and not step.take_over
    assert step.claim == Claim(ClaimStatus.CLAIMED, "token-1", NOW, NOW, 1, "scores:2026/11/21",
                               ("raw/scores/2026/11/21/a.csv",))


def test_a_batch_never_claimed_waits_while_the_policy_has_no_free_slot() -> None:
    assert decide(None, slots=0) == claims.Wait("wait: a run is in progress")


def test_a_fresh_claim_by_another_tick_is_skipped() -> None:
    seen = Claim(ClaimStatus.CLAIMED, claimed_at=NOW - timedelta(minutes=9))
    assert decide(seen) == claims.Skip("claimed by another tick")


def test_a_claim_past_its_timeout_is_reconciled_from_the_first_claim() -> None:
    first = NOW - timedelta(hours=2)
    seen = Claim(ClaimStatus.CLAIMED, claimed_at=NOW - timedelta(minutes=11), first_claimed_at=first)
    assert decide(seen) == claims.Reconcile(first)


def test_a_failed_start_is_reconciled_at_once_without_waiting_for_the_timeout() -> None:
    seen = Claim(ClaimStatus.CLAIMED, claimed_at=NOW).start_failed("503")
    assert decide(seen) == claims.Reconcile(NOW)


def test_a_run_found_by_reconciling_is_recorded_not_started_again() -> None:
    seen = Claim(ClaimStatus.START_FAILED, claimed_at=NOW, error="503")
    step = claims.after_reconcile(seen, batch(), "run-7", NOW, 0, "token-2", "wait")
    assert step == claims.RecordStarted(Claim(ClaimStatus.STARTED, claimed_at=NOW, error="503", run_id="run-7",
                                              started_at=NOW), reconciled=True)


def test_no_run_found_takes_the_claim_over_as_the_next_attempt_keeping_the_first_claim_time() -> None:
    first = NOW - timedelta(hours=2)
    seen = Claim(ClaimStatus.CLAIMED, "token-0", first, first, 1)
    step = claims.after_reconcile(seen, batch(), None, NOW, 1, "token-2", "wait")
    assert isinstance(step, claims.Start) and step.take_over
    assert (step.claim.token, step.claim.attempt, step.claim.claimed_at, step.claim.first_claimed_at) == (
        "token-2", 2, NOW, first)


def test_no_run_found_and_no_free_slot_waits() -> None:
    seen = Claim(ClaimStatus.START_FAILED, claimed_at=NOW)
    assert claims.after_reconcile(seen, batch(), None, NOW, 0, "t", "wait") == claims.Wait(
        "wait: a run is in progress")


def test_a_started_batch_with_no_new_files_needs_nothing() -> None:
    seen = Claim(ClaimStatus.STARTED, files=("raw/scores/2026/11/21/a.csv",), run_id="run-1")
    assert decide(seen) == claims.Nothing()


def test_files_landing_after_the_start_raise_one_warning_and_mark_the_claim() -> None:
    seen = Claim(ClaimStatus.STARTED, files=("raw/scores/2026/11/21/a.csv",), run_id="run-1")
    step = claims.decide(seen, batch("a.csv", "late.csv"), NOW, TIMEOUT, 1, "t", "wait")
    assert isinstance(step, claims.AlertLateFiles) and step.claim.late_alerted
    assert step.alert.code == "upstream_late_files"
    assert step.alert.facts["run_id"] == "run-1" and step.alert.facts["late_files"] == "1"
    assert claims.decide(step.claim, batch("a.csv", "late.csv"), NOW, TIMEOUT, 1, "t", "wait") == claims.Nothing()


def test_an_unknown_status_is_reconciled_rather_than_trusted() -> None:
    assert decide(Claim("mystery", claimed_at=NOW)) == claims.Reconcile(NOW)


def test_a_refused_start_alerts_as_a_failure_naming_the_pipeline() -> None:
    alert = claims.start_refused_alert(batch(), "score_batch", "pipeline not found", NOW)
    assert alert.code == "run_start_failed" and alert.severity.value == "fail"
    assert alert.facts == {"pipeline": "score_batch", "batch": "scores:2026/11/21"}
