"""A 1 GB CSV output landing in the sandbox, validated by the output guard through the local host.

    .venv/bin/python -m bench.guard_large_blob               # 1 GB, SDK-type binding vs plain stream
    .venv/bin/python -m bench.guard_large_blob --gb 0.2      # a quick look

For each binding the bench starts a fresh Azurite (on disk), uploads the file under
``outputs/big/2026/11/29/``, starts ``python -m sandbox.host`` as its own process running an app
whose blob trigger is the real ``output_guard`` (``function_app``; SDK-type ``BlobClient``) or the
same guard behind a plain ``func.InputStream`` binding (``bench.guard_stream_app``, what the guard
was before: the host loads the blob and the guard reads it again), and waits for the validation
report. Measured: the host process's peak RSS (``VmHWM``, host and worker are one process), the bytes
the data account's blob endpoint sent (a counting TCP proxy in front of Azurite carries the app's
data-account traffic: listing, properties, reads), the report's row count against the file's, and the
time from upload to report. Targets (issue 9): peak RSS ≤ 300 MB and bytes read ≤ 1.1× the blob's size
for the SDK-type binding, with the right row count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.csv_validate import CONTRACT, DATA, generate

ROOT = Path(__file__).resolve().parent.parent
BLOB = "big/2026/11/29/data.csv"
REPORT = "big/_reports/2026/11/29/data.csv.report.json"
APPS = {"sdk": "function_app:app", "stream": "bench.guard_stream_app:app"}
RSS_TARGET_MB, READ_TARGET = 300, 1.1


class CountingProxy:
    """TCP proxy on a free port in front of ``target``; counts the bytes the target sends back."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.sent_to_clients = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *_: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter, count: bool) -> None:
            try:
                while chunk := await source.read(1 << 20):
                    if count:
                        self.sent_to_clients += len(chunk)
                    sink.write(chunk)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                sink.close()

        await asyncio.gather(pipe(reader, up_writer, False), pipe(up_reader, writer, True))


def pipelines_config(path: Path) -> None:
    contract = "\n".join("        " + line for line in CONTRACT.strip().splitlines())
    path.write_text(f"""version: 1
datasets:
  - name: big
    output:
      container: outputs
      prefix: big
      partition: "{{yyyy}}/{{MM}}/{{dd}}"
      contract:
{contract}
""", encoding="utf-8")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def run_one(binding: str, data: Path, rows: int, workdir: Path) -> dict[str, Any]:
    from azure.storage.blob import BlobServiceClient

    from sandbox.azurite import Azurite, connection_string

    size = data.stat().st_size
    with Azurite(workdir / f"azurite-{binding}") as azurite, CountingProxy(azurite.ports["blob"]) as proxy:
        direct = azurite.connection_string
        via_proxy = connection_string({**azurite.ports, "blob": proxy.port})
        service = BlobServiceClient.from_connection_string(direct, max_single_put_size=8 << 20,
                                                           max_block_size=8 << 20)
        container = service.get_container_client("outputs")
        container.create_container()
        config = workdir / "pipelines.yaml"
        pipelines_config(config)
        settings = workdir / f"settings-{binding}.json"
        settings.write_text(json.dumps({"Values": {
            "AzureWebJobsStorage": direct, "DATA_STORAGE": via_proxy, "OUTPUT_CONTAINER": "outputs",
            "PIPELINES_CONFIG": str(config), "STATE_TABLE_PREFIX": f"bench{binding}",
            "AzureWebJobs.upstream_watcher.Disabled": "true", "AzureWebJobs.followups.Disabled": "true"}}))
        host = subprocess.Popen([sys.executable, "-m", "sandbox.host", "--settings", str(settings), "--port", "0",
                                 "--app", APPS[binding]], cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=open(workdir / f"host-{binding}.log", "wb"))  # noqa: SIM115
        try:
            time.sleep(3)   # the host indexes the app and lists the (empty) container once
            before = proxy.sent_to_clients
            start = time.perf_counter()
            with data.open("rb") as source:
                container.upload_blob(BLOB, source, length=size, max_concurrency=2)
            uploaded = time.perf_counter() - start
            report_client = container.get_blob_client(REPORT)
            deadline = time.monotonic() + 900
            while not report_client.exists():
                if host.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"no report ({binding}); see {workdir / f'host-{binding}.log'}")
                time.sleep(0.5)
            judged = time.perf_counter() - start
            report = json.loads(report_client.download_blob().readall())
            peak = peak_rss_mb(host.pid)
            read = proxy.sent_to_clients - before
        finally:
            host.send_signal(signal.SIGINT)
            try:
                host.wait(30)
            except subprocess.TimeoutExpired:
                host.kill()
    return {"binding": binding, "bytes": size, "rows_expected": rows, "rows_reported": report["profile"]["rows"],
            "status": report["status"], "peak_rss_mb": round(peak, 1), "bytes_read": read,
            "read_ratio": round(read / size, 3), "upload_s": round(uploaded, 1),
            "seconds_to_report": round(judged - uploaded, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gb", type=float, default=1.0, help="size of the CSV output (default 1 GB)")
    parser.add_argument("--bindings", default="sdk,stream", help="which apps to run, in order")
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    data = DATA / f"guard_{args.gb:g}gb.csv"
    if not data.exists():
        print(f"generating {data} ...", file=sys.stderr)
        generate(data, int(args.gb * 1e9))
    with data.open("rb") as handle:
        rows = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 24), b"")) - 1
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-guard-", dir=DATA) as tmp:
        for binding in args.bindings.split(","):
            result = run_one(binding, data, rows, Path(tmp))
            results.append(result)
            print(json.dumps(result), flush=True)
    ok = True
    for result in results:
        if result["binding"] != "sdk":
            continue
        checks = {"peak RSS ≤ 300 MB": result["peak_rss_mb"] <= RSS_TARGET_MB,
                  "bytes read ≤ 1.1× size": result["read_ratio"] <= READ_TARGET,
                  "row count right": result["rows_reported"] == result["rows_expected"]}
        for name, met in checks.items():
            print(f"{'met' if met else 'MISSED'}: {name}", flush=True)
            ok = ok and met
    baseline = next((r for r in results if r["binding"] == "stream"), None)
    sdk = next((r for r in results if r["binding"] == "sdk"), None)
    if baseline and sdk:
        print(f"SDK-type vs plain stream binding: peak RSS {sdk['peak_rss_mb'] / baseline['peak_rss_mb']:.2f}x, "
              f"bytes read {sdk['bytes_read'] / max(baseline['bytes_read'], 1):.2f}x, time to report "
              f"{sdk['seconds_to_report'] / max(baseline['seconds_to_report'], 0.1):.2f}x")
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
