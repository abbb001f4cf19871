"""``make demo``'s second act: one dataset on each engine side by side (ADF, a Synapse workspace, a
Fabric workspace), each batch started once on its own engine, verified by the webhook with that engine,
and its Power BI dataset refreshed. Its own sandbox, so the first act's story is untouched.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox.demo import NORMAL_ROWS, Timeline, decided, upstream_csv

ENGINES = {"scores": "adf", "sales": "synapse", "churn": "fabric"}


def engines_config(path: Path) -> Path:
    """The pipelines config of the act: the demo's dataset three times, one per engine."""
    from sandbox.fabric_emulator import item_id_for

    columns = {"id": {"type": "integer", "nullable": False}, "ts": {"type": "timestamp"},
               "score": {"type": "float", "min": 0, "max": 1}, "label": {"type": "string"}}
    contract = {"format": "csv", "columns": columns, "rows": {"min": 10}}
    datasets: list[dict[str, Any]] = []
    for i, (name, engine) in enumerate(ENGINES.items()):
        pipeline: dict[str, Any] = {"name": "score_batch", "engine": engine}
        if engine == "fabric":
            pipeline["item"] = item_id_for("score_batch")
        datasets.append({
            "name": name, "upstream": {"container": "upstream", "prefix": f"raw/{name}",
                                       "batch": {"marker": "_SUCCESS"}, "staleness": {"enabled": False}},
            "pipeline": pipeline, "output": {"container": "outputs", "prefix": name, "contract": contract},
            "powerbi": [{"workspace": "00000000-0000-0000-0000-0000000000a1",
                         "dataset": f"00000000-0000-0000-0000-0000000000d{i + 2}"}]})
    path.write_text(json.dumps({"version": 1, "datasets": datasets}))   # JSON is YAML
    return path


def play_engines(timeline: Timeline, workdir: Path) -> None:
    from sandbox.stack import Stack

    config = engines_config(workdir / "engines.yaml")
    with Stack(workdir / "engines", pipelines_config=config, queue_visibility="00:00:03",
               engines={"synapse": {"OUTPUT_PREFIX": "sales"}, "fabric": {"OUTPUT_PREFIX": "churn"}}) as stack:
        emulators = {"adf": stack.adf, **stack.engine_emulators}
        timeline.say("engines", "a second sandbox: ADF, Synapse and Fabric emulators, one dataset on each "
                                "(pipeline.engine: adf / synapse / fabric)")
        rng = random.Random(5)
        day = f"{datetime.now(UTC):%Y/%m/%d}"
        for name in ENGINES:
            stack.blobs.write_bytes("upstream", f"raw/{name}/{day}/part-0.csv", upstream_csv(NORMAL_ROWS, rng))
            stack.blobs.write_bytes("upstream", f"raw/{name}/{day}/_SUCCESS", b"")
        timeline.say("upstream", f"a batch landed for each of {', '.join(ENGINES)} in raw/<dataset>/{day}/")
        tick = stack.host.fire_timer("upstream_watcher")
        runs = {name: emulators[engine].runs(batch_id=f"{name}:{day}") for name, engine in ENGINES.items()}
        elsewhere = sum(len(e.runs(batch_id=f"{name}:{day}")) for name, engine in ENGINES.items()
                        for other, e in emulators.items() if other != engine)
        timeline.check(tick.succeeded and all(len(r) == 1 for r in runs.values()) and elsewhere == 0,
                       "one tick: exactly one run per batch, each on its dataset's engine (" +
                       ", ".join(f"{name} on {ENGINES[name]}" for name in ENGINES) + ")")
        for name, found in runs.items():
            if not found:
                continue
            engine, run_id = ENGINES[name], found[0]["runId"]
            finished = emulators[engine].wait_finished(run_id, timeout=90)
            decision = decided(stack.deps, run_id)
            timeline.say("webhook", f"{name}: {engine} run {run_id[:8]}… {finished['status']}, verified with "
                                    f"{engine}; decision: {decision.get('decision')}")
            read = [r for r in emulators[engine].requests if r["operation"] == "getRun" and run_id in r["path"]]
            timeline.check(bool(read), f"{name}: the webhook read the run from {engine} (GET of the run there)")
            timeline.check(decision.get("decision") == "refresh_started" and decision.get("dataset") == name,
                           f"{name}: the {engine} run's outputs passed and its Power BI dataset was refreshed")
        tick = stack.host.fire_timer("upstream_watcher")
        total = sum(len(e.runs()) for e in emulators.values())
        timeline.check(tick.succeeded and total == len(ENGINES), "the next tick starts nothing new on any engine")
