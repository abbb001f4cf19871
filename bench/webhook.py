"""Webhook latency under load: 50 concurrent callers POST pipeline events to the local host.

Downstreams are the sandbox emulators (ADF, Power BI, Azurite state). Every event is a distinct, real,
finished run. The POST records the event and queues it (202 + Location); the ``pipeline-events``
worker then verifies each run with ADF, reads its output verdict and refreshes Power BI. Side by side,
the same callers hit the status route of an unknown run (auth + routing + one state read): the
host's own floor. Target: p99 ≤ 300 ms and 0 errors.

How it is laid out, as in Azure on Flex Consumption (per-function scaling: HTTP triggers share
instances, each queue trigger scales on its own): one local host serves the HTTP functions, a second
host process runs the queue worker, the ADF and Power BI emulators run in their own processes, and the
callers are a separate asyncio process (one keep-alive connection each, closed loop: a caller sends its
next request when the previous one is answered), light enough not to starve the host of CPU. Each
connection is opened and used once before timing starts; the first, cold POST is reported apart.

    .venv/bin/python -m bench.webhook [--callers 50] [--requests 20] [--threads 2] [--worker-during-load]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    """Send one HTTP/1.1 request on a kept-alive connection; read the whole answer; return its status."""
    writer.write(request)
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status


async def _load(url: str, key: str, bodies: list[str], callers: int, method: str) -> dict[str, Any]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80

    def request(item: str) -> bytes:
        head = f"{method} {parts.path}{'' if method == 'POST' else '/' + item} HTTP/1.1\r\nHost: {parts.netloc}\r\n" \
               f"x-functions-key: {key}\r\n"
        if method != "POST":
            return (head + "\r\n").encode()
        data = item.encode()
        return (head + f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data

    warm = (f"GET {parts.path}/00000000-0000-0000-0000-000000000000 HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"x-functions-key: {key}\r\n\r\n").encode()
    latencies: list[float] = []
    errors: list[int] = []
    pending = list(bodies)
    connections = [await asyncio.open_connection(host, port) for _ in range(callers)]
    for reader, writer in connections:   # every connection used once, untimed
        await _exchange(reader, writer, warm)

    async def caller(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while pending:
            item = pending.pop()
            start = time.perf_counter()
            try:
                status = await _exchange(reader, writer, request(item))
            except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
                status = 599   # no answer at all counts as an error
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
            latencies.append(time.perf_counter() - start)
            if status >= 500 or (method == "POST" and status != 202):
                errors.append(status)
        writer.close()

    wall = time.perf_counter()
    await asyncio.gather(*(caller(r, w) for r, w in connections))
    return {"latencies": latencies, "errors": errors, "wall": time.perf_counter() - wall}


def load(url: str, key: str, bodies: list[str], callers: int, method: str) -> dict[str, Any]:
    """Run in a child process: ``callers`` connections share the bodies; latencies and errors."""
    return asyncio.run(_load(url, key, bodies, callers, method))


def only(names: set[str], keep: set[str]) -> dict[str, str]:
    """App settings that disable every function but ``keep`` (``AzureWebJobs.<name>.Disabled``)."""
    return {f"AzureWebJobs.{name}.Disabled": "true" for name in names - keep}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--callers", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20, help="requests per caller")
    parser.add_argument("--threads", type=int, default=2,
                        help="PYTHON_THREADPOOL_THREAD_COUNT of the HTTP host (0: the worker's default, "
                             "min(32, cores + 4)); short I/O-bound requests contend less with few threads")
    parser.add_argument("--worker-during-load", action="store_true",
                        help="start the queue worker before the load, on the same cores (default: after it)")
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
    from sandbox.host.bindings import index_app
    from sandbox.stack import app_settings
    from shared import bootstrap
    from shared.adapters.storage import AzureBlobStore
    from shared.connections import StorageTarget
    from shared.services.ledgers import Ledgers
    from shared.services.ledgers.verdicts import Verdict

    total = args.callers * args.requests + 1   # + the cold first POST
    work = Path(tempfile.mkdtemp(prefix="bench-webhook-"))
    children: list[subprocess.Popen[str]] = []
    try:
        with Azurite(work / "azurite", in_memory=True) as azurite:
            conn = azurite.connection_string
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
                Ledgers.of(deps).verdicts.upsert(Verdict("scores", day, status="pass"))
                run_id = deps.runner.start_run("score_batch", {"batchId": f"scores:{day}", "dataset": "scores",
                                                               "prefix": "raw/bench/", "files": json.dumps([name])})
                bodies.append(json.dumps({"factory": adf_info["factory"], "pipeline": "score_batch",
                                          "runId": run_id, "status": "Succeeded", "batchId": f"scores:{day}"}))
            unknown = [f"00000000-0000-0000-0000-{i:012d}" for i in range(total - 1)]
            import function_app

            functions = index_app(function_app.app)
            names = {f.get_function_name() for f in functions}
            http = {f.get_function_name() for f in functions if f.get_trigger().get_binding_name() == "httpTrigger"}
            results: dict[str, dict[str, Any]] = {}
            threads = {"PYTHON_THREADPOOL_THREAD_COUNT": str(args.threads)} if args.threads else {}
            if args.worker_during_load:
                children.append(start_worker(work, settings, names))
            with LocalHost(function_app.app, {**settings, **only(names, http), **threads},
                           host_json=ROOT / "host.json") as host:
                cold = time.perf_counter()
                first = requests.post(f"{host.url}/pipeline-events", data=bodies.pop(), timeout=60,
                                      headers={"x-functions-key": host.default_key,
                                               "content-type": "application/json"})
                cold = time.perf_counter() - cold
                for label, method, payload in (("status route (floor)", "GET", unknown),
                                               ("pipeline-events", "POST", bodies)):
                    data = work / f"{method}.json"
                    data.write_text(json.dumps(payload))
                    out = subprocess.run([sys.executable, "-m", "bench.webhook", "--callers", str(args.callers),
                                          "--child", f"{host.url}/pipeline-events", host.default_key, str(data),
                                          method], stdout=subprocess.PIPE, text=True, cwd=ROOT, check=True)
                    results[label] = json.loads(out.stdout)
            if not args.worker_during_load:
                children.append(start_worker(work, settings, names))
            run_ids = [json.loads(b)["runId"] for b in bodies] + [json.loads(first.request.body or "{}")["runId"]]
            decided = wait_decided(deps, run_ids, timeout=300)
    finally:
        for child in children:
            child.terminate()
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    print(f"HTTP host: PYTHON_THREADPOOL_THREAD_COUNT={args.threads or 'default'}; queue worker "
          f"{'during' if args.worker_during_load else 'after'} the load")
    print(f"cold first POST (imports, clients, queue creation): {first.status_code} in {cold * 1000:.0f} ms")
    for label, result in results.items():
        lat = [x * 1000 for x in result["latencies"]]
        print(f"{label:<22} n={len(lat)} callers={args.callers} p50={statistics.median(lat):.0f} ms "
              f"p95={percentile(lat, 0.95):.0f} ms p99={percentile(lat, 0.99):.0f} ms "
              f"max={max(lat):.0f} ms errors={len(result['errors'])} {sorted(set(result['errors']))} "
              f"throughput={len(lat) / result['wall']:.0f}/s")
    events = results["pipeline-events"]
    p99 = percentile(events["latencies"], 0.99) * 1000
    print(f"decisions made by the worker: {decided} of {len(run_ids)} events")
    ok = p99 <= 300 and not events["errors"] and decided == len(run_ids)
    print(f"target p99 <= 300 ms, 0 errors, every event decided: {'met' if ok else 'NOT met'} (p99 {p99:.0f} ms)")
    return 0 if ok else 1


def start_worker(work: Path, settings: dict[str, str], names: set[str]) -> subprocess.Popen[str]:
    """The queue worker on its own "instance": a second host process with only that function."""
    path = work / "worker.settings.json"
    path.write_text(json.dumps({"Values": {**settings, **only(names, {"pipeline_events_worker"})}}))
    with open(work / "worker.log", "w") as log:
        return subprocess.Popen([sys.executable, "-m", "sandbox.host", "--settings", str(path), "--port", "0"],
                                cwd=ROOT, stdout=log, stderr=log, text=True)


def wait_decided(deps: Any, run_ids: list[str], timeout: float) -> int:
    """How many events the worker has decided, waiting up to ``timeout`` for all of them."""
    from shared.services.ledgers import Ledgers

    deadline = time.monotonic() + timeout
    left = set(run_ids)
    while left and time.monotonic() < deadline:
        for run_id in list(left):
            row = Ledgers.of(deps).events.find(run_id)
            if row is not None and row.decided:
                left.discard(run_id)
        if left:
            time.sleep(1)
    return len(run_ids) - len(left)


if __name__ == "__main__":
    sys.exit(main())
