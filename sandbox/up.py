"""``make up`` / ``python -m sandbox.stack``: the whole sandbox for interactive use, until Ctrl-C.

Starts the Stack (Azurite, the ADF / Power BI / Teams / Azure DevOps emulators, the SMTP sink and the local host
running ``function_app.app``), prints on stdout how to reach each piece and a command that lands an
upstream batch, then logs what the app does on stderr. SIGINT or SIGTERM stops everything; exit 0.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import re
import shlex
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from sandbox.local_factory import FACTORY_NAME, RESOURCE_GROUP, SUBSCRIPTION_ID

if TYPE_CHECKING:
    from sandbox.host import Function
    from sandbox.stack import Stack
    from shared.core.spec import PipelinesConfig

ROOT = Path(__file__).resolve().parent.parent
# The app's default is hourly; interactively, a landed batch should start a run within a minute.
UPSTREAM_SCHEDULE = "0 * * * * *"
_STRFTIME = {"{yyyy}": "%Y", "{MM}": "%m", "{dd}": "%d", "{HH}": "%H"}   # {*}: any folder name


class Stopped(BaseException):
    """SIGINT or SIGTERM arrived: unwind through the Stack's exit, which stops every piece."""


def _stop(signum: int, frame: FrameType | None) -> None:
    # Cleanup must not be cut short by a second Ctrl-C: from here on both signals are ignored.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Stopped(signum)


def python_command() -> str:
    """How the user runs this Python from where they stand: ``.venv/bin/python`` in the checkout."""
    executable = Path(sys.executable)      # not resolved: the venv's python is a link to the base one
    try:
        return str(executable.relative_to(Path.cwd()))
    except ValueError:
        return shlex.quote(str(executable))


def land_command(connection_string: str, python: str, container: str = "upstream",
                 folder: str = "raw/scores/%Y/%m/%d/", marker: str | None = "_SUCCESS") -> str:
    """One shell line that writes today's upstream batch as a producer would: a data file under the
    partition ``folder`` (a strftime format), then the ``marker`` last. The file holds what the
    sandbox's ``score_batch`` pipeline reads: id, ts and the features f1, f2, f3."""
    code = (
        "import datetime as d, random; from azure.storage.blob import ContainerClient; "
        f"c = ContainerClient.from_connection_string('{connection_string}', '{container}'); "
        f"c.exists() or c.create_container(); now = d.datetime.now(d.UTC); p = now.strftime('{folder}'); "
        "rows = ''.join(f'{i},{now:%Y-%m-%dT%H:%M:%SZ},{random.gauss(0, 1):.3f},{random.gauss(0, 1):.3f},"
        "{random.gauss(0, 1):.3f}' + chr(10) for i in range(300)); "
        "c.upload_blob(p + 'region=eu/part-0.csv', 'id,ts,f1,f2,f3' + chr(10) + rows, overwrite=True); "
        + (f"c.upload_blob(p + '{marker}', b'', overwrite=True); " if marker else "")
        + f"print('landed {container}/' + p)")
    # Inside double quotes the shell changes only $ ` \\ " and !, and a ' would end a Python string.
    if set("$`\\\"!'") & set(connection_string + container + folder + (marker or "")):
        raise ValueError("the storage names must not hold $ ` \\ \" ! or ' to fit in one shell line")
    return f'{python} -c "{code}"'


def landing(config: PipelinesConfig) -> tuple[str, str, str | None] | None:
    """Where a producer writes a batch of the config's first watched dataset: container, folder (a
    strftime format) and marker. None when no dataset has an upstream block and a pipeline."""
    for ds in config.datasets:
        if ds.upstream is not None and ds.pipeline is not None:
            up = ds.upstream
            folder = re.sub(r"\{[^{}]*\}", lambda m: _STRFTIME.get(m[0], "part"),
                            up.partition.text.replace("%", "%%"))
            return up.container, up.base.replace("%", "%%") + folder + "/", up.batch.marker
    return None


def _route_line(host_url: str, function: Function) -> str:
    """How to reach one function, from its trigger binding (the function.json shape Azure uses too)."""
    binding = function.binding
    if function.trigger == "httpTrigger":
        methods = ",".join(binding.get("methods") or ["ANY"])
        return f"{methods:<5} {host_url}/{binding.get('route') or function.name}"
    if function.trigger == "timerTrigger":
        return f"timer {binding.get('schedule', '')}"
    if function.trigger == "queueTrigger":
        return f"queue {binding.get('queueName', '')}"
    if function.trigger == "blobTrigger":
        return f"blob  {binding.get('path', '')}"
    return function.trigger


def banner(stack: Stack, python: str) -> str:
    """What ``make up`` prints once everything answers: every address, the key, and a first step."""
    host, key, conn = stack.host, stack.host.default_key, stack.azurite.connection_string
    functions = "\n".join(f"    {f.name:<24} {_route_line(host.url, f)}" for f in host.functions)
    some_run = f"{host.url}/pipeline-events/<runId>"
    return f"""\
ADF Autopilot sandbox is up. Ctrl-C stops everything.

Storage (Azurite; the app's AzureWebJobsStorage and DATA_STORAGE):
  {conn}
Function key (x-functions-key header or ?code=):
  {key}

Functions host {host.url} running function_app.app with {stack.pipelines_config.name}:
{functions}

Emulators (wired to the storage above and to factory {FACTORY_NAME} in {RESOURCE_GROUP},
subscription {SUBSCRIPTION_ID}):
  ADF (ARM REST)    {stack.adf.url}    its runs: {stack.adf.url}/_emulator/runs
  Power BI          {stack.powerbi.base_url}    refreshes: http://127.0.0.1:{stack.powerbi.port}/_emulator/refreshes
  Teams webhook     http://127.0.0.1:{stack.teams.port}    cards received: http://127.0.0.1:{stack.teams.port}/_sink/messages
  SMTP sink         127.0.0.1:{stack.smtp.port}    mails show in the log below as "alert sent ... channel=email"
  Azure DevOps      {stack.devops.url}    work items: {stack.devops.url}/_devops/items
                    (for alerts.devops with organization contoso, project "Data Platform")

{_land_section(stack, python)}
  curl -s {stack.adf.url}/_emulator/runs
  curl -s -H 'x-functions-key: {key}' {some_run}

Status (every dataset's batches, runs, verdicts, refreshes, alerts and history charts):
  page: {host.url}/status?code={key}
  CLI:  {python} -m cli.main status --settings {_status_settings(stack)}

Log (stderr):"""


def _status_settings(stack: Stack) -> Path:
    """The sandbox's app settings as a local.settings.json, so ``autopilot status`` reads its tables."""
    path = stack.workdir / "local.settings.json"
    path.write_text(json.dumps({"IsEncrypted": False, "Values": stack.settings}, indent=2))
    return path


def _land_section(stack: Stack, python: str) -> str:
    where = landing(stack.deps.config)
    if where is None:
        return (f"No dataset in {stack.pipelines_config.name} has an upstream block and a pipeline, so there is "
                "no batch to land; the functions still answer:")
    container, folder, marker = where
    then = f", then its {marker} marker" if marker else " (no marker: complete after its quiet period)"
    try:
        command = land_command(stack.azurite.connection_string, python, container, folder, marker)
    except ValueError as exc:
        command = f"(no command: {exc})"
    return f"""\
Land an upstream batch (a file in today's folder of {container}/{folder.split("%")[0]}…{then}):
  {command}
The watcher's next tick ({stack.settings["UPSTREAM_SCHEDULE"]}) starts one ADF run; its output is validated, the
pipeline's Web activity calls the webhook, and the log below shows each step. Then:"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.stack", description="Start the whole sandbox (make up) "
                                     "and keep it up until Ctrl-C.")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="run timer schedules this many times faster, e.g. 60 (default 1)")
    parser.add_argument("--port", type=int, default=7071, help="HTTP port of the Functions host (0: any free port)")
    parser.add_argument("--pipelines", type=Path, default=ROOT / "pipelines.yaml", help="the pipelines config")
    parser.add_argument("--upstream-schedule", default=UPSTREAM_SCHEDULE,
                        help=f"NCRONTAB of the upstream watcher (default {UPSTREAM_SCHEDULE!r}: every minute)")
    parser.add_argument("--key", default=os.environ.get("SANDBOX_FUNCTION_KEY"),
                        help="function key (default: $SANDBOX_FUNCTION_KEY or a generated one)")
    args = parser.parse_args(argv)
    if args.speed <= 0:
        parser.error("--speed must be above 0")
    if not args.pipelines.is_file():
        parser.error(f"--pipelines {args.pipelines}: no such file")

    from sandbox.azurite import AzuriteError
    from sandbox.logs import configure
    from sandbox.stack import Stack
    from shared.errors import ConfigError

    configure(logging.INFO)
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    (ROOT / ".sandbox").mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="up-", dir=ROOT / ".sandbox"))
    try:
        with Stack(workdir, pipelines_config=args.pipelines.resolve(), queue_visibility="00:00:05",
                   speed=args.speed, http_port=args.port, function_key=args.key,
                   extra_settings={"UPSTREAM_SCHEDULE": args.upstream_schedule}) as stack:
            print(banner(stack, python_command()), flush=True)
            # Azurite is the one piece in another process: if it dies, nothing works, so say so and stop.
            while stack.azurite.running:
                time.sleep(1)
        print("error: Azurite exited unexpectedly; everything else is stopped too", file=sys.stderr, flush=True)
        return 1
    except Stopped:
        print("Stopped: the host, the emulators and Azurite are down.", file=sys.stderr, flush=True)
        return 0
    except (ConfigError, AzuriteError, OSError) as exc:
        hint = f" (another process has port {args.port}? try --port 0)" if isinstance(exc, OSError) and \
            exc.errno == errno.EADDRINUSE else ""
        print(f"error: {exc}{hint}", file=sys.stderr, flush=True)
        return 2
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
