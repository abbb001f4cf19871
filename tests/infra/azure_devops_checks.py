"""Offline checks of azure-pipelines.yml (and its templates): a test stage that runs what .ci/run runs,
then dev → test → prod deployment jobs bound to Azure DevOps environments, one package, a workload
identity federation service connection, and each stage's own parameters."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.infra.pipeline_checks import (
    APPROVED_STAGES,
    STAGES,
    Job,
    as_dict,
    as_list,
    azd_problems,
    azure_files,
    ci_targets,
    expand,
    load_yaml,
    loader_stages,
    make_target_problems,
    make_targets,
    stored_credential_problems,
    toolchain_problems,
)


def expand_steps(steps: list[Any], folder: Path, root: Path, depth: int = 0) -> list[dict[str, Any]]:
    """Steps with `- template: FILE` replaced by that file's steps (paths relative to the includer)."""
    out: list[dict[str, Any]] = []
    for step in steps:
        step = as_dict(step)
        if "template" in step and depth < 5:
            path = folder / str(step["template"])
            data = as_dict(expand(path, as_dict(step.get("parameters")), "parameters")) if path.is_file() else {}
            out += expand_steps(as_list(data.get("steps")), path.parent, root, depth + 1)
        else:
            out.append(step)
    return out


def stage_jobs(stage: dict[str, Any], root: Path) -> list[Job]:
    """The jobs of a stage, job templates expanded, with the steps a deployment job runs."""
    jobs: list[Job] = []
    for entry in as_list(stage.get("jobs")):
        entry = as_dict(entry)
        folder = root
        if "template" in entry:
            path = root / str(entry["template"])
            if not path.is_file():
                continue
            folder = path.parent
            found = as_list(as_dict(expand(path, as_dict(entry.get("parameters")), "parameters")).get("jobs"))
        else:
            found = [entry]
        for job in map(as_dict, found):
            name = job.get("deployment") or job.get("job") or "?"
            strategy = as_dict(as_dict(as_dict(job.get("strategy")).get("runOnce")).get("deploy"))
            steps = as_list(job.get("steps")) or as_list(strategy.get("steps"))
            where = f"azure-pipelines.yml stage {stage.get('stage')} job {name}"
            jobs.append(Job(where, job, expand_steps(steps, folder, root)))
    return jobs


def resolve(value: Any, variables: dict[str, Any]) -> str:
    return re.sub(r"\$\((\w+)\)", lambda m: str(variables.get(m.group(1), m.group(0))), str(value or ""))


def environment_name(job: Job) -> str:
    env = job.data.get("environment")
    return str(as_dict(env).get("name", "")) if isinstance(env, dict) else str(env or "")


def published_artifacts(jobs: list[Job]) -> set[str]:
    names = set()
    for job in jobs:
        for step in job.steps:
            if "publish" in step:
                names.add(str(step.get("artifact", "")))
        for step in job.uses("PublishPipelineArtifact"):
            inputs = as_dict(step.get("inputs"))
            names.add(str(inputs.get("artifact") or inputs.get("artifactName") or ""))
    return names - {""}


def azure_devops_problems(root: Path) -> list[str]:
    path = root / "azure-pipelines.yml"
    if not path.is_file():
        return ["azure-pipelines.yml: missing"]
    pipeline = as_dict(load_yaml(path))
    variables = as_dict(pipeline.get("variables"))
    stages = [as_dict(s) for s in as_list(pipeline.get("stages"))]
    problems = []
    if pipeline.get("trigger") in (None, "", "none"):
        problems.append("azure-pipelines.yml: pushes do not run the tests (no `trigger:`)")
    if "pr" not in pipeline:
        problems.append("azure-pipelines.yml: pull requests do not run the tests (no `pr:` trigger)")
    if pipeline.get("lockBehavior") != "sequential":
        problems.append("azure-pipelines.yml: lockBehavior is not sequential (a run could deploy past an "
                        "earlier run waiting on the same environment)")
    jobs = {str(s.get("stage")): stage_jobs(s, root) for s in stages}
    for stage_jobs_ in jobs.values():
        for job in stage_jobs_:
            problems += make_target_problems(job, root, exact=False)

    # The test stage: the first one, running exactly what .ci/run runs.
    test_stage = next((name for name, js in jobs.items() if any(make_targets(j.script_text()) == ci_targets(root)
                                                                  for j in js)), None)
    if test_stage is None:
        problems.append(f"azure-pipelines.yml: no stage runs what CI runs (make {' '.join(ci_targets(root))})")
    else:
        for job in jobs[test_stage]:
            if make_targets(job.script_text()) == ci_targets(root):
                python = " ".join(resolve(as_dict(s.get("inputs")).get("versionSpec"), variables)
                                  for s in job.uses("UsePythonVersion"))
                node = " ".join(resolve(as_dict(s.get("inputs")).get("versionSpec"), variables)
                                for s in job.uses("NodeTool"))
                problems += toolchain_problems(job, python, node)

    deploys: dict[str, tuple[dict[str, Any], Job]] = {}
    for stage in stages:
        for job in jobs[str(stage.get("stage"))]:
            if "azd provision" in job.script_text() or "azd up" in job.script_text():
                key = (loader_stages(job) or [environment_name(job)])[0]
                deploys.setdefault(key, (stage, job))
    previous = test_stage
    for name in STAGES:
        if name not in deploys:
            problems.append(f"azure-pipelines.yml: no stage deploys {name} (azd provision with "
                            f"infra/environments/{name}.env)")
            continue
        stage, job = deploys[name]
        where = job.where
        if "deployment" not in job.data or not environment_name(job):
            why = "its approval check holds the promotion" if name in APPROVED_STAGES else "its history and lock"
            problems.append(f"{where}: deploys {name} in a plain job, not a deployment job bound to an "
                            f"environment ({why})")
        elif not re.search(rf"(^|[-_.]){name}$", environment_name(job)):
            problems.append(f"{where}: deploys {name} through environment {environment_name(job)!r}")
        if previous and previous not in as_list(stage.get("dependsOn")):
            problems.append(f"{where}: stage {stage.get('stage')} does not depend on stage {previous} "
                            "(promotion skips a stage)")
        previous = str(stage.get("stage"))
        clis = job.uses("AzureCLI")
        if not clis or not all(as_dict(s.get("inputs")).get("azureSubscription") for s in clis):
            problems.append(f"{where}: azd does not run in AzureCLI@2 with a service connection")
        for step in clis:
            if as_dict(step.get("env")).get("SYSTEM_ACCESSTOKEN") != "$(System.AccessToken)":
                problems.append(f"{where}: SYSTEM_ACCESSTOKEN is not mapped from $(System.AccessToken): azd cannot "
                                "get the service connection's federated token")
        problems += azd_problems(job, name, "azure-pipelines")
        downloads = {str(s.get("artifact", "")) for s in job.steps if s.get("download") == "current"}
        built = published_artifacts([j for s, js in jobs.items() if s != stage.get("stage") for j in js])
        if not downloads & built:
            problems.append(f"{where}: does not download the package an earlier stage published")
        if "azd package" in job.script_text():
            problems.append(f"{where}: builds its own package instead of deploying the one built once")
    for file in azure_files(root):
        if file.is_file():
            problems += stored_credential_problems(file, root)
    return problems
