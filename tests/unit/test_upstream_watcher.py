"""The upstream watcher's tick, on fakes: batches, completeness, exactly once, policy, staleness."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest

from shared.core.claims import Claim
from shared.core.models import RunStatus
from shared.core.spec import PipelinesConfig
from shared.core.typed import coerce
from shared.errors import Rejected, Throttled, Unavailable
from shared.services.deps import Deps
from shared.services.ledgers import Ledgers
from shared.services.ledgers.batches import BatchRecord
from shared.services.upstream_watcher import run_tick
from tests.fakes import FixedClock, ListAlertSink, MemoryBlobStore, MemoryStateStore, RecordingRunner


def make_config(**upstream_overrides: object) -> PipelinesConfig:
    upstream: dict[str, object] = {"container": "upstream", "prefix": "raw/scores",
                                   "batch": {"marker": "_SUCCESS"}, "staleness": {"cadence": "1d"}}
    upstream.update(upstream_overrides)
    raw = {"datasets": [{"name": "scores", "upstream": upstream, "pipeline": {"name": "score_batch"}}]}
    config, problems = coerce(PipelinesConfig, raw)
    assert not problems, problems
    assert config is not None
    return config


class World:
    def __init__(self, config: PipelinesConfig | None = None) -> None:
        self.clock = FixedClock()
        self.blobs = MemoryBlobStore(self.clock)
        self.state = MemoryStateStore()
        self.runner = RecordingRunner(self.clock)
        self.alerts = ListAlertSink()
        self.deps = Deps(config or make_config(), self.clock, self.blobs, self.state, self.runner, self.alerts)

    def drop_batch(self, day: str, files: int = 2, marker: bool = True) -> None:
        for i in range(files):
            self.blobs.put("upstream", f"raw/scores/{day}/region=r{i}/part-{i}.csv", b"a,b\n1,2\n")
        if marker:
            self.blobs.put("upstream", f"raw/scores/{day}/_SUCCESS", b"")

    def tick(self, past_due: bool = False):  # type: ignore[no-untyped-def]
        return run_tick(self.deps, self.clock.now(), past_due)


@pytest.fixture
def world() -> World:
    return World()


def test_a_complete_batch_starts_exactly_one_run_with_its_files(world: World) -> None:
    world.drop_batch("2026/11/21")
    outcome = world.tick()
    assert [s["batch"] for s in outcome.started] == ["scores:2026/11/21"]
    (run,) = world.runner.runs.values()
    assert run.parameters["batchId"] == "scores:2026/11/21"
    assert run.parameters["prefix"] == "raw/scores/2026/11/21/"
    assert "region=r0/part-0.csv" in run.parameters["files"]
    assert "_SUCCESS" not in run.parameters["files"]


def test_a_second_tick_starts_nothing_for_the_same_batch(world: World) -> None:
    world.drop_batch("2026/11/21")
    world.tick()
    world.clock.advance(hours=1)
    outcome = world.tick()
    assert outcome.started == [] and len(world.runner.runs) == 1


def test_a_batch_without_its_marker_waits(world: World) -> None:
    world.drop_batch("2026/11/21", marker=False)
    outcome = world.tick()
    assert outcome.started == []
    assert "marker _SUCCESS" in outcome.incomplete[0]["waiting_for"]


def test_without_a_marker_the_quiet_period_decides() -> None:
    world = World(make_config(batch={"quiet_period": "30m", "min_files": 2}))
    world.drop_batch("2026/11/21", marker=False)
    assert world.tick().started == []
    world.clock.advance(minutes=31)
    assert len(world.tick().started) == 1


def test_min_files_holds_back_a_thin_batch() -> None:
    world = World(make_config(batch={"marker": "_SUCCESS", "min_files": 3}))
    world.drop_batch("2026/11/21", files=2)
    outcome = world.tick()
    assert outcome.started == [] and "3 files (has 2)" in outcome.incomplete[0]["waiting_for"]


def test_listing_is_partition_aware_and_skips_history(world: World) -> None:
    for day in range(1, 20):
        world.drop_batch(f"2026/10/{day:02d}")
    world.drop_batch("2026/11/21")
    world.tick()
    listed = {prefix for _, prefix in world.blobs.list_calls}
    assert listed == {"raw/scores/2026/11/19/", "raw/scores/2026/11/20/", "raw/scores/2026/11/21/"}


def test_a_past_due_tick_catches_up_on_the_gap(world: World) -> None:
    world.tick()
    world.clock.advance(days=5)
    world.blobs.put("upstream", "raw/scores/2026/11/22/part.csv", b"x", at=world.clock.now() - timedelta(days=4))
    world.blobs.put("upstream", "raw/scores/2026/11/22/_SUCCESS", b"", at=world.clock.now() - timedelta(days=4))
    outcome = world.tick(past_due=True)
    assert [s["batch"] for s in outcome.started] == ["scores:2026/11/22"]


def test_wait_policy_holds_a_second_batch_while_a_run_is_in_progress(world: World) -> None:
    world.drop_batch("2026/11/20")
    world.drop_batch("2026/11/21")
    first = world.tick()
    assert len(first.started) == 1 and first.waiting[0]["batch"] == "scores:2026/11/21"
    world.runner.finish(first.started[0]["run_id"])
    world.clock.advance(hours=1)
    second = world.tick()
    assert [s["batch"] for s in second.started] == ["scores:2026/11/21"]


def test_concurrent_policy_allows_up_to_its_limit() -> None:
    raw = {"datasets": [{"name": "scores",
                         "upstream": {"container": "upstream", "prefix": "raw/scores", "lookback": "5d",
                                      "batch": {"marker": "_SUCCESS"}},
                         "pipeline": {"name": "score_batch",
                                      "concurrency": {"policy": "concurrent", "max_runs": 2}}}]}
    config, problems = coerce(PipelinesConfig, raw)
    assert config is not None and not problems
    world = World(config)
    for day in ("17", "18", "19", "20"):
        world.drop_batch(f"2026/11/{day}")
    outcome = world.tick()
    assert len(outcome.started) == 2 and len(outcome.waiting) == 2


def test_a_claim_left_by_a_crashed_tick_is_reconciled_not_rerun(world: World) -> None:
    world.drop_batch("2026/11/21")
    world.runner.lose_answer_next = 1
    world.runner.fail_next = []
    # The factory created the run but the answer was lost, and our retry found it: one run.
    outcome = world.tick()
    assert len(world.runner.runs) == 1
    assert outcome.started[0]["run_id"] == next(iter(world.runner.runs))


def test_a_fresh_claim_by_another_tick_is_left_alone(world: World) -> None:
    world.drop_batch("2026/11/21")
    other = World(world.deps.config)
    other.state, other.blobs = world.state, world.blobs
    # Another tick claimed the batch a minute ago and is still working on it.
    Ledgers.of(world.deps).batches.insert(BatchRecord.of("scores", "2026/11/21", Claim(
        "claimed", claimed_at=world.clock.now())))
    outcome = world.tick()
    assert outcome.started == [] and outcome.skipped[0]["reason"] == "claimed by another tick"
    world.clock.advance(minutes=11)
    # Past the claim timeout, with no run in the factory, the batch is started.
    assert len(world.tick().started) == 1 and len(world.runner.runs) == 1


def test_a_throttled_start_is_retried_next_tick_without_waiting_for_the_claim_timeout(world: World) -> None:
    world.drop_batch("2026/11/21")
    world.runner.fail_next = [Throttled("429", retry_after=30)]
    first = world.tick()
    assert first.started == [] and first.errors
    world.clock.advance(minutes=1)
    assert len(world.tick().started) == 1 and len(world.runner.runs) == 1


def test_a_rejected_start_raises_a_fail_alert(world: World) -> None:
    world.drop_batch("2026/11/21")
    world.runner.fail_next = [Rejected("pipeline score_batch not found", status=404)]
    world.tick()
    assert world.alerts.codes() == ["run_start_failed"]


def test_unreachable_factory_twice_leaves_the_batch_for_the_next_tick(world: World) -> None:
    world.drop_batch("2026/11/21")
    world.runner.fail_next = [Unavailable("503"), Unavailable("503")]
    assert world.tick().started == []
    world.clock.advance(hours=1)
    assert len(world.tick().started) == 1 and len(world.runner.runs) == 1


def test_files_arriving_after_the_run_started_raise_one_warning(world: World) -> None:
    world.drop_batch("2026/11/21")
    world.tick()
    world.blobs.put("upstream", "raw/scores/2026/11/21/region=r9/late.csv", b"x")
    world.clock.advance(hours=1)
    world.tick()
    world.clock.advance(hours=1)
    world.tick()
    assert world.alerts.codes() == ["upstream_late_files"]


def test_upstream_staleness_alerts_once_per_episode_and_recovers(world: World) -> None:
    world.drop_batch("2026/11/21")
    world.tick()
    for _ in range(48):
        world.clock.advance(hours=1)
        if world.runner.runs:
            for run_id in list(world.runner.runs):
                world.runner.finish(run_id)
        world.tick()
    assert world.alerts.codes() == ["upstream_late"]
    world.drop_batch("2026/11/23")
    world.clock.advance(hours=1)
    world.tick()
    assert world.alerts.codes() == ["upstream_late", "upstream_recovered"]
    late, recovered = world.alerts.alerts
    assert late.fingerprint == recovered.fingerprint and recovered.resolves


def test_finished_runs_leave_the_in_flight_ledger(world: World) -> None:
    world.drop_batch("2026/11/21")
    run_id = world.tick().started[0]["run_id"]
    world.runner.finish(run_id, RunStatus.FAILED)
    world.clock.advance(hours=1)
    world.tick()
    assert Ledgers.of(world.deps).active.query("score_batch") == []
    ledger = Ledgers.of(world.deps).runs.find(run_id)
    assert ledger is not None and ledger.status == "Failed"


# -- exactly once when a tick outlives its claim --------------------------------------------------

class ThrottledOnce(RecordingRunner):
    """The first createRun is answered 429; before the adapter repeats it, ``meanwhile`` runs (another
    tick, after the claim timed out), then the adapter asks ``before_retry`` whether to go on."""

    def __init__(self, world_clock: FixedClock) -> None:
        super().__init__(world_clock)
        self.meanwhile: list[Callable[[], None]] = []

    def start_run(self, pipeline: str, parameters: Mapping[str, Any], *,
                  before_retry: Callable[[], None] | None = None) -> str:
        if self.meanwhile:
            self.meanwhile.pop()()          # the long Retry-After: another tick runs meanwhile
            if before_retry is not None:
                before_retry()              # raises Superseded when the claim is no longer ours
        return super().start_run(pipeline, parameters)


def test_a_tick_in_a_long_retry_that_lost_its_claim_stops_instead_of_starting_a_second_run() -> None:
    world = World()
    runner = ThrottledOnce(world.clock)
    world.deps = Deps(world.deps.config, world.clock, world.blobs, world.state, runner, world.alerts)
    world.drop_batch("2026/11/21")
    other: list[object] = []

    def another_tick() -> None:
        world.clock.advance(seconds=world.deps.claim_timeout.total_seconds() + 1)
        other.append(world.tick())

    runner.meanwhile.append(another_tick)
    first = world.tick()

    assert len(runner.runs) == 1                                     # the other tick's, and only that
    assert [s["batch"] for s in other[0].started] == ["scores:2026/11/21"]  # type: ignore[attr-defined]
    assert first.started == [] and "taken over" in first.skipped[0]["reason"]
    record = Ledgers.of(world.deps).batches.find("scores", "2026/11/21")
    assert record is not None and record.claim.run_id == next(iter(runner.runs))


def test_a_claim_records_its_own_time_not_the_tick_s() -> None:
    world = World()
    world.drop_batch("2026/11/21")
    tick_started = world.clock.now()

    class LateClock(FixedClock):
        def now(self) -> datetime:   # the tick reaches the batch four minutes after it began
            return tick_started + timedelta(minutes=4)

    world.deps = Deps(world.deps.config, LateClock(), world.blobs, world.state, world.runner, world.alerts)
    run_tick(world.deps, tick_started, False)

    record = Ledgers.of(world.deps).batches.find("scores", "2026/11/21")
    assert record is not None and record.claim.claimed_at == tick_started + timedelta(minutes=4)


def test_a_claim_timeout_shorter_than_a_start_can_take_is_a_config_error_naming_the_minimum() -> None:
    from shared.services.upstream_watcher import claim_timeout_problem

    problem = claim_timeout_problem(timedelta(minutes=5), worst_case_start_seconds=220)

    assert problem is not None and problem.startswith("CLAIM_TIMEOUT: 0:05:00 is not longer than the 0:11:00")
    assert problem.endswith("set at least 12m")
    assert claim_timeout_problem(timedelta(minutes=15), worst_case_start_seconds=220) is None
