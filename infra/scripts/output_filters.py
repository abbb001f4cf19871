"""Event Grid subject filters for the output guard's subscription, from the pipelines config.

Prints one JSON object: ``begins`` (the subject prefixes of every dataset's output location) and
``excludes`` (where validation reports are written, so the guard never validates its own reports).
Exit 2, naming the datasets, when an output container is not the one the blob trigger watches.

    python infra/scripts/output_filters.py --config pipelines.yaml --container outputs
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def subject(container: str, path: str) -> str:
    return f"/blobServices/default/containers/{container}/blobs/{path}"


def folder(prefix: str) -> str:
    prefix = prefix.strip("/")
    return prefix + "/" if prefix else ""


def filters(config_path: Path, container: str) -> dict[str, list[str]]:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from shared.config import load_pipelines

    config = load_pipelines(config_path)
    outputs = [ds for ds in config.datasets if ds.output is not None]
    elsewhere = sorted(ds.name for ds in outputs if ds.output and ds.output.container != container)
    if elsewhere:
        raise ValueError(
            f"datasets {elsewhere} write outputs outside container {container!r}, the only "
            "one the output guard's blob trigger (%OUTPUT_CONTAINER%) watches"
        )
    begins: list[str] = []
    excludes: list[str] = []
    for ds in outputs:
        assert ds.output is not None
        base = folder(ds.output.prefix)
        begins.append(subject(container, base))
        reports = folder(ds.output.reports_prefix)
        if reports:
            # Reports may be placed under the dataset's prefix or at the container root.
            excludes += [subject(container, base + reports), subject(container, reports)]
    if any(b == subject(container, "") for b in begins):
        begins = [subject(container, "")]
    return {"begins": sorted(set(begins)), "excludes": sorted(set(excludes))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--container", required=True)
    args = parser.parse_args(argv)
    try:
        result = filters(args.config, args.container)
    except Exception as exc:  # ConfigError or the container mismatch: one readable line, no traceback
        sys.stderr.write(f"output_filters: {exc}\n")
        return 2
    if not result["begins"]:
        sys.stderr.write(f"output_filters: {args.config} declares no dataset output; nothing to watch\n")
        return 2
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
