"""Offline checks of .github/workflows/: CI runs what .ci/run runs; deploys promote one package
dev → test → prod through GitHub environments, log in with OIDC, and read each stage's own parameters."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.infra.pipeline_checks import (
    APPROVED_STAGES,
    STAGES,
    Job,
    as_dict,
    as_list,
    azd_problems,
    ci_targets,
    expand,
    github_files,
    load_yaml,
    loader_stages,
    make_target_problems,
    make_targets,
    stored_credential_problems,
    toolchain_problems,
)

# The first major version of each action the workflows use that runs on node24: GitHub retired the
# node20 action runtime in September 2026, so an older major no longer starts on its runners.
# (Read off actionlint's table of popular actions, by hand; actionlint itself is not installable here.)
NODE24_SINCE = {
    "actions/checkout": 5,
    "actions/setup-python": 6,
    "actions/setup-node": 5,
    "actions/upload-artifact": 6,
    "actions/download-artifact": 7,
    "azure/login": 3,
}


@dataclass
class Placed:
    """A job as it runs, with the job of the workflow that started it (itself, or the caller of a
    reusable workflow) and that workflow's name: `needs` and triggers belong to those."""

    job: Job
    workflow: str
    caller_id: str
    caller: dict[str, Any]
    permissions: Any  # the permissions the job runs with, after the caller's and the workflow's


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    on = workflow.get("on", {})
    if isinstance(on, str):
        return {on: {}}
    if isinstance(on, list):
        return {name: {} for name in on}
    return {name: as_dict(value) for name, value in as_dict(on).items()}


def placed_jobs(root: Path) -> Iterator[Placed]:
    for path in github_files(root):
        workflow = as_dict(load_yaml(path))
        if set(triggers(workflow)) == {"workflow_call"}:
            continue  # a reusable workflow runs as its callers' jobs, placed there
        for job_id, job in as_dict(workflow.get("jobs")).items():
            job = as_dict(job)
            uses = str(job.get("uses", ""))
            outer = job.get("permissions", workflow.get("permissions"))
            if uses.startswith("./.github/workflows/"):
                called_path = root / uses[2:]
                if not called_path.is_file():
                    continue
                called = as_dict(expand(called_path, as_dict(job.get("with")), "inputs"))
                for inner_id, inner in as_dict(called.get("jobs")).items():
                    inner = as_dict(inner)
                    # A called workflow's job gets at most what its caller grants.
                    perms = inner.get("permissions", called.get("permissions"))
                    perms = perms if outer is None else (outer if perms is None else narrower(outer, perms))
                    where = f"{path.name} job {job_id} ({called_path.name} job {inner_id})"
                    yield Placed(Job(where, inner, as_list(inner.get("steps"))), path.name, job_id, job, perms)
            else:
                where = f"{path.name} job {job_id}"
                yield Placed(Job(where, job, as_list(job.get("steps"))), path.name, job_id, job, outer)


def narrower(outer: Any, inner: Any) -> dict[str, str]:
    outer, inner = as_dict(outer), as_dict(inner)
    return {k: v for k, v in inner.items() if outer.get(k) == v or (outer.get(k) == "write" and v == "read")}


def needs_closure(workflow: dict[str, Any], job_id: str) -> set[str]:
    jobs = as_dict(workflow.get("jobs"))
    seen: set[str] = set()
    todo = [job_id]
    while todo:
        for need in as_list(as_dict(jobs.get(todo.pop())).get("needs")):
            if need not in seen:
                seen.add(need)
                todo.append(need)
    return seen


def environment_name(job: Job) -> str:
    env = job.data.get("environment")
    return str(as_dict(env).get("name", "")) if isinstance(env, dict) else str(env or "")


def is_test_job(placed: Placed, root: Path) -> bool:
    return make_targets(placed.job.script_text()) == ci_targets(root)


def ci_problems(root: Path) -> list[str]:
    """Every push and pull request runs the make targets of .ci/run, on Python 3.13 and Node 20."""
    problems = []
    placed = list(placed_jobs(root))
    tests = [p for p in placed if is_test_job(p, root)]
    if not tests:
        problems.append(f"no workflow job runs what CI runs (make {' '.join(ci_targets(root))}, .ci/run)")
    for p in placed:
        problems += make_target_problems(p.job, root, exact=False)
    for p in tests:
        python = " ".join(str(as_dict(s.get("with")).get("python-version", ""))
                          for s in p.job.uses("actions/setup-python"))
        node = " ".join(str(as_dict(s.get("with")).get("node-version", "")) for s in p.job.uses("actions/setup-node"))
        problems += toolchain_problems(p.job, python, node)
    on_ci = {p.workflow: triggers(as_dict(load_yaml(root / ".github" / "workflows" / p.workflow))) for p in tests}
    for event in ("push", "pull_request"):
        if not any(event in on for on in on_ci.values()):
            problems.append(f"the tests do not run on every {event}: no workflow running them is triggered by {event}")
    return problems


def deploy_problems(root: Path) -> list[str]:
    """dev → test → prod, each behind its GitHub environment, one package, OIDC, its own parameters."""
    problems = []
    placed = list(placed_jobs(root))
    deploys = [p for p in placed if "azd provision" in p.job.script_text() or "azd up" in p.job.script_text()]
    by_stage: dict[str, Placed] = {}
    for p in deploys:
        stages = loader_stages(p.job) or [environment_name(p.job)]
        by_stage.setdefault(stages[0], p)
    for i, stage in enumerate(STAGES):
        p = by_stage.get(stage)
        if p is None:
            problems.append(f"no workflow job deploys {stage} (azd provision with infra/environments/{stage}.env)")
            continue
        job, where = p.job, p.job.where
        workflow = as_dict(load_yaml(root / ".github" / "workflows" / p.workflow))
        if environment_name(job) != stage:
            why = "its required reviewers approve the promotion" if stage in APPROVED_STAGES else "its variables"
            problems.append(f"{where}: deploys {stage} without the GitHub environment {stage!r} ({why})")
        concurrency = as_dict(job.data.get("concurrency"))
        if stage not in str(concurrency.get("group", "")) or concurrency.get("cancel-in-progress") != "false":
            problems.append(f"{where}: no concurrency group of its own for {stage} with cancel-in-progress: false "
                            "(two deploys of one environment could overlap)")
        if as_dict(p.permissions).get("id-token") != "write":
            problems.append(f"{where}: runs without `permissions: id-token: write`, so it cannot get an OIDC token")
        logins = job.uses("azure/login")
        if not logins:
            problems.append(f"{where}: the Azure CLI (the postdeploy hook's) is not logged in with azure/login")
        for login in logins:
            given = as_dict(login.get("with"))
            missing = [k for k in ("client-id", "tenant-id", "subscription-id") if not given.get(k)]
            if missing or set(given) - {"client-id", "tenant-id", "subscription-id", "allow-no-subscriptions"}:
                problems.append(f"{where}: azure/login must log in with OIDC: client-id, tenant-id and "
                                f"subscription-id only (got {sorted(given)})")
        problems += azd_problems(job, stage, "github")
        before = needs_closure(workflow, p.caller_id)
        if i == 0:
            tested = [q for q in placed if q.workflow == p.workflow and q.caller_id in before and is_test_job(q, root)]
            if not tested:
                targets = " ".join(ci_targets(root))
                problems.append(f"{where}: deploys {stage} without needing the tests (make {targets})")
        else:
            previous = by_stage.get(STAGES[i - 1])
            if previous is not None and previous.caller_id not in as_list(p.caller.get("needs")):
                problems.append(f"{where}: deploys {stage} without needing the {STAGES[i - 1]} deploy "
                                f"(job {previous.caller_id}): promotion skips a stage")
        problems += artifact_problems(p, placed, before)
    on = {p.workflow: triggers(as_dict(load_yaml(root / ".github" / "workflows" / p.workflow))) for p in deploys}
    for name, events in on.items():
        if "main" not in as_list(as_dict(events.get("push")).get("branches")):
            problems.append(f"{name}: does not deploy on a push to main")
    return problems


def artifact_problems(p: Placed, placed: list[Placed], before: set[str]) -> list[str]:
    """Every stage deploys the artifact one earlier job built: downloaded by name, never rebuilt."""
    names = [str(as_dict(s.get("with")).get("name", "")) for s in p.job.uses("actions/download-artifact")]
    built = {
        str(as_dict(s.get("with")).get("name", "")): q.caller_id
        for q in placed
        if q.workflow == p.workflow
        for s in q.job.uses("actions/upload-artifact")
    }
    if not any(name and built.get(name) in before for name in names):
        return [f"{p.job.where}: does not download the package an earlier job of {p.workflow} uploaded"]
    if "azd package" in p.job.script_text():
        return [f"{p.job.where}: builds its own package instead of deploying the one built once"]
    return []


def action_problems(root: Path) -> list[str]:
    """Every action is one the runners still start, referenced by a version."""
    problems = []
    for path in github_files(root):
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            m = re.match(r"\s*(?:-\s*)?uses:\s*([\w.-]+/[\w.-]+)(?:@(\S+))?", line)
            if not m or m.group(1).startswith("./"):
                continue
            action, ref = m.group(1), m.group(2) or ""
            major = re.fullmatch(r"v(\d+)(?:\.\d+)*", ref)
            if not ref:
                problems.append(f"{path.name}:{lineno}: {action} without a version")
            elif major and int(major.group(1)) < NODE24_SINCE.get(action.lower(), 0):
                problems.append(f"{path.name}:{lineno}: {action}@{ref} runs on node20, which GitHub's runners no "
                                f"longer start; use @v{NODE24_SINCE[action.lower()]} or later")
    return problems


def github_problems(root: Path) -> list[str]:
    problems = ci_problems(root) + deploy_problems(root) + action_problems(root)
    for path in github_files(root):
        problems += stored_credential_problems(path, root)
    return problems
