"""The README's "Run it locally by hand", followed as a user would: start ``python -m sandbox.stack`` (what
``make up`` runs), read what it prints, land a batch with the printed command, watch one run and its
verdict through the printed URLs and storage, then Ctrl-C it."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def _lines(stream: IO[str], into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line.rstrip("\n"))


def read_banner(lines: queue.Queue[str], timeout: float) -> list[str]:
    """Everything printed up to the "Log (stderr):" line that ends the banner."""
    out: list[str] = []
    deadline = time.monotonic() + timeout
    while not out or out[-1] != "Log (stderr):":
        try:
            out.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
        except queue.Empty:
            raise AssertionError("the stack printed no banner within the timeout:\n" + "\n".join(out)) from None
    return out


def after(banner: list[str], heading: str) -> str:
    """The line following the one that starts with ``heading``."""
    index = next(i for i, line in enumerate(banner) if line.startswith(heading))
    return banner[index + 1].strip()


def find(banner: list[str], pattern: str) -> str:
    for line in banner:
        if match := re.search(pattern, line):
            return match.group(1)
    raise AssertionError(f"nothing in the banner matches {pattern!r}")


def get_json(url: str, key: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers={"x-functions-key": key} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None


def eventually(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.3)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc: parent links)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], queue.Queue[str], Path]]:
    log = tmp_path / "stderr.log"
    with open(log, "w") as err:
        # --port 0: other sandboxes may hold 7071 on a shared machine; --speed 20: a tick every 3 s.
        process = subprocess.Popen([sys.executable, "-m", "sandbox.stack", "--port", "0", "--speed", "20"],
                                   cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    threading.Thread(target=_lines, args=(process.stdout, lines), daemon=True).start()
    try:
        yield process, lines, log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_the_readme_documents_make_up_and_what_it_prints() -> None:
    section = README.split("## Run it locally by hand", 1)[1].split("\n## ", 1)[0]
    for words in ("make up", "python -m sandbox.stack", "Ctrl-C", "--speed", "Function key",
                  "Land an upstream batch"):
        assert words in section


def test_make_up_prints_how_to_reach_everything_runs_a_landed_batch_and_stops_cleanly_on_ctrl_c(
        stack: tuple[subprocess.Popen[str], queue.Queue[str], Path]) -> None:
    process, lines, log = stack
    banner = read_banner(lines, timeout=120)
    connection = after(banner, "Storage (Azurite")
    key = after(banner, "Function key")
    host = find(banner, r"^Functions host (http://127\.0\.0\.1:\d+/api) ")
    adf = find(banner, r"ADF \(ARM REST\)\s+(http://127\.0\.0\.1:\d+)")
    assert connection.startswith("DefaultEndpointsProtocol=http;") and "BlobEndpoint=http://127.0.0.1:" in connection
    assert f"POST  {host}/pipeline-events" in "\n".join(banner)
    assert get_json(f"{adf}/_emulator/runs")[1] == {"value": []}

    land = next(line.strip() for line in banner if ' -c "import datetime' in line)
    landed = subprocess.run(["bash", "-c", land], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert landed.returncode == 0, landed.stderr
    assert landed.stdout.startswith("landed upstream/raw/scores/")

    def finished_runs() -> list[dict[str, Any]]:
        runs = get_json(f"{adf}/_emulator/runs")[1]["value"]
        return runs if runs and all(r["status"] == "Succeeded" for r in runs) else []

    [run] = eventually(finished_runs, 90, "one ADF run started by the watcher and finished")
    assert run["pipelineName"] == "score_batch" and run["parameters"]["batchId"].startswith("scores:")

    def decision() -> Any:
        status, body = get_json(f"{host}/pipeline-events/{run['runId']}", key)
        return body if status == 200 else None

    decided = eventually(decision, 60, "the webhook's decision for the run")
    assert decided["outputs"] == "pass" and decided["decision"] == "refresh_started"
    assert get_json(f"{host}/pipeline-events/{run['runId']}")[0] == 401    # the key is what lets you in

    from azure.storage.blob import ContainerClient

    with ContainerClient.from_connection_string(connection, "outputs") as outputs:
        [report] = [b.name for b in outputs.list_blobs(name_starts_with="scores/_reports/")]
        assert json.loads(outputs.download_blob(report).readall())["status"] == "pass"
    assert len(get_json(f"{adf}/_emulator/runs")[1]["value"]) == 1       # later ticks start nothing more

    # What the functions wrote, as the banner's status command and page show it.
    command = next(line.strip().removeprefix("CLI:").strip() for line in banner if line.strip().startswith("CLI:"))
    shown = subprocess.run(["bash", "-c", f"{command} --json"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    [dataset] = json.loads(shown.stdout)["datasets"]
    [batch] = dataset["batches"]
    assert batch["run"]["id"] == run["runId"] and batch["run"]["status"] == "Succeeded"
    assert batch["outputs"]["status"] == "pass" and batch["outputs"]["judged"] == 1
    assert batch["decision"] == "refresh_started"
    assert [r["state"] for r in batch["refreshes"]] in (["requested"], ["Completed"])   # the refresh ledger's word
    with urllib.request.urlopen(find(banner, r"page: (http://\S+)"), timeout=30) as page:
        assert page.status == 200 and b'<section id="ds-scores">' in page.read()

    children = descendants(process.pid)
    assert children, "Azurite runs as a child process: the check below would prove nothing"
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0
    assert [pid for pid in children if alive(pid)] == []
    text = log.read_text()
    assert "Traceback" not in text
    assert re.search(rf"pipeline run started dataset=scores batch=scores:\S+ run={run['runId']} "
                     r"pipeline=score_batch", text)
    assert re.search(r"output validated dataset=scores batch=\d{4}/\d\d/\d\d file=\S+ status=pass", text)
    assert key not in text and "AccountKey=Eby8" not in text
