"""The pipeline webhook on the local host, over HTTP, with the emulators behind it."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.stack import Stack

GOOD_FIELDS = {"factory", "pipeline", "runId", "status", "batchId", "error"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack(tmp_path_factory.mktemp("stack"), verdict_wait="2s") as running:
        yield running


def post(stack: Stack, body: bytes, content_type: str = "application/json", key: str | None = "default",
         headers: dict[str, str] | None = None) -> requests.Response:
    all_headers = {"content-type": content_type, **(headers or {})}
    if key == "default":
        all_headers["x-functions-key"] = stack.host.default_key
    elif key is not None:
        all_headers["x-functions-key"] = key
    return requests.post(f"{stack.host.url}/pipeline-events", data=body, headers=all_headers, timeout=30)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12)
payload_dicts = st.dictionaries(
    st.sampled_from(sorted(GOOD_FIELDS)) | st.text(max_size=12),
    json_values | st.text(alphabet=st.characters(codec="utf-8"), max_size=300) | st.text(min_size=5000,
                                                                                        max_size=20000),
    max_size=8)
bodies = (payload_dicts.map(lambda d: json.dumps(d).encode())
          | st.binary(max_size=2000)
          | json_values.map(lambda v: json.dumps(v).encode())
          | st.text(max_size=500).map(str.encode))
content_types = st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", "",
                                 "application/xml", "multipart/form-data"])


@settings(max_examples=520, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(body=bodies, content_type=content_types)
def test_generated_payloads_never_get_a_5xx_and_every_4xx_says_why(stack: Stack, body: bytes,
                                                                   content_type: str) -> None:
    response = post(stack, body, content_type)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        answer = response.json()
        assert answer["error"] and isinstance(answer["details"], list)


def test_a_missing_or_wrong_function_key_is_401(stack: Stack) -> None:
    body = json.dumps({"factory": "x", "pipeline": "p", "runId": "r", "status": "Succeeded"}).encode()
    assert post(stack, body, key=None).status_code == 401
    assert post(stack, body, key="forged-key").status_code == 401


def test_an_unknown_run_is_verified_with_adf_and_reported_as_failed(stack: Stack) -> None:
    body = {"factory": stack.adf.factory_name, "pipeline": "score_batch", "runId": str(uuid.uuid4()),
            "status": "Succeeded", "batchId": "scores:2026/01/01"}
    accepted = post(stack, json.dumps(body).encode())
    assert accepted.status_code == 202
    answer = _poll(stack, f"{stack.host.url}{accepted.headers['Location'].removeprefix('/api')}")
    assert answer["run"]["succeeded"] is False and "run_failed" in answer["alerts"]  # type: ignore[index]


def test_an_event_for_another_factory_is_a_400(stack: Stack) -> None:
    body = {"factory": "someone-elses-adf", "pipeline": "score_batch", "runId": str(uuid.uuid4()),
            "status": "Succeeded"}
    response = post(stack, json.dumps(body).encode())
    assert response.status_code == 400 and "this app watches factory" in response.json()["details"][0]


def test_a_retried_web_activity_gets_one_refresh_and_one_alert_set(stack: Stack) -> None:
    # A run that really happened and succeeded, whose outputs pass.
    day = "2026/10/05"
    run_id = _start_run(stack, f"scores:{day}")
    body = json.dumps({"factory": stack.adf.factory_name, "pipeline": "score_batch", "runId": run_id,
                       "status": "Succeeded", "batchId": f"scores:{day}"}).encode()
    before = len(stack.powerbi.refreshes())
    first, again = post(stack, body), post(stack, body)       # the Web activity retried at once
    assert (first.status_code, again.status_code) == (202, 202)
    location = f"{stack.host.url}{first.headers['Location'].removeprefix('/api')}"
    decision = _poll(stack, location)
    assert decision["decision"] == "refresh_started", json.dumps(decision)
    late = post(stack, body)                                  # …and once more after the decision
    assert late.status_code == 202
    assert _poll(stack, f"{stack.host.url}{late.headers['Location'].removeprefix('/api')}") == decision
    assert _poll(stack, f"{stack.host.url}{again.headers['Location'].removeprefix('/api')}") == decision
    assert len(stack.powerbi.refreshes()) == before + 1


def test_a_failing_databricks_notebook_reaches_teams_with_its_run_page(stack: Stack) -> None:
    from sandbox.pipelines.train_and_publish import run_page_url

    assert stack.deps.runner is not None
    run_id = stack.deps.runner.start_run("train_and_publish", {"batchId": "publish:2026/10/06",
                                                               "notebookFails": "true"})
    stack.adf.wait_finished(run_id, timeout=30)       # its Web activity posted the failure to the webhook
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        cards = [c for c in stack.teams.cards if run_id in json.dumps(c)]
        if cards:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("no Teams card for the failed run within 30 s")
    actions = {a["title"]: a["url"] for a in cards[0].get("actions", [])}
    assert actions["TrainModel: Databricks run"] == run_page_url(run_id)
    assert "feature f2 has 40% nulls" in json.dumps(cards[0])


def _poll(stack: Stack, location: str) -> dict[str, object]:
    """What the Web activity does with a 202: GET the Location until it is no longer 202."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answer = requests.get(location, headers={"x-functions-key": stack.host.default_key}, timeout=10)
        if answer.status_code != 202:
            assert answer.status_code == 200
            return dict(answer.json())
        time.sleep(0.2)
    raise AssertionError("no decision within 30 s")


def _start_run(stack: Stack, batch_id: str) -> str:
    stack.adf.configure(webhook_url="")          # this test calls the webhook itself
    try:
        assert stack.deps.runner is not None
        name = f"raw/e2e/{uuid.uuid4().hex}/part-0.csv"
        import random

        from sandbox.demo import upstream_csv
        # A real, healthy batch: the output guard judges the pipeline's output and it passes.
        stack.blobs.write_bytes("upstream", name, upstream_csv(60, random.Random(3)))
        run_id = stack.deps.runner.start_run("score_batch", {"batchId": batch_id, "dataset": "scores",
                                                             "prefix": "raw/e2e/", "files": json.dumps([name])})
        stack.adf.wait_finished(run_id, timeout=30)
        return run_id
    finally:
        stack.adf.configure(webhook_url=f"{stack.host.url}/pipeline-events", webhook_key=stack.host.default_key)


def test_no_secret_reaches_the_logs_of_a_full_story(tmp_path_factory: pytest.TempPathFactory) -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        from sandbox import demo

        with Stack(tmp_path_factory.mktemp("secrets")) as stack:
            secrets = [stack.host.default_key, stack.teams.signature, stack.teams.flow_id,
                       stack.azurite.connection_string.split("AccountKey=")[1].split(";")[0]]
            demo.seed_history(stack.deps, demo.Timeline())
            today = datetime.now(UTC)
            prefix = f"raw/scores/{today:%Y/%m/%d}"
            import random
            stack.blobs.write_bytes("upstream", f"{prefix}/part-0.csv", demo.upstream_csv(200, random.Random(1)))
            stack.blobs.write_bytes("upstream", f"{prefix}/_SUCCESS", b"")
            stack.teams.set_down(True)
            stack.host.fire_timer("upstream_watcher")
            (run,) = stack.adf.runs()
            stack.adf.wait_finished(run["runId"], timeout=60)
            stack.smtp.wait_for(1, timeout=30)
            stack.teams.set_down(False)
            time.sleep(2)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    assert len(records) > 50
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in records)
    leaked = [s[:6] + "…" for s in secrets if s and s in text]
    assert leaked == []
