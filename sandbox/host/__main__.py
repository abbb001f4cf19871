"""``python -m sandbox.host --settings local.settings.json``: run ``function_app.app`` until Ctrl-C."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from shared.errors import ConfigError

DEVELOPMENT_STORAGE = "UseDevelopmentStorage=true"


def read_settings(path: Path) -> dict[str, str]:
    """The ``Values`` of a local.settings.json (the same reader as the CLI's)."""
    from shared import local_settings

    return local_settings.read(path)


def load_app(target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    sys.path.insert(0, os.getcwd())
    module = importlib.import_module(module_name)
    return getattr(module, attribute or "app")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.host",
                                     description="Run a Functions app locally until Ctrl-C.")
    parser.add_argument("--settings", type=Path, default=Path("local.settings.json"),
                        help="local.settings.json whose Values are the app settings")
    parser.add_argument("--app", default="function_app:app", help="module:attribute of the FunctionApp")
    parser.add_argument("--host-json", type=Path, default=Path("host.json"))
    parser.add_argument("--port", type=int, default=7071, help="HTTP port (0: any free port)")
    parser.add_argument("--speed", type=float, default=1.0, help="timer clock speed-up, e.g. 60")
    parser.add_argument("--key", default=os.environ.get("SANDBOX_FUNCTION_KEY"),
                        help="host key for function-level routes (default: $SANDBOX_FUNCTION_KEY or a "
                             "generated one)")
    parser.add_argument("--azurite", action="store_true",
                        help=f"start Azurite too; settings equal to {DEVELOPMENT_STORAGE} point at it")
    args = parser.parse_args(argv)
    from sandbox.azurite import Azurite, AzuriteError
    from sandbox.host import LocalHost
    from sandbox.logs import configure

    configure(logging.INFO)

    azurite: Azurite | None = None
    try:
        settings = read_settings(args.settings)
        if args.azurite:
            azurite = Azurite(Path(__file__).resolve().parents[2] / ".sandbox" / "azurite").start()
            settings = {k: azurite.connection_string if v == DEVELOPMENT_STORAGE else v
                        for k, v in settings.items()}
            settings.setdefault("AzureWebJobsStorage", azurite.connection_string)
        host = LocalHost(load_app(args.app), settings,
                         host_json=args.host_json if args.host_json.exists() else None,
                         http_port=args.port, speed=args.speed,
                         keys={"default": args.key} if args.key else None).start()
    except (ConfigError, AzuriteError, OSError, ImportError, AttributeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        if azurite is not None:
            azurite.stop()
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        for function in host.functions:
            where = f"{host.url}/{function.extra['route']}" if function.trigger == "httpTrigger" else ""
            print(f"  {function.name}: {function.trigger} {where}".rstrip(), file=sys.stderr)
        if azurite is not None:
            print(f"Azurite (settings that were {DEVELOPMENT_STORAGE}): {azurite.connection_string}",
                  file=sys.stderr)
        print(f"Function key (x-functions-key): {host.default_key}\nCtrl-C stops the host.",
              file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        host.stop()
        if azurite is not None:
            azurite.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
