"""A dataset chooses its engine (ADF, Synapse, Fabric): config, wiring, webhook and watcher on fakes."""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared import bootstrap, config
from shared import settings as settings_reader
from shared.core.models import Link, PipelineRun
from shared.core.spec import PipelinesConfig
from shared.core.typed import coerce
from shared.errors import ConfigError, Unavailable
from shared.services import pipeline_events, upstream_watcher
from shared.services.deps import Deps
from shared.services.ledgers import Ledgers
from tests.fakes import FixedClock, ListAlertSink, ListQueue, MemoryBlobStore, MemoryStateStore, RecordingRunner

ADF_ENV = {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "ADF_SUBSCRIPTION_ID": "sub",
           "ADF_RESOURCE_GROUP": "rg", "ADF_FACTORY_NAME": "adf-prod"}
FABRIC_WS = "6e335e92-a2a2-4b5a-970a-bd6a89fbb765"


def write_config(tmp_path: Path, *datasets: dict[str, Any]) -> str:
    path = tmp_path / "pipelines.yaml"
    path.write_text(json.dumps({"version": 1, "datasets": list(datasets)}))   # JSON is YAML
    return str(path)


def dataset(name: str, engine: str | None = None, **pipeline: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": name, **({"engine": engine} if engine else {}), **pipeline}
    return {"name": name, "upstream": {"container": "upstream", "prefix": name}, "pipeline": spec}


def test_a_dataset_on_an_engine_without_settings_is_a_config_error_naming_dataset_and_settings(
        tmp_path: Path) -> None:
    path = write_config(tmp_path, dataset("scores"), dataset("sales", "synapse"),
                        dataset("churn", "fabric", item="1f0c"))
    with pytest.raises(ConfigError) as info:
        config.load_all({**ADF_ENV, "PIPELINES_CONFIG": path})
    text = "\n".join(info.value.problems)
    assert "SYNAPSE_WORKSPACE (or SYNAPSE_ENDPOINT): not set" in text and "dataset(s) sales on synapse" in text
    assert "FABRIC_WORKSPACE_ID: not set" in text and "dataset(s) churn on fabric" in text
    assert "scores" not in text                   # ADF is configured: its dataset is fine


def test_engine_settings_make_the_same_config_valid(tmp_path: Path) -> None:
    path = write_config(tmp_path, dataset("sales", "synapse"), dataset("churn", "fabric", item="1f0c"))
    settings, pipelines = config.load_all({"AzureWebJobsStorage": "UseDevelopmentStorage=true",
                                           "PIPELINES_CONFIG": path, "SYNAPSE_WORKSPACE": "synws",
                                           "FABRIC_WORKSPACE_ID": FABRIC_WS})
    assert settings.synapse is not None and settings.synapse.endpoint == "https://synws.dev.azuresynapse.net"
    assert settings.fabric is not None and settings.fabric.api_url == "https://api.fabric.microsoft.com/v1"
    assert [ds.engine for ds in pipelines.datasets] == ["synapse", "fabric"]


def test_a_fabric_pipeline_needs_its_item_and_other_engines_refuse_one(tmp_path: Path) -> None:
    path = write_config(tmp_path, dataset("churn", "fabric"), dataset("scores", item="1f0c"))
    with pytest.raises(ConfigError) as info:
        config.load_pipelines(path)
    problems = info.value.problems
    assert any("datasets[0].pipeline.item: a Fabric pipeline needs its item id" in p for p in problems)
    assert any("datasets[1].pipeline.item: item is the Fabric item id; engine 'adf'" in p for p in problems)
    assert all(p.startswith(f"{path}:") for p in problems)     # file and line


def test_an_unknown_engine_is_named_with_its_line(tmp_path: Path) -> None:
    path = write_config(tmp_path, dataset("scores", "databricks"))
    with pytest.raises(ConfigError) as info:
        config.load_pipelines(path)
    assert any("datasets[0].pipeline.engine" in p and "databricks" in p for p in info.value.problems)


def test_a_bad_fabric_workspace_id_is_named() -> None:
    with pytest.raises(ConfigError) as info:
        settings_reader.load_settings({**ADF_ENV, "FABRIC_WORKSPACE_ID": "my-workspace"})
    assert any(p.startswith("FABRIC_WORKSPACE_ID: 'my-workspace' is not a workspace id") for p in info.value.problems)


def test_bootstrap_builds_each_configured_runner_and_checks_the_claim_timeout_against_each(tmp_path: Path) -> None:
    path = write_config(tmp_path, dataset("scores"), dataset("sales", "synapse"),
                        dataset("churn", "fabric", item="1f0c"))
    env = {**ADF_ENV, "PIPELINES_CONFIG": path, "SYNAPSE_WORKSPACE": "synws", "FABRIC_WORKSPACE_ID": FABRIC_WS}
    settings, pipelines = config.load_all(env)
    runners = bootstrap.build_runners(settings, pipelines)
    assert sorted(runners) == ["adf", "fabric", "synapse"]
    assert type(runners["fabric"]).__name__ == "FabricRunner" and type(runners["synapse"]).__name__ == "SynapseRunner"
    with pytest.raises(ConfigError) as info:
        bootstrap.check_claim_timeout(timedelta(minutes=1), runners["fabric"])
    assert info.value.problems[0].startswith("CLAIM_TIMEOUT: 0:01:00 is not longer than")


# --- the webhook ------------------------------------------------------------------------------------

def webhook_world(engine: str) -> tuple[Deps, dict[str, RecordingRunner]]:
    pipeline: dict[str, Any] = {"name": "score_batch", "engine": engine}
    if engine == "fabric":
        pipeline["item"] = "1f0c"
    cfg, problems = coerce(PipelinesConfig, {"datasets": [{
        "name": "scores", "upstream": {"container": "upstream"}, "pipeline": pipeline}]})
    assert cfg is not None, problems
    clock = FixedClock()
    runners = {name: RecordingRunner(clock) for name in ("adf", "synapse", "fabric")}
    deps = Deps(cfg, clock, MemoryBlobStore(clock), MemoryStateStore(), runners["adf"], ListAlertSink(),
                factory_name="adf-prod", verdict_wait=timedelta(0), events_queue=ListQueue(), runners=runners,
                engine_names={"adf": "adf-prod", "synapse": "synws", "fabric": FABRIC_WS},
                engine_links={"synapse": lambda run_id: (Link("Open the run in Synapse Studio", f"https://syn/{run_id}"),),
                              "fabric": lambda run_id: (Link("Open the Fabric monitoring hub", f"https://fab/{run_id}"),)})
    return deps, runners


def post(deps: Deps, body: dict[str, Any]) -> dict[str, Any]:
    queue = deps.events_queue
    assert isinstance(queue, ListQueue)
    accepted = pipeline_events.accept(deps, json.dumps(body).encode(), "application/json", deps.clock.now())
    if not hasattr(accepted, "run_id"):
        return {"invalid": accepted}
    for message in queue.drain():
        pipeline_events.process(deps, message, deps.clock.now())
    record = Ledgers.of(deps).events.find(body["runId"])
    assert record is not None
    return dict(json.loads(record.reply))


@pytest.mark.parametrize(("engine", "factory"), [("synapse", "synws"), ("fabric", FABRIC_WS)])
def test_an_event_from_a_workspace_is_verified_with_that_engine_and_links_to_its_monitor(
        engine: str, factory: str) -> None:
    deps, runners = webhook_world(engine)
    run_id = runners[engine].start_run("score_batch", {"batchId": "scores:2026/11/21"})
    runners[engine].activities[run_id] = [{"activity": "Score", "status": "Failed", "error": "disk full"}]
    post(deps, {"factory": factory, "pipeline": "score_batch", "runId": run_id, "status": "Succeeded",
                "batchId": "scores:2026/11/21"})
    alerts = deps.alerts.alerts  # type: ignore[attr-defined]
    failed = [a for a in alerts if a.code == "run_failed"]
    assert failed and "disk full" in failed[0].message            # the engine's activity runs were read
    assert failed[0].links[0].url.startswith("https://syn/" if engine == "synapse" else "https://fab/")
    assert runners["adf"].runs == {}


def test_the_body_may_name_the_engine_and_a_wrong_one_is_a_400_naming_the_field() -> None:
    deps, runners = webhook_world("adf")
    run_id = runners["synapse"].start_run("score_batch", {"batchId": "scores:2026/11/21"})
    reply = post(deps, {"factory": "synws", "engine": "synapse", "pipeline": "score_batch", "runId": run_id,
                        "status": "Succeeded", "batchId": "scores:2026/11/21"})
    assert reply["run"]["succeeded"] is True and runners["adf"].runs == {}   # Synapse verified it, not ADF
    bad = post(deps, {"factory": "synws", "engine": "spark", "pipeline": "score_batch", "runId": run_id,
                      "status": "Succeeded"})
    assert any(d.startswith("engine: must be one of adf, synapse, fabric") for d in bad["invalid"].problem.details)


def test_an_event_from_a_factory_or_workspace_the_app_does_not_run_is_refused() -> None:
    deps, runners = webhook_world("synapse")
    run_id = runners["synapse"].start_run("score_batch", {"batchId": "scores:2026/11/21"})
    reply = post(deps, {"factory": "someone-elses-ws", "pipeline": "score_batch", "runId": run_id,
                        "status": "Succeeded"})
    assert "this app watches factory 'adf-prod' or 'synws'" in reply["invalid"].problem.details[0]


# --- the watcher on Fabric: one unresolved start per pipeline -------------------------------------------

class FabricLikeRunner(RecordingRunner):
    """Runs report no parameters; a lost start is found by time, as FabricRunner.find_started_run does."""

    def find_started_run(self, pipeline: str, *, claimed_at: datetime,
                         known_run_ids: Collection[str] = ()) -> PipelineRun | None:
        found = [r for r in self.runs.values() if r.pipeline == pipeline and r.run_id not in known_run_ids
                 and r.run_start is not None and claimed_at - timedelta(minutes=5) <= r.run_start]
        return min(found, key=lambda r: (r.run_start, r.run_id), default=None)


def test_a_fabric_dataset_starts_on_fabric_and_reconciles_a_lost_answer_by_time_one_start_at_a_time() -> None:
    cfg, problems = coerce(PipelinesConfig, {"datasets": [{
        "name": "churn", "upstream": {"container": "upstream", "prefix": "churn", "batch": {"marker": "_SUCCESS"}},
        "pipeline": {"name": "churn_pipe", "engine": "fabric", "item": "1f0c",
                     "concurrency": {"policy": "concurrent", "max_runs": 5}}}]})
    assert cfg is not None, problems
    clock = FixedClock()
    blobs = MemoryBlobStore(clock)
    for day in ("2026/11/20", "2026/11/21"):
        blobs.put("upstream", f"churn/{day}/part-0.csv")
        blobs.put("upstream", f"churn/{day}/_SUCCESS")
    adf, fabric = RecordingRunner(clock), FabricLikeRunner(clock)
    fabric.lose_answer_next = 1                    # the first start creates its run, then answers 500
    deps = Deps(cfg, clock, blobs, MemoryStateStore(), adf, ListAlertSink(), claim_timeout=timedelta(minutes=15),
                runners={"adf": adf, "fabric": fabric})
    upstream_watcher.run_tick(deps, clock.now())
    assert adf.runs == {} and len(fabric.runs) == 2          # the lost answer was found by time, not rerun
    batches = {r.claim.batch_id: r.claim.run_id for r in Ledgers.of(deps).batches.query("churn")}
    assert sorted(batches.values()) == sorted(fabric.runs)    # each batch recorded its own run


def test_a_second_fabric_batch_waits_while_the_first_start_is_unresolved() -> None:
    cfg, problems = coerce(PipelinesConfig, {"datasets": [{
        "name": "churn", "upstream": {"container": "upstream", "prefix": "churn", "batch": {"marker": "_SUCCESS"}},
        "pipeline": {"name": "churn_pipe", "engine": "fabric", "item": "1f0c",
                     "concurrency": {"policy": "concurrent", "max_runs": 5}}}]})
    assert cfg is not None, problems
    clock = FixedClock()
    blobs = MemoryBlobStore(clock)
    for day in ("2026/11/20", "2026/11/21"):
        blobs.put("upstream", f"churn/{day}/part-0.csv")
        blobs.put("upstream", f"churn/{day}/_SUCCESS")
    fabric = FabricLikeRunner(clock)
    fabric.fail_next = [Unavailable("no answer", status=500), Unavailable("no answer", status=500)]
    deps = Deps(cfg, clock, blobs, MemoryStateStore(), None, ListAlertSink(), claim_timeout=timedelta(minutes=15),
                runners={"fabric": fabric})
    outcome = upstream_watcher.run_tick(deps, clock.now())
    assert len(outcome.errors) == 1 and [w["reason"] for w in outcome.waiting] == [
        "another start of pipeline churn_pipe awaits its run id"]
    assert fabric.runs == {}
    # The slot is a row of the batches table that views of batches (autopilot status) never list.
    listed = Ledgers.of(deps).batches.scan(since=("first_claimed_at", "2000-01-01"))
    assert {r.dataset for r in listed} == {"churn"} and len(listed) == 1
    assert "~starts" in {e.partition for e in deps.state.scan(deps.tables.batches)}   # held, yet not listed
    clock.advance(minutes=1)
    outcome = upstream_watcher.run_tick(deps, clock.now())        # the failed start is resolved, then the next
    assert len(outcome.started) == 2 and len(fabric.runs) == 2
