"""Azurite, the Azure Storage emulator, installed into the project and run on free local ports.

``with Azurite() as azurite: azurite.connection_string`` gives a private emulator (blob, queue, table)
for tests and the demo; ``python -m sandbox.azurite`` runs one and prints its connection string.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

AZURITE_VERSION = "3.35.0"   # newest release that runs on Node 20
REPO_ROOT = Path(__file__).resolve().parents[1]
TOOLS_DIR = REPO_ROOT / ".tools"
DEFAULT_LOCATION = REPO_ROOT / ".sandbox" / "azurite"

# Azurite's well-known development account: public, documented by Microsoft, not a secret.
ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoG"
               "MGw==")
SERVICES = ("blob", "queue", "table")


class AzuriteError(RuntimeError):
    """Azurite could not be installed, started or reached."""


def installed_version(tools_dir: Path = TOOLS_DIR) -> str | None:
    manifest = tools_dir / "node_modules" / "azurite" / "package.json"
    if not (tools_dir / "node_modules" / ".bin" / "azurite").exists() or not manifest.exists():
        return None
    try:
        version = json.loads(manifest.read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError):
        return None
    return version if isinstance(version, str) else None


def ensure_installed(tools_dir: Path = TOOLS_DIR) -> Path:
    """Install the pinned Azurite into ``tools_dir`` unless it is there already; return its launcher."""
    binary = tools_dir / "node_modules" / ".bin" / "azurite"
    if installed_version(tools_dir) == AZURITE_VERSION:
        return binary
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise AzuriteError("Azurite needs Node.js 20 and npm on PATH; install them (e.g. apt-get install "
                           "nodejs npm) and retry")
    tools_dir.mkdir(parents=True, exist_ok=True)
    command = [npm, "install", "--prefix", str(tools_dir), "--no-audit", "--no-fund", "--silent",
               "--save-exact", f"azurite@{AZURITE_VERSION}"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0 or installed_version(tools_dir) != AZURITE_VERSION:
        detail = (result.stderr or result.stdout).strip().splitlines()[-15:]
        raise AzuriteError(f"'npm install azurite@{AZURITE_VERSION}' into {tools_dir} failed "
                           f"(exit {result.returncode}):\n" + "\n".join(detail))
    return binary


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def connection_string(ports: dict[str, int]) -> str:
    endpoints = "".join(f"{service.capitalize()}Endpoint=http://127.0.0.1:{ports[service]}/{ACCOUNT_NAME};"
                        for service in SERVICES)
    return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
            f"{endpoints}")


class Azurite:
    """One Azurite process on free ports. ``location=None`` keeps its data in a temporary directory."""

    def __init__(self, location: Path | str | None = None, *, tools_dir: Path = TOOLS_DIR,
                 startup_timeout: float = 30.0, in_memory: bool = False) -> None:
        self._requested_location = Path(location) if location is not None else None
        self._tools_dir = tools_dir
        self._startup_timeout = startup_timeout
        self._in_memory = in_memory   # nothing on disk: faster, and gone when Azurite stops
        self._process: subprocess.Popen[bytes] | None = None
        self._temp_location: str | None = None
        self.location: Path | None = None
        self.ports: dict[str, int] = {}

    @property
    def connection_string(self) -> str:
        if not self.running:
            raise AzuriteError("Azurite is not running; call start() first")
        return connection_string(self.ports)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> Azurite:
        if self.running:
            return self
        binary = ensure_installed(self._tools_dir)
        # A port picked free can be taken before Azurite binds it; a fresh pick resolves that race.
        for attempt in range(3):
            self._prepare_location()
            atexit.register(self.stop)
            try:
                self._launch(binary)
                return self
            except AzuriteError:
                self.stop()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _prepare_location(self) -> None:
        if self._requested_location is None:
            self._temp_location = tempfile.mkdtemp(prefix="azurite-")
            self.location = Path(self._temp_location)
        else:
            self.location = self._requested_location
            self.location.mkdir(parents=True, exist_ok=True)

    def _launch(self, binary: Path) -> None:
        assert self.location is not None
        self.ports = {service: free_port() for service in SERVICES}
        command = [str(binary), "--skipApiVersionCheck", "--disableTelemetry", "--loose", "--silent"]
        # In memory, Azurite refuses --location; the directory then holds only its console log.
        command += ["--inMemoryPersistence"] if self._in_memory else ["--location", str(self.location)]
        for service, port in self.ports.items():
            command += [f"--{service}Host", "127.0.0.1", f"--{service}Port", str(port)]
        log_path = self.location / "azurite.log"
        with open(log_path, "ab") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + self._startup_timeout
        waiting = set(self.ports.values())
        while waiting:
            if self._process.poll() is not None:
                raise AzuriteError(f"Azurite exited with code {self._process.returncode} while starting; "
                                   f"its log {log_path} ends with:\n{_tail(log_path)}")
            if time.monotonic() > deadline:
                raise AzuriteError(f"Azurite did not open ports {sorted(waiting)} within "
                                   f"{self._startup_timeout:.0f} s; log: {log_path}")
            waiting = {port for port in waiting if not _answers(port)}
            if waiting:
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL) and remove a temporary data directory."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        if self._temp_location is not None:
            shutil.rmtree(self._temp_location, ignore_errors=True)
            self._temp_location = None
        atexit.unregister(self.stop)

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.azurite",
                                     description="Run Azurite on free ports until Ctrl-C.")
    parser.add_argument("--location", default=str(DEFAULT_LOCATION),
                        help=f"data directory (default: {DEFAULT_LOCATION})")
    parser.add_argument("--install-only", action="store_true",
                        help=f"install azurite@{AZURITE_VERSION} under .tools/ if missing, then exit")
    args = parser.parse_args(argv)
    if args.install_only:
        try:
            print(ensure_installed())
        except AzuriteError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    try:
        azurite = Azurite(args.location).start()
    except AzuriteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        print(azurite.connection_string, flush=True)
        print(f"Azurite {AZURITE_VERSION} running (data in {azurite.location}); Ctrl-C stops it.",
              file=sys.stderr, flush=True)
        while azurite.running:
            time.sleep(0.5)
        print("error: Azurite exited unexpectedly", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        azurite.stop()


if __name__ == "__main__":
    sys.exit(main())
