"""The Power BI refresh adapter against the local Power BI REST emulator, over real sockets."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import requests

from sandbox.powerbi_emulator import PowerBIEmulator
from shared.adapters.http import parse_retry_after
from shared.adapters.powerbi import PowerBIRefresher, request_id_from
from shared.errors import (
    ConfigError,
    Conflict,
    ExternalError,
    NotFound,
    Rejected,
    Throttled,
    Unauthenticated,
    Unavailable,
)
from tests.integration.secrets_in_logs import assert_nowhere, capture_everything

TOKEN = f"pbi-test-token-{uuid.uuid4().hex}"
WS, DS = "f089354e-8366-4e18-aea3-4cb4a3a50b48", "cfafbeb1-8037-4d0c-896e-a46fb27ff229"
ENHANCED = {"type": "full", "commitMode": "transactional", "objects": [{"table": "scores"}],
            "applyRefreshPolicy": False}


@pytest.fixture
def powerbi() -> Iterator[PowerBIEmulator]:
    with PowerBIEmulator(refresh_seconds=0.3) as emulator:
        yield emulator


def refresher(emulator: PowerBIEmulator, **options: object) -> PowerBIRefresher:
    waits: list[float] = []
    options.setdefault("sleep", waits.append)
    return PowerBIRefresher(base_url=emulator.base_url, token_provider=lambda: TOKEN,
                            **options)  # type: ignore[arg-type]


def wait_until_done(client: PowerBIRefresher, request_id: str, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while client.get_refresh(WS, DS, request_id).in_progress:
        assert time.monotonic() < deadline, "the emulated refresh never finished"
        time.sleep(0.05)


def test_a_refresh_request_returns_the_id_from_the_location_header_and_runs_to_completion(
        powerbi: PowerBIEmulator) -> None:
    client = refresher(powerbi)
    request_id = client.start_refresh(WS, DS)
    (post,) = [r for r in powerbi.requests if r.method == "POST"]
    assert post.path == f"/v1.0/myorg/groups/{WS}/datasets/{DS}/refreshes"
    assert post.headers["authorization"] == f"Bearer {TOKEN}" and post.body == b"{}"
    assert powerbi.refreshes(WS, DS)[0]["requestId"] == request_id
    running = client.latest_refresh(WS, DS)
    assert running is not None and running.request_id == request_id and running.in_progress
    assert running.start is not None and running.end is None
    wait_until_done(client, request_id)
    done = client.latest_refresh(WS, DS)
    assert done is not None and done.status == "Completed" and not done.error
    assert done.start is not None and done.end is not None and done.end > done.start


def test_a_dataset_never_refreshed_has_no_latest_refresh(powerbi: PowerBIEmulator) -> None:
    assert refresher(powerbi).latest_refresh(WS, "never-refreshed") is None
    (get,) = powerbi.requests
    assert get.query == {"$top": ["1"]}


def test_the_history_lists_refreshes_newest_first(powerbi: PowerBIEmulator) -> None:
    powerbi.configure(refresh_seconds=0)
    client = refresher(powerbi)
    first, second = client.start_refresh(WS, DS), client.start_refresh(WS, DS)
    latest = client.latest_refresh(WS, DS)
    assert latest is not None and latest.request_id == second
    assert [e["requestId"] for e in powerbi.refreshes(WS, DS)] == [second, first]


def test_enhanced_options_are_posted_as_given_and_read_back_from_the_execution_details(
        powerbi: PowerBIEmulator) -> None:
    client = refresher(powerbi)
    request_id = client.start_refresh(WS, DS, ENHANCED)
    assert powerbi.posted_bodies() == [ENHANCED]
    assert client.get_refresh(WS, DS, request_id).status == "Unknown"
    details = [r for r in powerbi.requests if r.path.endswith(f"/refreshes/{request_id}")]
    assert details and details[0].status == 202
    wait_until_done(client, request_id)
    state = client.get_refresh(WS, DS, request_id)
    assert state.status == "Completed" and state.end is not None
    assert powerbi.requests[-1].status == 200 and powerbi.requests[-1].path.endswith(request_id)


def test_a_standard_refresh_without_execution_details_is_found_in_the_history(
        powerbi: PowerBIEmulator) -> None:
    client = refresher(powerbi)
    request_id = client.start_refresh(WS, DS, {"notifyOption": "NoNotification"})
    state = client.get_refresh(WS, DS, request_id)
    assert state.request_id == request_id and state.in_progress
    assert [r.status for r in powerbi.requests if r.method == "GET"] == [404, 200]


@pytest.mark.parametrize("options", [{}, ENHANCED], ids=["standard", "enhanced"])
def test_a_second_refresh_while_one_runs_is_a_conflict(powerbi: PowerBIEmulator,
                                                        options: dict[str, object]) -> None:
    client = refresher(powerbi)
    client.start_refresh(WS, DS, options)
    with pytest.raises(Conflict) as raised:
        client.start_refresh(WS, DS, options)
    assert raised.value.status == (409 if options else 400)
    assert len(powerbi.refreshes(WS, DS)) == 1
    client.start_refresh(WS, "another-dataset", options)


def test_a_429_is_throttled_with_the_retry_after_seconds_and_the_request_is_not_repeated(
        powerbi: PowerBIEmulator) -> None:
    powerbi.throttle_next(1, retry_after=42)
    with pytest.raises(Throttled) as raised:
        refresher(powerbi).start_refresh(WS, DS)
    assert raised.value.status == 429 and raised.value.retry_after == 42.0
    assert [r.method for r in powerbi.requests] == ["POST"] and powerbi.refreshes() == []


def test_requests_above_the_rate_limit_are_answered_429(powerbi: PowerBIEmulator) -> None:
    powerbi.configure(rate_limit=3, rate_window=60.0, retry_after=12)
    client = refresher(powerbi, read_retries=0)
    for _ in range(3):
        client.latest_refresh(WS, DS)
    with pytest.raises(Throttled) as raised:
        client.latest_refresh(WS, DS)
    assert raised.value.retry_after == 12.0


def test_a_read_waits_out_a_short_429_and_retries(powerbi: PowerBIEmulator) -> None:
    waits: list[float] = []
    powerbi.throttle_next(1, retry_after=2)
    assert refresher(powerbi, sleep=waits.append).latest_refresh(WS, DS) is None
    assert waits == [2.0] and [r.status for r in powerbi.requests] == [429, 200]


def test_the_daily_limit_is_throttled_without_a_retry_time(powerbi: PowerBIEmulator) -> None:
    powerbi.configure(daily_limit=2, refresh_seconds=0)
    client = refresher(powerbi)
    client.start_refresh(WS, DS)
    client.start_refresh(WS, DS)
    with pytest.raises(Throttled) as raised:
        client.start_refresh(WS, DS)
    assert raised.value.retry_after is None and raised.value.status == 400
    assert "daily refresh limit" in str(raised.value)
    assert len(powerbi.refreshes(WS, DS)) == 2


def test_the_emulator_applies_eight_refreshes_a_day_by_default(powerbi: PowerBIEmulator) -> None:
    powerbi.configure(refresh_seconds=0)
    client = refresher(powerbi)
    for _ in range(8):
        client.start_refresh(WS, DS)
    with pytest.raises(Throttled):
        client.start_refresh(WS, DS)


def test_a_failed_standard_refresh_reports_the_service_exception(powerbi: PowerBIEmulator) -> None:
    powerbi.configure(refresh_seconds=0)
    powerbi.fail_next_refreshes(1, "ModelRefreshFailed_CredentialsNotSpecified",
                                "The credentials are invalid.")
    client = refresher(powerbi)
    request_id = client.start_refresh(WS, DS)
    state = client.get_refresh(WS, DS, request_id)
    assert state.status == "Failed" and not state.in_progress
    assert state.error == "ModelRefreshFailed_CredentialsNotSpecified: The credentials are invalid."
    assert client.latest_refresh(WS, DS) == state


def test_a_failed_enhanced_refresh_reports_the_error_messages_of_its_details(
        powerbi: PowerBIEmulator) -> None:
    powerbi.configure(refresh_seconds=0)
    powerbi.fail_next_refreshes(1, "DMTS_DatasourceHasNoCredentialError",
                                "Data source credentials are missing.")
    client = refresher(powerbi)
    state = client.get_refresh(WS, DS, client.start_refresh(WS, DS, ENHANCED))
    assert state.status == "Failed"
    assert state.error == "DMTS_DatasourceHasNoCredentialError: Data source credentials are missing."
    assert client.start_refresh(WS, DS, ENHANCED)          # the next one is accepted and not failed


def test_an_unknown_request_id_is_not_found(powerbi: PowerBIEmulator) -> None:
    with pytest.raises(NotFound):
        refresher(powerbi).get_refresh(WS, DS, str(uuid.uuid4()))


def test_reads_retry_through_a_transient_service_error_but_a_refresh_request_is_never_repeated(
        powerbi: PowerBIEmulator) -> None:
    waits: list[float] = []
    client = refresher(powerbi, sleep=waits.append)
    powerbi.error_next(1, status=503)
    assert client.latest_refresh(WS, DS) is None and waits == [0.5]
    powerbi.error_next(1, status=500)
    with pytest.raises(Unavailable) as raised:
        client.start_refresh(WS, DS)
    assert raised.value.status == 500
    assert [r.method for r in powerbi.requests].count("POST") == 1


def test_a_service_that_keeps_failing_is_unavailable_after_the_read_retries(powerbi: PowerBIEmulator) -> None:
    powerbi.error_next(5, status=502)
    with pytest.raises(Unavailable):
        refresher(powerbi, read_retries=2).latest_refresh(WS, DS)
    assert len(powerbi.requests) == 3


def test_a_closed_port_is_unavailable_quickly() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = PowerBIRefresher(base_url=f"http://127.0.0.1:{port}/v1.0/myorg", token_provider=lambda: TOKEN,
                              read_retries=0)
    started = time.monotonic()
    with pytest.raises(Unavailable):
        client.latest_refresh(WS, DS)
    assert time.monotonic() - started < 5


def test_a_token_the_service_does_not_accept_is_rejected(powerbi: PowerBIEmulator) -> None:
    powerbi.configure(expected_token="the-right-token")
    with pytest.raises(Rejected) as raised:
        refresher(powerbi).start_refresh(WS, DS)
    assert raised.value.status == 403


def test_the_emulator_refuses_a_request_without_a_bearer_token(powerbi: PowerBIEmulator) -> None:
    answer = requests.post(f"{powerbi.base_url}/groups/{WS}/datasets/{DS}/refreshes", json={}, timeout=5)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "PowerBINotAuthorizedException"
    assert powerbi.refreshes() == []


def test_notify_option_beside_enhanced_options_is_refused_before_anything_is_sent(
        powerbi: PowerBIEmulator) -> None:
    with pytest.raises(Rejected, match="notifyOption"):
        refresher(powerbi).start_refresh(WS, DS, {**ENHANCED, "notifyOption": "MailOnFailure"})
    assert powerbi.requests == []


def test_the_emulator_rejects_malformed_refresh_bodies(powerbi: PowerBIEmulator) -> None:
    with pytest.raises(Rejected) as raised:
        refresher(powerbi).start_refresh(WS, DS, {"typo": "full"})
    assert raised.value.status == 400 and "typo" in str(raised.value)


def test_a_token_provider_failure_is_unauthenticated_and_not_retried_at_once() -> None:
    calls: list[int] = []

    def broken() -> str:
        calls.append(1)
        raise RuntimeError("no managed identity endpoint")

    client = PowerBIRefresher(base_url="http://127.0.0.1:9/v1.0/myorg", token_provider=broken, read_retries=3,
                              sleep=lambda s: None)
    with pytest.raises(Unauthenticated, match="no token for Power BI \\(RuntimeError\\)"):
        client.latest_refresh(WS, DS)
    assert calls == [1]


def test_a_plain_http_endpoint_off_this_machine_is_refused() -> None:
    with pytest.raises(ConfigError, match="https"):
        PowerBIRefresher(base_url="http://api.powerbi.example/v1.0/myorg", token_provider=lambda: TOKEN)


def test_the_emulator_is_reconfigured_over_http_from_another_process(powerbi: PowerBIEmulator) -> None:
    root = powerbi.base_url.split("/v1.0")[0]
    assert requests.post(f"{root}/_emulator/config", json={"daily_limit": 1, "refresh_seconds": 0,
                                                           "fail_next_refreshes": 1}, timeout=5).ok
    assert requests.post(f"{root}/_emulator/config", json={"nonsense": 1}, timeout=5).status_code == 400
    client = refresher(powerbi)
    request_id = client.start_refresh(WS, DS)
    assert client.get_refresh(WS, DS, request_id).status == "Failed"
    with pytest.raises(Throttled):
        client.start_refresh(WS, DS)
    listed = requests.get(f"{root}/_emulator/requests", timeout=5).json()
    assert [r["status"] for r in listed if r["method"] == "POST"] == [202, 400]
    assert all(r["has_bearer"] for r in listed)


@pytest.mark.parametrize(("location", "header", "expected"), [
    ("https://api.powerbi.com/v1.0/myorg/groups/g/datasets/d/refreshes/87f31ef7", "other", "87f31ef7"),
    ("", "9399bb89-25d1-44f8-8576-136d7e9014b1", "9399bb89-25d1-44f8-8576-136d7e9014b1"),
    ("https://api.powerbi.com/v1.0/myorg/groups/g/datasets/d/refreshes", "from-header", "from-header"),
])
def test_the_request_id_comes_from_location_else_from_the_request_id_header(
        location: str, header: str, expected: str) -> None:
    assert request_id_from(location, header) == expected


def test_retry_after_is_read_as_seconds_or_as_an_http_date() -> None:
    assert parse_retry_after("30") == 30.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_the_token_never_appears_in_logs_or_errors(powerbi: PowerBIEmulator,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    capture_everything(caplog)
    client = refresher(powerbi, read_retries=1)
    errors: list[BaseException] = []
    request_id = client.start_refresh(WS, DS, ENHANCED)
    client.get_refresh(WS, DS, request_id)
    arrangements: list[Callable[[], None]] = [
        lambda: powerbi.throttle_next(1, 60), lambda: powerbi.error_next(3, 503),
        lambda: powerbi.configure(expected_token="other"), lambda: None]
    for arrange in arrangements:
        arrange()
        try:
            client.start_refresh(WS, DS)
        except ExternalError as exc:
            errors.append(exc)
    assert len(errors) == 4
    assert any(r.name.startswith("urllib3") for r in caplog.records)
    assert_nowhere(TOKEN, caplog, errors)
