"""Run durations from Log Analytics: the adapter and the real SDK against the local emulator, over sockets."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import HttpResponseError

from sandbox.log_analytics_emulator import LogAnalyticsEmulator
from shared.adapters import log_analytics
from shared.adapters.log_analytics import LogAnalyticsDurations, kql_string
from shared.errors import ConfigError, Rejected, Throttled, Unavailable

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SINCE, UNTIL = NOW - timedelta(days=30), NOW
PIPELINE = "score_batch"


def at(days_ago: float, minutes: float = 0) -> datetime:
    return NOW - timedelta(days=days_ago) + timedelta(minutes=minutes)


@pytest.fixture
def la() -> Iterator[LogAnalyticsEmulator]:
    with LogAnalyticsEmulator() as emulator:
        yield emulator


class Durations:
    """The adapter under test, with the sleeps it asked for recorded instead of slept."""

    def __init__(self, endpoint: str, workspace: str, **options: object) -> None:
        self.waits: list[float] = []
        options = {"timeout": 5.0, "retries": 2, "max_wait": 10.0, **options}
        self.adapter = LogAnalyticsDurations(workspace, endpoint=endpoint, sleep=self.waits.append,
                                             **options)  # type: ignore[arg-type]

    def __call__(self, pipeline: str = PIPELINE) -> list[tuple[datetime, float]]:
        return self.adapter(pipeline, SINCE, UNTIL)


@pytest.fixture
def durations(la: LogAnalyticsEmulator) -> Iterator[Durations]:
    d = Durations(la.endpoint, la.workspace_id)
    yield d
    d.adapter.close()


def test_durations_of_successful_runs_come_back_oldest_first_in_seconds(
        la: LogAnalyticsEmulator, durations: Durations) -> None:
    la.add_run(PIPELINE, "run-c", "Succeeded", at(1), at(1, 42.5))
    la.add_run(PIPELINE, "run-a", "Succeeded", at(20), at(20, 30))
    la.add_run(PIPELINE, "run-b", "Succeeded", at(10), at(10, 35))
    assert durations() == [(at(20), 1800.0), (at(10), 2100.0), (at(1), 2550.0)]
    (start, _), *_ = durations()
    assert start.tzinfo is not None and start.utcoffset() == timedelta(0)


def test_only_runs_of_the_asked_pipeline_whose_final_status_is_succeeded_count(
        la: LogAnalyticsEmulator, durations: Durations) -> None:
    la.add_run(PIPELINE, "ok", "Succeeded", at(5), at(5, 30))
    la.add_run(PIPELINE, "failed", "Failed", at(4), at(4, 3))
    la.add_run(PIPELINE, "cancelled", "Cancelled", at(3), at(3, 9))
    la.add_run(PIPELINE, "running", "InProgress", at(0.01))
    la.add_run("other_pipeline", "theirs", "Succeeded", at(2), at(2, 90))
    la.add_run(PIPELINE.upper(), "shouting", "Succeeded", at(2), at(2, 90))
    assert durations() == [(at(5), 1800.0)]


def test_a_run_whose_rows_were_delivered_twice_counts_once(la: LogAnalyticsEmulator,
                                                           durations: Durations) -> None:
    la.add_run(PIPELINE, "twice", "Succeeded", at(6), at(6, 20))
    la.add_row(PipelineName=PIPELINE, RunId="twice", Status="Succeeded", Start=at(6), End=at(6, 20),
               TimeGenerated=at(6, 21))
    assert durations() == [(at(6), 1200.0)]


def test_a_run_that_started_before_the_window_is_left_out_even_if_it_ended_inside(
        la: LogAnalyticsEmulator, durations: Durations) -> None:
    minutes = timedelta(minutes=1)
    la.add_run(PIPELINE, "straddles", "Succeeded", SINCE - 10 * minutes, SINCE + 50 * minutes)
    la.add_run(PIPELINE, "inside", "Succeeded", SINCE + minutes, SINCE + 31 * minutes)
    assert durations() == [(SINCE + minutes, 1800.0)]


def test_when_more_runs_match_than_the_cap_the_newest_are_kept(la: LogAnalyticsEmulator, durations: Durations,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(log_analytics, "MAX_RUNS", 2)
    for day in (9, 3, 6):
        la.add_run(PIPELINE, f"run-{day}", "Succeeded", at(day), at(day, day))
    assert durations() == [(at(6), 360.0), (at(3), 180.0)]


def test_a_succeeded_row_without_a_usable_end_is_skipped_not_a_crash(la: LogAnalyticsEmulator,
                                                                      durations: Durations) -> None:
    la.add_run(PIPELINE, "ok", "Succeeded", at(5), at(5, 30))
    la.add_row(PipelineName=PIPELINE, RunId="no-end", Status="Succeeded", Start=at(4), TimeGenerated=at(4))
    la.add_row(PipelineName=PIPELINE, RunId="ends-before", Status="Succeeded", Start=at(3), End=at(3, -5),
               TimeGenerated=at(3))
    assert durations() == [(at(5), 1800.0)]


def test_the_query_goes_to_the_workspace_with_a_bearer_token_and_the_window_as_timespan(
        la: LogAnalyticsEmulator, durations: Durations) -> None:
    assert durations() == []
    (request,) = la.requests
    assert request.path == f"/v1/workspaces/{la.workspace_id}/query"
    assert request.headers["authorization"] == "Bearer sandbox-emulator"
    assert request.body["timespan"] == "2026-10-21T12:00:00.000Z/2026-11-20T12:00:00.000Z"
    assert request.headers["prefer"] == "wait=5"
    assert request.query.startswith("ADFPipelineRun\n| where PipelineName == \"score_batch\"\n")
    assert "| summarize arg_max(TimeGenerated, Status, Start, End) by RunId" in request.query


def test_a_pipeline_name_with_quotes_and_backslashes_is_escaped_in_the_kql_and_still_matches(
        la: LogAnalyticsEmulator, durations: Durations) -> None:
    name = 'o\'brien "daily" \\ scores'
    la.add_run(name, "quoted", "Succeeded", at(2), at(2, 10))
    assert durations(name) == [(at(2), 600.0)]
    assert '| where PipelineName == "o\'brien \\"daily\\" \\\\ scores"\n' in la.queries[0]


def test_a_pipeline_name_crafted_to_widen_the_filter_matches_only_itself(
        la: LogAnalyticsEmulator, durations: Durations) -> None:
    la.add_run(PIPELINE, "victim", "Succeeded", at(2), at(2, 10))
    assert durations('x" or PipelineName != "x') == []
    assert 'PipelineName == "x\\" or PipelineName != \\"x"' in la.queries[0]


def test_a_pipeline_name_with_a_control_character_is_refused_before_any_query(
        la: LogAnalyticsEmulator, durations: Durations) -> None:
    with pytest.raises(Rejected, match="U\\+000D"):
        durations("scores\r")
    assert la.requests == []
    assert kql_string("tab\there\nnewline") == '"tab\\there\\nnewline"'


def test_a_429_is_retried_after_the_wait_the_service_asked_for(la: LogAnalyticsEmulator,
                                                                durations: Durations) -> None:
    la.add_run(PIPELINE, "ok", "Succeeded", at(5), at(5, 30))
    la.throttle_next(1, retry_after=2)
    assert durations() == [(at(5), 1800.0)]
    assert durations.waits == [2.0]
    assert [r.status for r in la.requests] == [429, 200]


def test_throttling_that_outlasts_the_retries_is_throttled_with_retry_after_and_chained(
        la: LogAnalyticsEmulator, durations: Durations) -> None:
    la.throttle_next(10, retry_after=3)
    with pytest.raises(Throttled) as caught:
        durations()
    assert caught.value.retry_after == 3.0 and caught.value.status == 429
    assert isinstance(caught.value.__cause__, HttpResponseError)
    assert durations.waits == [3.0, 3.0] and len(la.requests) == 3


def test_a_retry_after_beyond_the_wait_budget_gives_up_at_once(la: LogAnalyticsEmulator) -> None:
    durations = Durations(la.endpoint, la.workspace_id, max_wait=10.0)
    la.throttle_next(1, retry_after=60)
    with pytest.raises(Throttled) as caught:
        durations()
    assert caught.value.retry_after == 60.0 and durations.waits == [] and len(la.requests) == 1


def test_a_server_error_is_retried_with_backoff_then_unavailable(la: LogAnalyticsEmulator,
                                                                 durations: Durations) -> None:
    la.fail_next(10, status=500)
    with pytest.raises(Unavailable, match="answered 500") as caught:
        durations()
    assert caught.value.status == 500 and isinstance(caught.value.__cause__, HttpResponseError)
    assert durations.waits == [1.0, 2.0] and len(la.requests) == 3


def test_a_passing_server_error_is_retried_to_success(la: LogAnalyticsEmulator, durations: Durations) -> None:
    la.add_run(PIPELINE, "ok", "Succeeded", at(5), at(5, 30))
    la.fail_next(1, status=503, code="ServiceUnavailable")
    assert durations() == [(at(5), 1800.0)]


def test_a_partial_result_is_unavailable_rather_than_half_a_history(la: LogAnalyticsEmulator,
                                                                     durations: Durations) -> None:
    la.add_run(PIPELINE, "ok", "Succeeded", at(5), at(5, 30))
    la.partial_next()
    with pytest.raises(Unavailable, match=r"partial result.*PartialError"):
        durations()
    assert durations() == [(at(5), 1800.0)]


@pytest.mark.parametrize(("status", "code"), [(403, "InsufficientAccessError"), (400, "BadArgumentError")])
def test_a_4xx_is_rejected_without_retrying(la: LogAnalyticsEmulator, durations: Durations, status: int,
                                            code: str) -> None:
    la.fail_next(1, status=status, code=code, message="no")
    with pytest.raises(Rejected, match=f"refused the query \\({status}\\): {code}") as caught:
        durations()
    assert caught.value.status == status and isinstance(caught.value.__cause__, HttpResponseError)
    assert durations.waits == [] and len(la.requests) == 1


def test_a_workspace_the_service_does_not_know_is_rejected(la: LogAnalyticsEmulator) -> None:
    durations = Durations(la.endpoint, "8a6c7f0e-3d5b-4c55-9b1e-1f2a3b4c5d6e")
    with pytest.raises(Rejected, match="WorkspaceNotFoundError") as caught:
        durations()
    assert caught.value.status == 404


def test_a_refused_connection_is_unavailable_after_the_retries() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    durations = Durations(f"http://127.0.0.1:{port}", "8a6c7f0e-3d5b-4c55-9b1e-1f2a3b4c5d6e", retries=1)
    with pytest.raises(Unavailable, match="unreachable"):
        durations()
    assert durations.waits == [1.0]


def test_a_workspace_id_that_is_not_a_guid_or_a_plain_http_remote_endpoint_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        LogAnalyticsDurations("my-workspace", endpoint="http://api.loganalytics.io")
    assert len(caught.value.problems) == 2
    assert "LOG_ANALYTICS_WORKSPACE_ID" in caught.value.problems[0]
    assert "https" in caught.value.problems[1]


def post(url: str, body: object, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json",
                                                                       **headers})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_emulator_refuses_kql_outside_its_subset_with_the_services_error_shape(
        la: LogAnalyticsEmulator) -> None:
    url = f"{la.endpoint}/v1/workspaces/{la.workspace_id}/query"
    bearer = {"Authorization": "Bearer x"}
    status, body = post(url, {"query": "ADFPipelineRun | extend Seconds = End - Start", "timespan": None},
                        bearer)
    assert status == 400
    assert body["error"]["code"] == "BadArgumentError"  # type: ignore[index]
    assert "extend" in body["error"]["innererror"]["message"]  # type: ignore[index]
    status, body = post(url, {"query": "ADFActivityRun | take 1", "timespan": None}, bearer)
    assert status == 400 and "ADFActivityRun" in body["error"]["innererror"]["message"]  # type: ignore[index]
    status, body = post(url, {"query": "ADFPipelineRun | take 1", "timespan": None}, {})
    assert status == 401 and body["error"]["code"] == "AuthorizationRequiredError"  # type: ignore[index]
