"""Offline checks of the promotion pipelines: .github/workflows/, azure-pipelines.yml (and its templates
in .azure-pipelines/) and the stages' parameter files infra/environments/<stage>.env.

Like infra_checks, every check takes a root folder and returns a list of problems (empty: fine), so a
test can assert the clean tree and show that a broken scratch copy is caught. YAML is read with every
scalar as a string (PyYAML's BaseLoader), as Azure DevOps reads it, and so that GitHub's `on:` stays
a key instead of YAML 1.1's `true`. Templates and reusable workflows are expanded the simple way the
pipelines do: `${{ parameters.X }}` / `${{ inputs.X }}` are replaced by the caller's values.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.infra.infra_checks import SECRET_PATTERNS, parse_bicep

STAGES = ("dev", "test", "prod")
# Stages a person approves (required reviewers on the GitHub environment, an approval check on the
# Azure DevOps one). dev deploys every green main.
APPROVED_STAGES = ("test", "prod")
ENV_FILE_KEYS_AZD_OWNS = ("AZURE_ENV_NAME", "AZURE_LOCATION", "AZURE_SUBSCRIPTION_ID")
LOADER = "infra/scripts/azd_environment.sh"

# Ways a long-lived secret gets into a pipeline. OIDC / workload identity federation needs none.
STORED_CREDENTIALS = (
    (re.compile(r"\bsecrets\.(?!GITHUB_TOKEN\b)[A-Za-z_][A-Za-z0-9_]*"), "a stored GitHub secret"),
    (re.compile(r"(?i)client[-_]?secret"), "a client secret"),
    (re.compile(r"(?i)servicePrincipalKey"), "the service principal's key"),
    (re.compile(r"^\s*creds\s*:", re.MULTILINE), "azure/login `creds` (a JSON credential with a secret)"),
    (re.compile(r"(?i)AZURE_CREDENTIALS"), "AZURE_CREDENTIALS"),
    (re.compile(r"--password\b|(?i:\bpassword\s*:)"), "a password"),
)


def load_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)  # BaseLoader: every scalar a string


def expand(path: Path, values: Mapping[str, str], prefix: str) -> Any:
    """A template or reusable workflow with `${{ <prefix>.NAME }}` replaced by the caller's values."""
    text = path.read_text(encoding="utf-8")
    for name, value in values.items():
        text = re.sub(r"\$\{\{\s*" + re.escape(f"{prefix}.{name}") + r"\s*\}\}", value, text)
    return yaml.load(text, Loader=yaml.BaseLoader)


def make_targets(script: str) -> list[str]:
    """The targets of every `make` command line in a shell script (variables and options left out)."""
    targets = []
    for line in script.splitlines():
        line = line.split("#", 1)[0]
        for command in re.split(r"&&|\|\||;|\|", line):
            words = command.split()
            if words[:1] == ["make"]:
                targets += [w for w in words[1:] if not w.startswith("-") and "=" not in w]
    return targets


def ci_targets(root: Path) -> list[str]:
    """What CI runs: the make targets of .ci/run."""
    return make_targets((root / ".ci" / "run").read_text(encoding="utf-8"))


def makefile_targets(root: Path) -> set[str]:
    text = (root / "Makefile").read_text(encoding="utf-8")
    return {m.group(1) for m in re.finditer(r"^([A-Za-z][\w-]*)\s*:(?!=)", text, re.MULTILINE)}


def stored_credential_problems(path: Path, root: Path) -> list[str]:
    problems = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        code = re.sub(r"(^|\s)#.*$", "", line)  # a comment may say what is not there
        for pattern, what in (*STORED_CREDENTIALS, *SECRET_PATTERNS):
            if pattern.search(code):
                problems.append(f"{path.relative_to(root)}:{lineno}: {what}")
    return problems


# --- a job, wherever it is written ---------------------------------------------------------------


@dataclass
class Job:
    """One job as it runs: its steps, env and the scripts it runs, after templates are expanded."""

    where: str
    data: dict[str, Any]
    steps: list[dict[str, Any]] = field(default_factory=list)

    def scripts(self) -> Iterator[tuple[str, dict[str, str]]]:
        """(script, env) for each script step, env being the job's and the step's variables."""
        job_env = {**as_dict(self.data.get("env")), **as_dict(self.data.get("variables"))}
        for step in self.steps:
            inputs = as_dict(step.get("inputs"))
            script = step.get("run") or step.get("script") or step.get("bash") or inputs.get("inlineScript")
            if isinstance(script, str):
                yield script, {**job_env, **as_dict(step.get("env"))}

    def script_text(self) -> str:
        return "\n".join(script for script, _ in self.scripts())

    def uses(self, action: str) -> list[dict[str, Any]]:
        """GitHub steps that use an action (any version), or Azure DevOps steps of a task (any version)."""
        found = []
        for step in self.steps:
            ref = str(step.get("uses") or step.get("task") or "")
            if ref.lower().split("@")[0] == action.lower():
                found.append(step)
        return found


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def loader_stages(job: Job) -> list[str]:
    """The stages whose parameter file a job loads (the argument of azd_environment.sh, resolved)."""
    stages = []
    for script, env in job.scripts():
        for m in re.finditer(re.escape(LOADER) + r"""\s+["']?(\$\{?(\w+)\}?|[\w-]+)["']?""", script):
            stages.append(str(env.get(m.group(2), f"${m.group(2)}")) if m.group(2) else m.group(1))
    return stages


def azd_problems(job: Job, stage: str, provider: str) -> list[str]:
    """What every deploy job does: OIDC azd login, the stage's parameter file, provision, deploy."""
    problems = []
    text = re.sub(r"\\\n\s*", " ", job.script_text())  # one line per command
    logins = re.findall(r"azd auth login[^\n]*", text)
    if not logins:
        problems.append(f"{job.where}: does not log azd in (azd auth login --federated-credential-provider)")
    for login in logins:
        if f"--federated-credential-provider {provider}" not in re.sub(r"[\"'\s]+", " ", login):
            problems.append(f"{job.where}: azd auth login is not the OIDC login `--federated-credential-provider "
                            f"{provider}`")
    stages = loader_stages(job)
    if stages != [stage]:
        problems.append(f"{job.where}: loads the parameters of {stages or 'no stage'} with {LOADER}, "
                        f"not infra/environments/{stage}.env")
    if not re.search(r"azd (provision|up)\b", text):
        problems.append(f"{job.where}: does not run azd provision (or azd up)")
    if not re.search(r"azd deploy\b[^\n]*--from-package", text):
        problems.append(f"{job.where}: does not deploy the tested package (azd deploy --from-package)")
    return problems


def toolchain_problems(job: Job, python: str, node: str) -> list[str]:
    problems = []
    if python != "3.13":
        problems.append(f"{job.where}: sets up Python {python or 'of no version'}, the project needs 3.13")
    if not node.startswith("20"):
        problems.append(f"{job.where}: sets up Node {node or 'of no version'}, the project needs 20 (Azurite)")
    return problems


def make_target_problems(job: Job, root: Path, exact: bool) -> list[str]:
    targets = make_targets(job.script_text())
    problems = [f"{job.where}: runs `make {t}`, which the Makefile does not define"
                for t in targets if t not in makefile_targets(root)]
    if exact and targets != ci_targets(root):
        problems.append(f"{job.where}: runs make {targets or 'nothing'}, CI (.ci/run) runs make {ci_targets(root)}")
    return problems


# --- the stages' parameter files -------------------------------------------------------------------


def azd_variables(root: Path) -> tuple[set[str], set[str]]:
    """(every ${NAME} infra/main.parameters.json reads, the ones feeding a @secure() parameter)."""
    infra = root / "infra"
    parameters = json.loads((infra / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    main = parse_bicep(infra / "main.bicep").get("parameters", {})
    names: set[str] = set()
    secure: set[str] = set()
    for param, entry in parameters.items():
        found = set(re.findall(r"\$\{([A-Z0-9_]+)", json.dumps(entry)))
        names |= found
        decorators = main.get(param, {}).get("decorators", [])
        if any(isinstance(d, dict) and d.get("type") == "secure" for d in decorators):
            secure |= found
    return names, secure


def environment_file_problems(root: Path) -> list[str]:
    """Each stage's parameters in its own file, every name one azd passes to Bicep, no secret."""
    problems = []
    folder = root / "infra" / "environments"
    names, secure = azd_variables(root)
    env_names: dict[str, str] = {}
    for stage in STAGES:
        path = folder / f"{stage}.env"
        where = str(path.relative_to(root))
        if not path.is_file():
            problems.append(f"{where}: missing; every stage reads its parameters from its own file")
            continue
        values: dict[str, str] = {}
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            m = re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line)
            if not m:
                problems.append(f"{where}:{lineno}: not KEY=value")
                continue
            key, value = m.groups()
            values[key] = value
            if key in secure:
                problems.append(f"{where}:{lineno}: {key} feeds a @secure() parameter; secrets never go in "
                                "a parameters file (azd env set, or Key Vault)")
            elif key not in names and key not in ENV_FILE_KEYS_AZD_OWNS:
                problems.append(f"{where}:{lineno}: {key} is not a variable infra/main.parameters.json reads")
        problems += stored_credential_problems(path, root)
        for key in ("AZURE_ENV_NAME", "AZURE_LOCATION"):
            if not values.get(key):
                problems.append(f"{where}: does not set {key}")
        if values.get("AZURE_PRINCIPAL_TYPE") != "ServicePrincipal":
            problems.append(f"{where}: CI deploys as a service principal: set AZURE_PRINCIPAL_TYPE=ServicePrincipal "
                            "(the deployer's Key Vault role assignment names the principal type)")
        env_name = values.get("AZURE_ENV_NAME", "")
        if env_name and env_name in env_names:
            problems.append(f"{where}: AZURE_ENV_NAME {env_name} is also {env_names[env_name]}'s: the two stages "
                            "would deploy into the same resources")
        env_names[env_name] = stage
    return problems


# --- schemas ---------------------------------------------------------------------------------------


def github_files(root: Path) -> list[Path]:
    folder = root / ".github" / "workflows"
    return sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")])


def azure_files(root: Path) -> list[Path]:
    return [root / "azure-pipelines.yml", *sorted((root / ".azure-pipelines").glob("*.yml"))]


def github_schema_problems(check_jsonschema: Path, root: Path) -> list[str]:
    """check-jsonschema with its vendored GitHub workflow schema (what its `check-github-workflows`
    pre-commit hook runs)."""
    files = github_files(root)
    if not files:
        return [".github/workflows: no workflow"]
    run = subprocess.run(
        [str(check_jsonschema), "--builtin-schema", "vendor.github-workflows", "--output-format", "text",
         *map(str, files)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    if run.returncode == 0:
        return []
    lines = [line.strip() for line in (run.stdout + run.stderr).splitlines() if line.strip()]
    return [line for line in lines if "::" in line or "rror" in line] or lines


def azure_schema_problems(root: Path) -> list[str]:
    """The Azure Pipelines schema Microsoft's language server uses (vendored by check-jsonschema). It is
    written for a parser that reads every scalar as a string (true, 60), as Azure DevOps itself does;
    so the YAML is read that way, and its few boolean / number task inputs take those strings too."""
    from importlib import resources

    import jsonschema
    from check_jsonschema.transforms.azure_pipelines import traverse_data

    schema = json.loads(
        resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("azure-pipelines.json").read_text()
    )
    base = jsonschema.validators.validator_for(schema)
    checker = base.TYPE_CHECKER.redefine_many({
        "boolean": lambda _, x: isinstance(x, bool) or (isinstance(x, str) and x.lower() in ("true", "false")),
        "integer": lambda _, x: isinstance(x, int) or (isinstance(x, str) and re.fullmatch(r"-?\d+", x) is not None),
        "number": lambda _, x: isinstance(x, (int, float))
        or (isinstance(x, str) and re.fullmatch(r"-?\d+(\.\d+)?", x) is not None),
    })
    validator = jsonschema.validators.extend(base, type_checker=checker)(schema)

    def leaves(error: Any) -> Iterator[Any]:
        if not error.context:
            yield error
        for sub in error.context or ():
            yield from leaves(sub)

    problems = []
    for path in azure_files(root):
        if not path.is_file():
            problems.append(f"{path.relative_to(root)}: missing")
            continue
        for error in validator.iter_errors(traverse_data(load_yaml(path))):
            # Of the alternatives a oneOf tried, the deepest one is the one the author meant.
            deepest = max(leaves(error), key=lambda e: len(list(e.absolute_path)))
            problems.append(f"{path.relative_to(root)}: {deepest.json_path}: {deepest.message[:200]}")
    return problems


# --- checkov's CI frameworks -------------------------------------------------------------------------


def checkov_pipeline_problems(checkov: Path, root: Path, scratch: Path) -> list[str]:
    """checkov's GitHub Actions and Azure Pipelines checks (write-all tokens, unsecure commands, curl
    with secrets, unpinned container images, ...) on a copy of just the CI files, offline."""
    import shutil

    from tests.infra.infra_checks import CheckovResult

    target = scratch / "ci-files"
    shutil.copytree(root / ".github", target / ".github")
    shutil.copytree(root / ".azure-pipelines", target / ".azure-pipelines")
    shutil.copy(root / "azure-pipelines.yml", target / "azure-pipelines.yml")
    proc = subprocess.run(
        [str(checkov), "--directory", str(target), "--framework", "github_actions", "azure_pipelines",
         "--output", "json", "--skip-download", "--compact"],  # not --quiet: it hides what passed
        capture_output=True, text=True, timeout=300, check=False,
        env={"PATH": str(checkov.parent) + ":/usr/bin:/bin", "HOME": str(scratch), "BC_SKIP_MAPPING": "TRUE",
             "LOG_LEVEL": "ERROR"},
    )
    text = proc.stdout.strip()
    data = json.loads(text) if text.startswith(("{", "[")) else []
    reports = [r for r in (data if isinstance(data, list) else [data]) if isinstance(r, dict) and "check_type" in r]
    result = CheckovResult(reports, proc.stderr, proc.returncode)
    problems = [f"checkov: {f}" for f in result.failed()]
    # checkov drops a file its own (older) workflow schema rejects without a word, even one GitHub
    # accepts (`cancel-in-progress: ${{ expression }}`): every file must show up in its results.
    scanned = {
        c["file_path"].lstrip("/")
        for r in reports
        for kind in ("passed_checks", "failed_checks", "skipped_checks")
        for c in r.get("results", {}).get(kind, [])
    }
    expected = [str(p.relative_to(root)) for p in github_files(root)] + ["azure-pipelines.yml"]
    for name in expected:
        if name not in scanned:
            problems.append(f"checkov did not scan {name} (exit {proc.returncode}): it skips what it cannot read")
    return problems
