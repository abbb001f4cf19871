"""Azurite for integration tests: one process per test session, on free ports, in a temp folder.

Finds the binary in ``$AZURITE_BIN``, then the project's ``.tools/node_modules/.bin/azurite``, then
``PATH``. A missing Azurite fails the tests with the fix in the message (never a skip).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key, published by Microsoft; it opens nothing outside this machine.
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Azurite:
    blob_port: int
    queue_port: int
    table_port: int

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
                f"BlobEndpoint=http://127.0.0.1:{self.blob_port}/{ACCOUNT};"
                f"QueueEndpoint=http://127.0.0.1:{self.queue_port}/{ACCOUNT};"
                f"TableEndpoint=http://127.0.0.1:{self.table_port}/{ACCOUNT};")


def azurite_binary() -> str:
    candidates = [os.environ.get("AZURITE_BIN", ""), str(REPO / ".tools/node_modules/.bin/azurite"),
                  shutil.which("azurite") or ""]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError("Azurite not found: run the project's setup (it installs npm azurite@3.35.0 into "
                       ".tools/) or set AZURITE_BIN to the azurite executable")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def start_azurite(workdir: Path, timeout: float = 30.0) -> tuple[Azurite, subprocess.Popen[bytes]]:
    chosen: set[int] = set()
    while len(chosen) < 3:
        chosen.add(free_port())
    ports = Azurite(*sorted(chosen))
    log = (workdir / "azurite.log").open("wb")
    process = subprocess.Popen(
        [azurite_binary(), "--skipApiVersionCheck", "--disableTelemetry", "--loose", "--silent",
         "--inMemoryPersistence",
         "--blobHost", "127.0.0.1", "--blobPort", str(ports.blob_port),
         "--queueHost", "127.0.0.1", "--queuePort", str(ports.queue_port),
         "--tableHost", "127.0.0.1", "--tablePort", str(ports.table_port)],
        stdout=log, stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True)
    deadline = time.monotonic() + timeout
    while not all(_listening(p) for p in (ports.blob_port, ports.queue_port, ports.table_port)):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"Azurite did not start: {(workdir / 'azurite.log').read_text()[-2000:]}")
        time.sleep(0.1)
    return ports, process


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    with tempfile.TemporaryDirectory(prefix="azurite-") as tmp:
        ports, process = start_azurite(Path(tmp))
        try:
            yield ports
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
