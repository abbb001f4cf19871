"""Webhook latency under load: 50 concurrent callers POST pipeline events to the local host.

Downstreams are the sandbox emulators (ADF, Power BI, Azurite state). Every event is a distinct,
real run, so each request does the full work: claim, verify with ADF (run + activity runs), read the
output verdict, request (or queue) a Power BI refresh, store the decision. The load comes from a
separate process so it does not share the host's interpreter. Side by side, the same callers hit
the status route of an unknown run (auth + routing + one state read) as the host's own floor.
Target: p99 ≤ 300 ms and 0 errors.

    .venv/bin/python -m bench.webhook [--callers 50] [--requests 10]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def load(url: str, key: str, bodies: list[str], callers: int, method: str) -> dict[str, object]:
    """Run in a child process: ``callers`` threads share the bodies; returns latencies and errors."""
    latencies: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()
    queue = list(bodies)

    def caller() -> None:
        session = requests.Session()
        while True:
            with lock:
                if not queue:
                    return
                body = queue.pop()
            start = time.perf_counter()
            try:
                if method == "POST":
                    response = session.post(url, data=body, timeout=60,
                                            headers={"x-functions-key": key, "content-type": "application/json"})
                else:
                    response = session.get(f"{url}/{body}", timeout=60, headers={"x-functions-key": key})
                status = response.status_code
            except requests.RequestException:
                status = 599   # no answer at all counts as an error
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                if status >= 500 or (method == "POST" and status != 202):
                    errors.append(status)

    threads = [threading.Thread(target=caller) for _ in range(callers)]
    wall = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"latencies": latencies, "errors": errors, "wall": time.perf_counter() - wall}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--callers", type=int, default=50)
    parser.add_argument("--requests", type=int, default=10, help="requests per caller")
    parser.add_argument("--child", nargs=4, metavar=("URL", "KEY", "BODIES", "METHOD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, key, bodies_file, method = args.child
        result = load(url, key, json.loads(Path(bodies_file).read_text()), args.callers, method)
        print(json.dumps(result))
        return 0

    logging.getLogger().addHandler(logging.NullHandler())
    from sandbox.azurite import Azurite
    from sandbox.host import LocalHost
    from sandbox.stack import app_settings
    from shared import bootstrap
    from shared.adapters.storage import AzureBlobStore
    from shared.config import StorageTarget
    from shared.ports import Entity
    from shared.services.deps import row_key

    total = args.callers * args.requests
    work = Path(tempfile.mkdtemp(prefix="bench-webhook-"))
    children: list[subprocess.Popen[str]] = []
    try:
        with Azurite(work / "azurite", in_memory=True) as azurite:
            conn = azurite.connection_string
            # ADF and Power BI are remote services in Azure: here they run in their own processes, so
            # the host's interpreter does only the app's work.
            adf = subprocess.Popen([sys.executable, "-m", "sandbox.adf_emulator", "--page-size", "100"],
                                   stdout=subprocess.PIPE, text=True, cwd=ROOT,
                                   env={**os.environ, "DATA_STORAGE": conn})
            children.append(adf)
            adf_info = json.loads(adf.stdout.readline())  # type: ignore[union-attr]
            pbi = subprocess.Popen([sys.executable, "-m", "sandbox.powerbi_emulator", "--refresh-seconds", "0.5",
                                    "--daily-limit", "0"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
            children.append(pbi)
            pbi_url = pbi.stdout.readline().strip().rsplit(" ", 1)[-1]  # type: ignore[union-attr]
            settings = app_settings(conn, ROOT / "pipelines.yaml",
                                    (adf_info["subscriptionId"], adf_info["resourceGroup"], adf_info["factory"]),
                                    adf_info["url"], pbi_url, POWERBI_DAILY_LIMIT="100000", VERDICT_WAIT="0s")
            deps = bootstrap.build_deps(settings)
            assert deps.runner is not None
            blobs = AzureBlobStore(StorageTarget(connection_string=conn))
            name = "raw/bench/part-0.csv"
            blobs.write_bytes("upstream", name, b"id,ts,f1,f2,f3\n1,2026-11-21T00:00:00Z,0.1,0.2,0.3\n")
            bodies = []
            for i in range(total):
                day = f"2025/{1 + i // 28 % 12:02d}/{1 + i % 28:02d}-{i}"
                deps.state.upsert(Entity(deps.tables.verdicts, "scores", row_key(day),
                                         {"batch": day, "files": "{}", "status": "pass"}))
                run_id = deps.runner.start_run("score_batch", {"batchId": f"scores:{day}", "dataset": "scores",
                                                               "prefix": "raw/bench/", "files": json.dumps([name])})
                bodies.append(json.dumps({"factory": adf_info["factory"], "pipeline": "score_batch",
                                          "runId": run_id, "status": "Succeeded", "batchId": f"scores:{day}"}))
            unknown = [f"00000000-0000-0000-0000-{i:012d}" for i in range(total)]
            results = {}
            import function_app

            with LocalHost(function_app.app, settings, host_json=ROOT / "host.json") as host:
                for label, method, payload in (("status route (floor)", "GET", unknown),
                                               ("pipeline-events", "POST", bodies)):
                    data = work / f"{method}.json"
                    data.write_text(json.dumps(payload))
                    out = subprocess.run([sys.executable, "-m", "bench.webhook", "--callers", str(args.callers),
                                          "--child", f"{host.url}/pipeline-events", host.default_key, str(data),
                                          method], capture_output=True, text=True, cwd=ROOT, check=True)
                    results[label] = json.loads(out.stdout)
            refreshes = sum(1 for b in bodies if deps.state.get(deps.tables.events, json.loads(b)["runId"], ""))
    finally:
        for child in children:
            child.terminate()
            child.wait(10)
    for label, result in results.items():
        lat = [x * 1000 for x in result["latencies"]]  # type: ignore[union-attr]
        print(f"{label:<22} n={len(lat)} callers={args.callers} p50={statistics.median(lat):.0f} ms "
              f"p95={percentile(lat, 0.95):.0f} ms p99={percentile(lat, 0.99):.0f} ms "
              f"max={max(lat):.0f} ms errors={len(result['errors'])} {sorted(set(result['errors']))} "  # type: ignore[arg-type]
              f"throughput={len(lat) / result['wall']:.0f}/s")  # type: ignore[operator]
    events = results["pipeline-events"]
    p99 = percentile(events["latencies"], 0.99) * 1000  # type: ignore[arg-type]
    print(f"decisions stored: {refreshes} of {len(bodies)} events")
    ok = p99 <= 300 and not events["errors"]
    print(f"target p99 <= 300 ms and 0 errors: {'met' if ok else 'NOT met'} (p99 {p99:.0f} ms)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
