"""Exactly once with real processes: two local hosts run the upstream watcher every second over the same
40 batches while each is killed (SIGKILL) at random moments and restarted, and the factory answers 429
with a Retry-After longer than the adapter waits, 429 with a short one, and 500 before and after
creating runs. Afterwards every batch has exactly one run: no duplicate, none missed.

Bounded: about 45 s of chaos, then at most CLAIM_TIMEOUT + 90 s for claims left by killed ticks to be
reconciled. The adapter's budget is shrunk through its app settings so CLAIM_TIMEOUT (checked against
it at startup, as in Azure) can be one minute.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sandbox.adf_emulator import ADFEmulator
from sandbox.azurite import Azurite
from shared.adapters.storage import AzureBlobStore
from shared.connections import StorageTarget

ROOT = Path(__file__).resolve().parents[2]
BATCHES = 40
CHAOS_SECONDS = 45
CLAIM_TIMEOUT_SECONDS = 60
OTHER_FUNCTIONS = ("output_guard", "output_guard_poison", "pipeline_events", "pipeline_event_status",
                   "pipeline_events_worker", "pipeline_events_poison", "alert_dispatcher", "alert_poison",
                   "followups")


@pytest.fixture
def factory(azurite: Azurite) -> Iterator[ADFEmulator]:
    with ADFEmulator(pipelines={"noop": lambda context: None}, page_size=50,
                     config={"DATA_STORAGE": azurite.connection_string}) as emulator:
        emulator.configure(queue_delay=0.0, run_duration=0.0)
        yield emulator


def settings_file(tmp_path: Path, azurite: Azurite, adf: ADFEmulator, unique: str) -> Path:
    config = tmp_path / "pipelines.yaml"
    config.write_text(f"""version: 1
datasets:
  - name: crash
    upstream:
      container: crash{unique}
      prefix: raw
      partition: "{{yyyy}}/{{MM}}/{{dd}}/{{*}}"
      lookback: 2d
      batch: {{marker: _SUCCESS}}
      staleness: {{enabled: false}}
    pipeline:
      name: noop
      concurrency: {{policy: concurrent, max_runs: 100}}
""")
    values = {"AzureWebJobsStorage": azurite.connection_string, "DATA_STORAGE": azurite.connection_string,
              "PIPELINES_CONFIG": str(config), "UPSTREAM_SCHEDULE": "* * * * * *",
              "ADF_SUBSCRIPTION_ID": adf.subscription_id, "ADF_RESOURCE_GROUP": adf.resource_group,
              "ADF_FACTORY_NAME": adf.factory_name, "ADF_ENDPOINT": adf.url,
              "ADF_REQUEST_TIMEOUT": "2s", "ADF_RETRY_WAIT": "3s", "CLAIM_TIMEOUT": f"{CLAIM_TIMEOUT_SECONDS}s",
              "STATE_TABLE_PREFIX": f"kill{unique}"[:20].replace("-", ""),
              **{f"AzureWebJobs.{name}.Disabled": "true" for name in OTHER_FUNCTIONS}}
    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps({"Values": values}))
    return path


class Host:
    """One `python -m sandbox.host` process that can be killed and started again."""

    def __init__(self, settings: Path, log: Path) -> None:
        self.settings, self.log = settings, log
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "sandbox.host", "--settings", str(self.settings),
                                             "--port", "0"], cwd=ROOT, stdout=out, stderr=out,
                                            start_new_session=True)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
            self.kills += 1

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def test_two_hosts_killed_at_random_start_every_batch_exactly_once(
        azurite: Azurite, factory: ADFEmulator, tmp_path: Path, unique: str) -> None:
    rng = random.Random(20261129)
    settings = settings_file(tmp_path, azurite, factory, unique)
    store = AzureBlobStore(StorageTarget(connection_string=azurite.connection_string))
    day = datetime.now(UTC).strftime("%Y/%m/%d")
    batch_ids = [f"crash:{day}/b{i:02d}" for i in range(BATCHES)]
    hosts = [Host(settings, tmp_path / f"host-{i}.log") for i in range(2)]
    try:
        for host in hosts:
            host.start()
        landed = 0
        faults = 0
        deadline = time.monotonic() + CHAOS_SECONDS
        while time.monotonic() < deadline:
            while landed < BATCHES and rng.random() < 0.8:   # batches keep landing during the chaos
                folder = f"raw/{day}/b{landed:02d}"
                store.write_bytes(f"crash{unique}", f"{folder}/part-0.csv", b"a,b\n1,2\n")
                store.write_bytes(f"crash{unique}", f"{folder}/_SUCCESS", b"")
                landed += 1
            fault = rng.choice([("429-long", 429, "before", 20.0), ("429-short", 429, "before", 1.0),
                                ("500-before", 500, "before", None), ("500-after", 500, "after", None), None])
            if fault is not None:
                _, status, when, retry_after = fault
                factory.fail_next("createRun", status=status, when=when, retry_after=retry_after)
                faults += 1
            if rng.random() < 0.6:   # a slow answer after the run exists: a kill now leaves a claim with a run
                factory.slow_next("createRun", seconds=1.5, count=2)
            time.sleep(rng.uniform(0.3, 2.0))
            victim = rng.choice(hosts)
            victim.kill()
            time.sleep(rng.uniform(0.0, 1.0))
            victim.start()
        assert landed == BATCHES
        factory.reset_faults()
        settle = time.monotonic() + CLAIM_TIMEOUT_SECONDS + 90
        while time.monotonic() < settle and not all(factory.runs(batch_id=b) for b in batch_ids):
            time.sleep(1)
        time.sleep(3)   # one more round of ticks: nothing new may start
        runs = {b: len(factory.runs(batch_id=b)) for b in batch_ids}
    finally:
        for host in hosts:
            host.stop()

    logs = "".join(h.log.read_text(errors="replace") for h in hosts)
    duplicates = {b: n for b, n in runs.items() if n > 1}
    missed = [b for b, n in runs.items() if n == 0]
    assert sum(h.kills for h in hosts) >= 15 and faults >= 10
    assert "pipeline run reconciled" in logs      # a killed tick's run was found by its batch id, not rerun
    assert duplicates == {}, f"batches started more than once: {duplicates}"
    assert missed == [], f"batches never started: {missed}"
