"""The pipeline webhook's decisions on fakes: verification, circuit breaker, refresh politeness, auth."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import Any, NamedTuple

import pytest

from functions import http_replies
from shared.core.models import RunStatus
from shared.core.outcomes import Outcome
from shared.core.spec import PipelinesConfig
from shared.core.typed import coerce
from shared.errors import Conflict, Rejected, Throttled, Unauthenticated
from shared.ports import RefreshState
from shared.services import output_guard, pipeline_events, refresh, webhook
from shared.services.deps import Deps
from shared.services.ledgers import Ledgers
from shared.services.ledgers.verdicts import Verdict
from tests.fakes import FixedClock, ListAlertSink, ListQueue, MemoryBlobStore, MemoryStateStore, RecordingRunner


class FakeRefresher:
    def __init__(self) -> None:
        self.requested: list[tuple[str, str]] = []
        self.running = False
        self.fail_next: list[Exception] = []
        self.states: dict[str, RefreshState] = {}

    def latest_refresh(self, workspace: str, dataset: str) -> RefreshState | None:
        return RefreshState("r0", "Unknown") if self.running else None

    def start_refresh(self, workspace: str, dataset: str, options: Mapping[str, Any] | None = None) -> str:
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.requested.append((workspace, dataset))
        request_id = f"req-{len(self.requested)}"
        self.states[request_id] = RefreshState(request_id, "Unknown")
        return request_id

    def get_refresh(self, workspace: str, dataset: str, request_id: str) -> RefreshState:
        return self.states[request_id]


class Http(NamedTuple):
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def http(outcome: Outcome) -> Http:
    """What the caller sees: the outcome through the one HTTP mapping."""
    return Http(*http_replies.describe(outcome))


class DenyAll:
    def verify(self, authorization: str | None) -> str:
        raise Rejected("a bearer token is required", status=401)


class World:
    def __init__(self, refresh_on_warn: bool = False, limit: int = 8, marker: str | None = None) -> None:
        config, problems = coerce(PipelinesConfig, {"datasets": [{
            "name": "scores", "upstream": {"container": "upstream"}, "pipeline": {"name": "score_batch"},
            "output": {"container": "outputs", "prefix": "scores", "batch": {"marker": marker}},
            "powerbi": [{"workspace": "ws", "dataset": "ds", "refresh_on_warn": refresh_on_warn}]}]})
        assert config is not None, problems
        self.clock = FixedClock()
        self.runner = RecordingRunner(self.clock)
        self.refresher = FakeRefresher()
        self.alerts = ListAlertSink()
        self.queue = ListQueue()
        self.outputs = MemoryBlobStore(self.clock)
        self.deps = Deps(config, self.clock, self.outputs, MemoryStateStore(), self.runner, self.alerts,
                         refresher=self.refresher, powerbi_daily_limit=limit, factory_name="adf-prod",
                         verdict_wait=timedelta(0), events_queue=self.queue)

    def run(self, batch: str = "scores:2026/11/21", verdict: str | None = "pass", failed: str = "") -> str:
        """A run whose batch wrote one output file, judged ``verdict`` (None: written, not judged yet)."""
        run_id = self.runner.start_run("score_batch", {"batchId": batch})
        if failed:
            self.runner.activities[run_id] = [{"activity": failed, "status": "Failed", "error": "disk full"}]
        self.part(batch.split(":", 1)[1], "part-0.csv", verdict)
        return run_id

    def part(self, key: str, name: str, verdict: str | None) -> None:
        """An output file of batch ``key`` lands, and the guard judges it ``verdict`` (None: not yet)."""
        blob = f"scores/{key}/{name}"
        self.outputs.put("outputs", blob, b"id\n1\n")
        if verdict is not None:
            verdicts = Ledgers.of(self.deps).verdicts
            current = verdicts.find("scores", key)
            files = {**(current.files if current else {}), blob: verdict}
            status = max(files.values(), key=["pass", "warn", "fail"].index)
            verdicts.upsert(Verdict("scores", key, MappingProxyType(files), status))

    def accept(self, run_id: str) -> Http:
        body = {"factory": "adf-prod", "pipeline": "score_batch", "runId": run_id, "status": "Succeeded"}
        return http(pipeline_events.accept(self.deps, json.dumps(body).encode(), "application/json",
                                           self.clock.now()))

    def post(self, run_id: str, status: str = "Succeeded", **extra: Any) -> Http:
        """POST the event, let the worker decide, and answer as the Location does."""
        body = {"factory": "adf-prod", "pipeline": "score_batch", "runId": run_id, "status": status,
                "batchId": "scores:2026/11/21", **extra}
        accepted = http(pipeline_events.accept(self.deps, json.dumps(body).encode(), "application/json",
                                               self.clock.now()))
        if accepted.status != 202:
            return accepted
        accepted_at = int(self.clock.now().timestamp())
        assert accepted.headers["Location"] == f"/api/pipeline-events/{run_id}?accepted={accepted_at}"
        for message in self.queue.drain():
            pipeline_events.process(self.deps, message, self.clock.now())
        return http(pipeline_events.status_of(self.deps, run_id, str(accepted_at)))


def test_a_good_run_with_passing_outputs_refreshes_once() -> None:
    world = World()
    reply = world.post(world.run())
    assert reply.status == 200 and reply.body["decision"] == "refresh_started"
    assert world.refresher.requested == [("ws", "ds")] and world.alerts.codes() == []


def test_the_body_is_not_trusted_adf_says_an_activity_failed() -> None:
    world = World()
    reply = world.post(world.run(failed="Score"))
    assert reply.body["decision"] == "refresh_held" and world.refresher.requested == []
    assert world.alerts.codes() == ["run_failed", "refresh_held"]
    assert "in activity Score: disk full" in world.alerts.alerts[0].message


def test_failing_outputs_hold_the_refresh_and_say_why() -> None:
    world = World()
    reply = world.post(world.run(verdict="fail"))
    assert reply.body["refreshes"][0]["reason"] == "its outputs failed validation (1 of 1 files failed: part-0.csv)"
    assert world.alerts.codes() == ["refresh_held"] and world.refresher.requested == []


@pytest.mark.parametrize(("refresh_on_warn", "decision"), [(False, "refresh_held"), (True, "refresh_started")])
def test_warned_outputs_refresh_only_when_configured(refresh_on_warn: bool, decision: str) -> None:
    world = World(refresh_on_warn=refresh_on_warn)
    assert world.post(world.run(verdict="warn")).body["decision"] == decision


def test_outputs_not_validated_hold_the_refresh() -> None:
    world = World()
    reply = world.post(world.run(verdict=None))
    assert "its outputs have not been validated" in reply.body["refreshes"][0]["reason"]


def test_a_retried_web_activity_gets_the_stored_answer() -> None:
    world = World()
    run_id = world.run(verdict="fail")
    first = world.post(run_id)
    world.clock.advance(minutes=2)
    again = world.post(run_id)
    assert again.status == 200 and again.body == first.body
    assert world.alerts.codes() == ["refresh_held"] and world.queue.messages == []


def test_a_retry_while_the_first_is_queued_is_the_same_202_and_one_decision() -> None:
    world = World()
    run_id = world.run()
    first, second = world.accept(run_id), world.accept(run_id)
    assert (first.status, second.status) == (202, 202) and first.headers == second.headers
    one, two = world.queue.drain()
    assert pipeline_events.process(world.deps, one, world.clock.now()) == "decided"
    assert pipeline_events.process(world.deps, two, world.clock.now()) == "already decided"
    assert pipeline_events.process(world.deps, one, world.clock.now()) == "already decided"
    assert world.refresher.requested == [("ws", "ds")]


def test_the_location_answers_202_before_the_worker_has_recorded_the_event_then_404_once_stale() -> None:
    world = World()
    run_id = world.run()
    accepted = world.accept(run_id)
    at = accepted.headers["Location"].split("accepted=")[1]
    assert http(pipeline_events.status_of(world.deps, run_id, at)).status == 202
    assert http(pipeline_events.status_of(world.deps, run_id)).status == 404          # no accepted time: unknown
    assert http(pipeline_events.status_of(world.deps, run_id, "not-a-time")).status == 404
    world.clock.advance(hours=2)   # queued two hours ago and never recorded: something is wrong
    assert http(pipeline_events.status_of(world.deps, run_id, at)).status == 404
    (message,) = world.queue.drain()
    assert pipeline_events.process(world.deps, message, world.clock.now()) == "decided"
    assert http(pipeline_events.status_of(world.deps, run_id, at)).status == 200


def test_the_worker_waits_for_the_verdict_then_decides() -> None:
    world = World()
    world.deps = Deps(**{**world.deps.__dict__, "verdict_wait": timedelta(seconds=30)})
    run_id = world.run(verdict=None)
    body = json.dumps({"factory": "adf-prod", "pipeline": "score_batch", "runId": run_id,
                       "status": "Succeeded", "batchId": "scores:2026/11/21"}).encode()
    pipeline_events.accept(world.deps, body, "application/json", world.clock.now())
    (message,) = world.queue.drain()
    assert pipeline_events.process(world.deps, message, world.clock.now()) == "waiting for the output verdict"
    (again, delay) = world.queue.messages[0]
    assert delay == timedelta(seconds=3)
    world.part("2026/11/21", "part-0.csv", "pass")   # the guard judges the batch's file
    world.queue.drain()
    assert pipeline_events.process(world.deps, again, world.clock.now()) == "decided"
    assert world.refresher.requested == [("ws", "ds")]


def test_a_refresh_already_running_is_queued_and_requested_by_the_follow_up() -> None:
    world = World()
    world.refresher.running = True
    assert world.post(world.run()).body["decision"] == "refresh_queued"
    world.refresher.running = False
    world.clock.advance(minutes=3)
    assert refresh.follow_up(world.deps, world.clock.now())["requested"] == 1
    assert world.refresher.requested == [("ws", "ds")]


def test_a_throttled_refresh_waits_for_retry_after() -> None:
    world = World()
    world.refresher.fail_next = [Throttled("429", retry_after=600)]
    world.post(world.run())
    world.clock.advance(minutes=5)
    assert refresh.follow_up(world.deps, world.clock.now())["requested"] == 0
    world.clock.advance(minutes=6)
    assert refresh.follow_up(world.deps, world.clock.now())["requested"] == 1


def test_a_conflict_from_power_bi_is_queued_not_failed() -> None:
    world = World()
    world.refresher.fail_next = [Conflict("already running")]
    assert world.post(world.run()).body["decision"] == "refresh_queued"


def test_the_daily_budget_holds_refreshes_beyond_it() -> None:
    world = World(limit=1)
    world.post(world.run(batch="scores:2026/11/21"))
    second = world.run(batch="scores:2026/11/21")
    reply = world.post(second)
    assert reply.body["refreshes"][0]["state"] == "held"
    assert world.alerts.codes() == ["refresh_budget_exhausted"]


def test_a_failed_refresh_is_alerted_by_the_follow_up() -> None:
    world = World()
    world.post(world.run())
    world.refresher.states["req-1"] = RefreshState("req-1", "Failed", error="credentials expired")
    counts = refresh.follow_up(world.deps, world.clock.now())
    assert counts["failed"] == 1 and world.alerts.codes() == ["refresh_failed"]
    assert "credentials expired" in world.alerts.alerts[0].message
    assert refresh.follow_up(world.deps, world.clock.now())["failed"] == 0   # alerted once


def test_a_slow_run_is_flagged_against_its_history() -> None:
    world = World()
    for day in range(10):
        run_id = world.runner.start_run("score_batch", {"batchId": f"scores:2026/10/{day + 1:02d}"})
        world.clock.advance(minutes=10)
        world.runner.finish(run_id, RunStatus.SUCCEEDED)
        world.clock.advance(hours=23, minutes=50)
    run_id = world.run()
    world.clock.advance(hours=2)
    world.post(run_id)
    assert "run_slow" in world.alerts.codes()


def test_the_edge_maps_a_bad_token_to_401_and_config_errors_to_503() -> None:
    world = World()
    denied = Deps(**{**world.deps.__dict__, "token_verifier": DenyAll()})
    reply = http(webhook.handle_request(lambda: denied, None, b"{}", "application/json"))
    assert reply.status == 401 and "WWW-Authenticate" in reply.headers

    def broken() -> Deps:
        from shared.errors import ConfigError
        raise ConfigError(["AzureWebJobsStorage: not set"])

    reply = http(webhook.handle_request(broken, None, b"{}", "application/json"))
    assert reply.status == 503 and "AzureWebJobsStorage" not in json.dumps(reply.body)


def test_an_event_the_host_gave_up_on_raises_pipeline_event_poison_naming_the_run() -> None:
    world = World()
    run_id = world.run()
    world.accept(run_id)
    (message,) = world.queue.drain()
    alert = pipeline_events.report_poison(world.deps, message, world.clock.now())
    assert (alert.dataset, alert.code, alert.severity.value) == ("scores", "pipeline_event_poison", "fail")
    assert run_id in alert.message and world.alerts.codes() == ["pipeline_event_poison"]


@pytest.mark.parametrize("message", ["", "not json", "[1, 2]", '{"runId": 5, "event": "{broken"}'])
def test_an_unreadable_poison_message_still_raises_the_alert(message: str) -> None:
    world = World()
    alert = pipeline_events.report_poison(world.deps, message, world.clock.now())
    assert alert.code == "pipeline_event_poison" and alert.dataset == "unknown"


def test_an_event_whose_worker_died_mid_decision_is_looked_at_again_and_decided() -> None:
    world = World()
    run_id = world.run()
    world.accept(run_id)
    (message,) = world.queue.drain()
    # A worker recorded and claimed the event, then died; the host redelivers the message.
    assert pipeline_events._record_claimed(world.deps, json.loads(message), world.clock.now()) is not None
    world.clock.advance(minutes=1)
    assert pipeline_events.process(world.deps, message, world.clock.now()).startswith("being decided")
    ((again, delay),) = world.queue.messages
    assert delay == timedelta(minutes=4) and world.refresher.requested == []
    world.queue.drain()
    world.clock.advance(minutes=4)
    assert pipeline_events.process(world.deps, again, world.clock.now()) == "decided"
    assert world.refresher.requested == [("ws", "ds")]


# -- a batch of many files: the breaker decides on the whole batch ----------------------------------

def test_an_unjudged_part_keeps_the_decision_waiting_then_holds_saying_how_many_were_judged() -> None:
    world = World()
    world.deps = Deps(**{**world.deps.__dict__, "verdict_wait": timedelta(seconds=30)})
    run_id = world.run()                                     # part-0 judged pass
    world.part("2026/11/21", "part-1.csv", "pass")
    world.part("2026/11/21", "part-2.csv", None)             # landed, not judged yet
    world.accept(run_id)
    (message,) = world.queue.drain()
    assert pipeline_events.process(world.deps, message, world.clock.now()) == "waiting for the output verdict"

    world.clock.advance(seconds=31)                          # VERDICT_WAIT is over: hold, and say why
    (again, _) = world.queue.messages[0]
    world.queue.drain()
    assert pipeline_events.process(world.deps, again, world.clock.now()) == "decided"
    reply = http(pipeline_events.status_of(world.deps, run_id))
    assert reply.body["decision"] == "refresh_held" and world.refresher.requested == []
    assert reply.body["refreshes"][0]["reason"] == ("its outputs have not been validated "
                                                    "(outputs not fully validated: 2 of 3 judged)")


def test_one_failing_part_of_many_holds_the_refresh_and_names_it() -> None:
    world = World()
    run_id = world.run()
    for i in range(1, 5):
        world.part("2026/11/21", f"part-{i}.csv", "fail" if i == 3 else "pass")

    reply = world.post(run_id)

    assert reply.body["decision"] == "refresh_held" and world.refresher.requested == []
    assert reply.body["refreshes"][0]["reason"] == "its outputs failed validation (1 of 5 files failed: part-3.csv)"
    assert "part-3.csv" in world.alerts.alerts[-1].message


def test_a_batch_whose_marker_never_arrives_is_held_past_the_verdict_wait() -> None:
    world = World(marker="_SUCCESS")

    reply = world.post(world.run())

    assert reply.body["decision"] == "refresh_held"
    assert "the batch's _SUCCESS marker has not arrived (1 of 1 judged)" in reply.body["refreshes"][0]["reason"]


def test_with_its_marker_and_every_part_judged_the_batch_refreshes() -> None:
    world = World(marker="_SUCCESS")
    run_id = world.run()
    world.outputs.put("outputs", "scores/2026/11/21/_SUCCESS", b"")

    assert world.post(run_id).body["decision"] == "refresh_started"


def test_a_poisoned_part_fails_its_batch() -> None:
    world = World()
    run_id = world.run()
    world.part("2026/11/21", "part-1.csv", None)
    poison = json.dumps({"Type": "BlobTrigger", "FunctionId": "Host.Functions.output_guard",
                         "ContainerName": "outputs", "BlobName": "scores/2026/11/21/part-1.csv"})

    output_guard.report_poison(world.deps, poison, world.clock.now())
    reply = world.post(run_id)

    assert reply.body["decision"] == "refresh_held"
    assert reply.body["refreshes"][0]["reason"] == "its outputs failed validation (1 of 2 files failed: part-1.csv)"


def test_a_refresh_without_a_token_is_retried_a_few_times_then_given_up_with_one_refresh_failed() -> None:
    world = World()
    world.refresher.fail_next = [Unauthenticated("no token for Power BI (CredentialUnavailableError)")] * 5

    assert world.post(world.run()).body["decision"] == "refresh_queued"
    codes_after: list[list[str]] = []
    for _ in range(5):
        world.clock.advance(minutes=20)
        refresh.follow_up(world.deps, world.clock.now())
        codes_after.append(world.alerts.codes())

    assert codes_after[0] == [] and codes_after[1] == ["refresh_failed"]
    assert codes_after[-1] == ["refresh_failed"]          # given up: no retry every few minutes forever
    assert len(world.refresher.fail_next) == 2            # three requests, then none
    assert "could not get a token for Power BI 3 times" in world.alerts.alerts[0].message
