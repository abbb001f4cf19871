"""The pipelines config's rules that span fields, one function per block; ``spec.check`` applies them."""

from __future__ import annotations

import string
from datetime import timedelta

from shared.core.spec import PARAMETER_FIELDS, DatasetSpec, DevOpsRoute, PipelineSpec, StalenessSpec
from shared.core.typed import Path, Problem


def check_fabric_items(datasets: tuple[DatasetSpec, ...]) -> list[Problem]:
    """The Fabric runner knows a pipeline by its name: one name must mean one item."""
    out: list[Problem] = []
    items: dict[str, tuple[str, str]] = {}
    for j, ds in enumerate(datasets):
        if ds.pipeline is None or ds.pipeline.engine != "fabric":
            continue
        first = items.setdefault(ds.pipeline.name, (ds.pipeline.item, ds.name))
        if first[0] != ds.pipeline.item:
            out.append(Problem(("datasets", j, "pipeline", "item"),
                               f"Fabric pipeline {ds.pipeline.name!r} is item {first[0]!r} in dataset {first[1]!r}; "
                               "one pipeline name must name one item (rename one of them)"))
    return out


def check_output_prefixes(datasets: tuple[DatasetSpec, ...]) -> list[Problem]:
    """Two datasets whose output prefixes nest would both claim a file: which contract judges it?"""
    out = []
    for j, ds in enumerate(datasets):
        for other in datasets[:j]:
            if ds.output is None or other.output is None or ds.output.container != other.output.container:
                continue
            a, b = ds.output.base, other.output.base
            if a.startswith(b) or b.startswith(a):
                shown = f"{ds.output.prefix!r}" if a else "'' (the whole container)"
                out.append(Problem(("datasets", j, "output", "prefix"),
                                   f"output prefix {shown} overlaps the output prefix {other.output.prefix!r} "
                                   f"of dataset {other.name!r} in container {ds.output.container!r}; a file there "
                                   "would belong to both: give each dataset its own folder"))
    return out


def check_staleness(spec: StalenessSpec, at: Path) -> list[Problem]:
    out = []
    if spec.late_factor < 1:
        out.append(Problem((*at, "late_factor"), "must be 1 or more (1.5 = late after 1.5 cadences)"))
    if spec.learn_after < 2:
        out.append(Problem((*at, "learn_after"), "must be 2 or more arrivals"))
    if spec.cadence is not None and spec.cadence <= timedelta(0):
        out.append(Problem((*at, "cadence"), "must be longer than 0"))
    return out


def check_pipeline(spec: PipelineSpec, at: Path) -> list[Problem]:
    out = []
    formatter = string.Formatter()
    for name, template in spec.parameters.items():
        try:
            fields = [f for _, f, _, _ in formatter.parse(template) if f is not None]
        except ValueError as exc:
            out.append(Problem((*at, "parameters", name), f"template {template!r} is malformed: {exc}"))
            continue
        unknown = [f for f in fields if f not in PARAMETER_FIELDS]
        if unknown:
            out.append(Problem((*at, "parameters", name),
                               f"unknown placeholder(s) {', '.join('{' + f + '}' for f in unknown)}; "
                               f"use {', '.join('{' + f + '}' for f in PARAMETER_FIELDS)}"))
    if "{batch_id}" not in spec.parameters.values():
        out.append(Problem((*at, "parameters"), "one parameter must be exactly '{batch_id}' so runs can "
                           "be matched to batches after a crash (e.g. batchId: '{batch_id}')"))
    if spec.concurrency.max_runs < 1:
        out.append(Problem((*at, "concurrency", "max_runs"), "must be 1 or more"))
    if spec.engine == "fabric" and not spec.item.strip():
        out.append(Problem((*at, "item"), "a Fabric pipeline needs its item id (the Data pipeline's id in the "
                           "workspace, from its URL: .../pipelines/<item id>)"))
    if spec.engine != "fabric" and spec.item:
        out.append(Problem((*at, "item"), f"item is the Fabric item id; engine {spec.engine!r} runs pipelines "
                           "by name (set engine: fabric, or remove item)"))
    return out


def check_devops(route: DevOpsRoute, at: Path) -> list[Problem]:
    """Names that go into a URL path or a work item field: a slip here fails every delivery later."""
    out = []
    if not route.organization or not all(c.isalnum() or c in "-_." for c in route.organization):
        out.append(Problem((*at, "organization"), f"{route.organization!r} is not an Azure DevOps organization "
                           "name (letters, digits, - _ .; the part after https://dev.azure.com/)"))
    if not route.project.strip() or any(c in route.project for c in "/\\?#%&*:<>|\"+"):
        out.append(Problem((*at, "project"), f"{route.project!r} is not an Azure DevOps project name"))
    if any(";" in t or not t.strip() for t in route.tags):
        out.append(Problem((*at, "tags"), "a tag may not be empty or contain ';'"))
    return out
