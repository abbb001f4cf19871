"""``autopilot config push FILE``: validate a pipelines config and upload it as the app's live config.

The destination is the blob ``PIPELINES_CONFIG`` names (``blob://container/path.yaml`` in the app
storage), from ``--settings`` or the environment. The file is checked exactly as the app checks it
(file, line and field for every problem, and against the app settings); nothing is uploaded unless it
is valid. The app picks the new version up within seconds, at its next invocation.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EXIT_CANNOT_RUN = 3


def fetch_blob(settings: Any, container: str, name: str) -> str:
    """The live config's text, read as the app reads it (the app storage)."""
    from shared.adapters.storage import AzureBlobStore
    from shared.errors import ConfigError, ExternalError

    try:
        return AzureBlobStore(settings.app_storage).read_bytes(container, name).decode("utf-8-sig")
    except (ExternalError, UnicodeDecodeError) as exc:
        raise ConfigError([f"PIPELINES_CONFIG: blob://{container}/{name} cannot be read: {exc}"],
                          "app settings") from exc


def push(args: argparse.Namespace) -> int:
    from cli.main import environment
    from shared import config
    from shared.adapters.storage import AzureBlobStore
    from shared.errors import ConfigError
    from shared.settings import load_settings

    settings = load_settings(environment(args.settings))
    target = config.blob_location(settings.pipelines_config)
    if target is None:
        raise ConfigError([f"PIPELINES_CONFIG: {settings.pipelines_config!r} is a file in the app package; "
                           "set it to blob://<container>/<path>.yaml to use a live config"], "app settings")
    text = config.read_text(Path(args.file), "pipelines config")
    pipelines = config.checked(settings, text, str(args.file))
    info = AzureBlobStore(settings.app_storage).write_bytes(*target, text.encode("utf-8"),
                                                            content_type="application/yaml")
    print(f"pushed {args.file} ({len(pipelines.datasets)} dataset(s)) to {settings.pipelines_config} "
          f"(version {info.etag}); the app uses it from its next invocation", file=sys.stderr)
    return 0
