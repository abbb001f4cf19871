"""Offline checks of infra/: facts read from the parsed Bicep (pycep-parser), compared with the code.

Every check returns a list of problems (empty: fine), so a test can both assert a clean tree and
show that a broken copy of it is caught. Bicep is read as pycep-parser's JSON; identifiers and
string literals look alike there, so a string naming a param, var or loop item of its file is a
reference, anything else a literal.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import subprocess
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"

ROLE_ASSIGNMENT = "Microsoft.Authorization/roleAssignments"
ROLE_DEFINITION = "Microsoft.Authorization/roleDefinitions"

# Built-in roles (ids are the same in every tenant).
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
USER_ACCESS_ADMINISTRATOR = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
QUEUE_DATA_CONTRIBUTOR = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"
TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
LOG_ANALYTICS_READER = "73c42c96-874c-492b-b04d-ab87d138a893"
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"

# App settings the platform reads (not the app's code): allowed in the Bicep without a SettingSpec.
PLATFORM_SETTINGS = re.compile(
    r"^(FUNCTIONS_EXTENSION_VERSION|APPLICATIONINSIGHTS_[A-Z_]+|PYTHON_APPLICATIONINSIGHTS_[A-Z_]+"
    r"|AzureWebJobsStorage__[A-Za-z]+|WEBSITE_[A-Z_]+|AzureFunctionsJobHost__.+)$"
)
# Flex Consumption refuses these: the runtime and its version come from functionAppConfig.
FLEX_FORBIDDEN = (
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_EXTENSION_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_CONTENTSHARE",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
)
# Suffixes of an identity-based binding connection (<CONNECTION>__<suffix>).
CONNECTION_SUFFIXES = (
    "accountName",
    "credential",
    "clientId",
    "serviceUri",
    "blobServiceUri",
    "queueServiceUri",
    "tableServiceUri",
)
KEY_VAULT_REFERENCE = "@Microsoft.KeyVault("


# --- parsing ----------------------------------------------------------------------------------


def bicep_files(infra: Path) -> list[Path]:
    return sorted(infra.rglob("*.bicep"))


def parse_bicep(path: Path) -> dict[str, Any]:
    return copy.deepcopy(_parse_text(path.read_text(encoding="utf-8")))


@functools.lru_cache(maxsize=256)
def _parse_text(text: str) -> dict[str, Any]:
    """Parsing is the slow part (~0.1 s a file): scratch copies of infra/ share most of their text."""
    from pycep import BicepParser

    return BicepParser().parse(text=text)


def parse_problems(infra: Path) -> list[str]:
    problems = []
    for path in bicep_files(infra):
        try:
            parse_bicep(path)
        except Exception as exc:  # lark raises several unrelated types; any of them is a broken file
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            problems.append(f"{path.relative_to(infra)}: does not parse: {first}")
    return problems


def body(decl: Mapping[str, Any]) -> dict[str, Any]:
    """The object of a resource or module, looking through `if (...)` and `[for ...]` wrappers."""
    config = decl.get("config", {})
    while isinstance(config, dict) and "config" in config and ("condition" in config or "loop_type" in config):
        config = config["config"]
    return config if isinstance(config, dict) else {}


def render(expr: Any) -> str:
    """A readable form of a parsed expression (property access as dotted names)."""
    if isinstance(expr, dict) and "operator" in expr and expr["operator"].get("type") == "property_accessor":
        ops = expr["operator"]["operands"]
        return f"{render(ops['operand_1'])}.{render(ops['operand_2'])}"
    return expr if isinstance(expr, str) else json.dumps(expr, sort_keys=True, default=str)


@dataclass
class BicepFile:
    path: Path
    data: dict[str, Any]

    @property
    def parameters(self) -> dict[str, Any]:
        return self.data.get("parameters", {})

    @property
    def variables(self) -> dict[str, Any]:
        return self.data.get("variables", {})

    @property
    def resources(self) -> dict[str, Any]:
        return self.data.get("resources", {})

    @property
    def modules(self) -> dict[str, Any]:
        return self.data.get("modules", {})


@dataclass
class ModuleCall:
    caller: BicepFile
    symbol: str
    params: dict[str, Any]


@dataclass
class Project:
    infra: Path
    files: dict[Path, BicepFile] = field(default_factory=dict)
    callers: dict[Path, list[ModuleCall]] = field(default_factory=dict)

    @classmethod
    def load(cls, infra: Path) -> Project:
        project = cls(infra.resolve())
        for path in bicep_files(project.infra):
            project.files[path.resolve()] = BicepFile(path.resolve(), parse_bicep(path))
        for bicep in project.files.values():
            for symbol, module in bicep.modules.items():
                target = (bicep.path.parent / module["detail"]["path"]).resolve()
                call = ModuleCall(bicep, symbol, body(module).get("params", {}))
                project.callers.setdefault(target, []).append(call)
        return project

    def file(self, relative: str) -> BicepFile:
        return self.files[(self.infra / relative).resolve()]

    def declarations(self, resource_type: str) -> Iterator[tuple[BicepFile, str, dict[str, Any]]]:
        for bicep in self.files.values():
            for symbol, decl in bicep.resources.items():
                if decl.get("type") == resource_type:
                    yield bicep, symbol, decl

    def resolve(self, bicep: BicepFile, expr: Any, depth: int = 0) -> set[str]:
        """Every string an expression can take, following params (through their callers), vars,
        conditionals and union/concat; a value that is not a plain string comes back rendered."""
        if depth > 20:
            return {render(expr)}
        if isinstance(expr, list):
            return set().union(*(self.resolve(bicep, item, depth + 1) for item in expr)) if expr else set()
        if isinstance(expr, dict):
            if "operator" in expr and expr["operator"].get("type") == "conditional":
                ops = expr["operator"]["operands"]
                return self.resolve(bicep, ops["true_value"], depth + 1) | self.resolve(
                    bicep, ops["false_value"], depth + 1
                )
            if "function" in expr and expr["function"].get("type") in ("union", "concat"):
                args = expr["function"]["parameters"].values()
                return set().union(*(self.resolve(bicep, a, depth + 1) for a in args if a is not None))
            return {render(expr)}
        if not isinstance(expr, str):
            return {json.dumps(expr)}
        if expr in bicep.variables:
            return self.resolve(bicep, bicep.variables[expr]["value"], depth + 1)
        if expr in bicep.parameters:
            calls = self.callers.get(bicep.path, [])
            values: set[str] = set()
            for call in calls:
                if expr in call.params:
                    values |= self.resolve(call.caller, call.params[expr], depth + 1)
            default = bicep.parameters[expr].get("default")
            if default is not None and (not calls or any(expr not in c.params for c in calls)):
                values |= self.resolve(bicep, default, depth + 1)
            return values
        return {expr}

    def names_of(self, resource_type: str) -> set[str]:
        """Names of the resources of one type, through `[for x in list: ...]` loops."""
        names: set[str] = set()
        for bicep, _symbol, decl in self.declarations(resource_type):
            config = decl.get("config", {})
            loop = config.get("loop_type") if isinstance(config, dict) else None
            name = body(decl).get("name")
            if loop and name == loop["detail"]["item_name"]:
                names |= self.resolve(bicep, loop["detail"]["array_name"])
            else:
                names |= self.resolve(bicep, name)
        return names


# --- facts -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppSetting:
    name: str
    value: Any
    file: Path


def app_settings(project: Project) -> dict[str, AppSetting]:
    """App settings of every Function App (Microsoft.Web/sites) in the templates."""
    found: dict[str, AppSetting] = {}
    for bicep, _symbol, decl in project.declarations("Microsoft.Web/sites"):
        entries = body(decl).get("properties", {}).get("siteConfig", {}).get("appSettings", [])
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                found[entry["name"]] = AppSetting(entry["name"], entry.get("value"), bicep.path)
    return found


@dataclass(frozen=True)
class RoleAssignment:
    file: Path
    symbol: str
    roles: frozenset[str]  # built-in role ids, or "custom:<action>" for custom roles' actions
    principals: frozenset[str]  # resolved principal expressions (e.g. appIdentity.outputs.principalId)
    scope: str


def role_assignments(project: Project) -> list[RoleAssignment]:
    out = []
    for bicep, symbol, decl in project.declarations(ROLE_ASSIGNMENT):
        config = body(decl)
        props = config.get("properties", {})
        role_expr = props.get("roleDefinitionId")
        roles: set[str] = set()
        if isinstance(role_expr, dict) and "function" in role_expr:
            name = role_expr["function"]["parameters"].get("resource_name_1")
            symbol_ref = render(name).split(".")[0] if name is not None else ""
            definition = bicep.resources.get(symbol_ref)
            if definition is not None and definition.get("type") == ROLE_DEFINITION:
                for permission in body(definition).get("properties", {}).get("permissions", []):
                    roles |= {f"custom:{a.lower()}" for a in permission.get("actions", [])}
            else:
                roles |= project.resolve(bicep, name)
        else:
            roles |= project.resolve(bicep, role_expr)
        principals = frozenset(project.resolve(bicep, props.get("principalId")))
        out.append(RoleAssignment(bicep.path, symbol, frozenset(roles), principals, render(config.get("scope"))))
    return out


@dataclass(frozen=True)
class Binding:
    function: str
    type: str
    attrs: Mapping[str, Any]


def app_bindings(app: Any) -> list[Binding]:
    """Bindings of a registered ``func.FunctionApp``."""
    from sandbox.host.bindings import index_app

    out = []
    for fn in index_app(app):
        for binding in fn.get_bindings():
            attrs = binding.get_dict_repr()
            out.append(Binding(fn.get_function_name(), str(attrs.get("type")), attrs))
    return out


# --- checks ------------------------------------------------------------------------------------


def connection_names(bindings: Iterable[Binding], settings: Sequence[Any]) -> set[str]:
    names = {str(b.attrs["connection"]) for b in bindings if b.attrs.get("connection")}
    names |= {s.name.split("__")[0] for s in settings if "__" in s.name}
    return names | {"AzureWebJobsStorage"}


def setting_drift(project: Project, settings: Sequence[Any], bindings: Sequence[Binding]) -> list[str]:
    """SETTINGS (shared/settings.py) against the Bicep app settings, both directions."""
    problems = []
    in_bicep = app_settings(project)
    if not in_bicep:
        return ["no Microsoft.Web/sites resource with siteConfig.appSettings found in infra/"]
    known = {s.name: s for s in settings}
    for spec in settings:
        if spec.infra and spec.name not in in_bicep:
            problems.append(f"{spec.name}: the code reads it (SETTINGS, infra=True) but no Bicep app setting sets it")
        if spec.secret and spec.name in in_bicep:
            value = in_bicep[spec.name].value
            if not (isinstance(value, str) and value.startswith(KEY_VAULT_REFERENCE)):
                problems.append(
                    f"{spec.name}: a secret, so its app setting must be a Key Vault reference "
                    f"(@Microsoft.KeyVault(SecretUri=...)), not {render(value)!r}"
                )
    connections = connection_names(bindings, settings)
    for name, setting in sorted(in_bicep.items()):
        if name in FLEX_FORBIDDEN:
            problems.append(f"{name}: Flex Consumption rejects this app setting ({setting.file.name})")
            continue
        if name in known or PLATFORM_SETTINGS.match(name):
            continue
        prefix, _, suffix = name.partition("__")
        if suffix in CONNECTION_SUFFIXES and prefix in connections:
            continue
        problems.append(
            f"{name}: set in {setting.file.name} but unknown to shared/settings.py SETTINGS "
            "and not a platform or binding-connection setting"
        )
    for name, setting in in_bicep.items():
        value = setting.value
        if isinstance(value, str) and KEY_VAULT_REFERENCE in value and name in known and not known[name].secret:
            problems.append(f"{name}: a Key Vault reference, but SETTINGS does not mark it secret")
    return problems


def setting_value(project: Project, name: str) -> set[str]:
    setting = app_settings(project).get(name)
    if setting is None:
        return set()
    return project.resolve(project.files[setting.file], setting.value)


def expand(project: Project, text: str) -> set[str]:
    """Resolve `%SETTING%` expressions of a binding the way the host does, from the Bicep."""
    match = re.search(r"%([^%]+)%", text)
    if not match:
        return {text}
    values = setting_value(project, match.group(1))
    # An unset setting stays unresolved (`%NAME%`), so the caller reports what is missing.
    return {text.replace(match.group(0), value) for value in values} if values else {text}


def app_principal(project: Project) -> set[str]:
    """What the Function App's identity looks like in role assignments' principalId."""
    principals = set()
    for _bicep, symbol, module in ((b, s, m) for b in project.files.values() for s, m in b.modules.items()):
        if module["detail"]["path"].endswith("identity.bicep"):
            principals.add(f"{symbol}.outputs.principalId")
    return principals


def has_role(assignments: Iterable[RoleAssignment], principals: set[str], file_suffix: str, accepted: set[str]) -> bool:
    return any(a.file.name == file_suffix and a.principals & principals and a.roles & accepted for a in assignments)


def schedule_problems(where: str, values: Iterable[str]) -> list[str]:
    """The schedule values the templates deploy, read as the Functions host reads them."""
    from shared.core.schedule import Schedule
    from shared.core.typed import Invalid

    problems = []
    for value in values:
        if "%" in value:
            continue   # an unset setting, reported above
        try:
            Schedule.parse(value)
        except Invalid as exc:
            problems.append(f"{where}: the schedule infra/ deploys is refused: {exc}")
    return problems


def function_needs(project: Project, bindings: Sequence[Binding], tables: Iterable[str], infra: Path) -> list[str]:
    """Every registered function has what it needs in the templates: queues, containers, tables,
    Event Grid, roles, routes."""
    problems = []
    queues = project.names_of("Microsoft.Storage/storageAccounts/queueServices/queues")
    containers = project.names_of("Microsoft.Storage/storageAccounts/blobServices/containers")
    table_names = project.names_of("Microsoft.Storage/storageAccounts/tableServices/tables")
    assignments = role_assignments(project)
    app = app_principal(project)
    in_bicep = app_settings(project)
    if not app:
        problems.append("no user-assigned identity module (identity.bicep) found for the app")
    scripts = (
        "\n".join(p.read_text(encoding="utf-8") for p in sorted((infra / "scripts").glob("*")) if p.is_file())
        if (infra / "scripts").is_dir()
        else ""
    )
    pipelines_text = "\n".join(p.read_text(encoding="utf-8") for p in bicep_files(infra))

    for b in bindings:
        where = f"{b.function} ({b.type})"
        if b.type == "queueTrigger":
            for queue in expand(project, str(b.attrs.get("queueName", ""))):
                if queue not in queues:
                    problems.append(f"{where}: queue {queue!r} is not created in infra/")
                poison = f"{queue}-poison"
                if not queue.endswith("-poison") and poison not in queues:
                    problems.append(f"{where}: poison queue {poison!r} is not created in infra/")
            if not has_role(assignments, app, "rbac.bicep", {QUEUE_DATA_CONTRIBUTOR}):
                problems.append(f"{where}: the app identity has no Storage Queue Data Contributor on its storage")
        elif b.type == "blobTrigger":
            path = str(b.attrs.get("path", ""))
            for container in {p.split("/")[0] for p in expand(project, path)}:
                if "%" in container or container not in containers:
                    problems.append(f"{where}: container {container!r} (from {path!r}) is not created in infra/")
            connection = str(b.attrs.get("connection") or "AzureWebJobsStorage")
            if not any(f"{connection}__{s}" in in_bicep for s in ("serviceUri", "blobServiceUri", "accountName")):
                problems.append(f"{where}: connection {connection!r} has no identity-based app settings")
            if str(b.attrs.get("source", "")).lower() == "eventgrid":
                if f"{connection}__queueServiceUri" not in in_bicep:
                    problems.append(f"{where}: an Event Grid blob trigger needs {connection}__queueServiceUri")
                if not any(True for _ in project.declarations("Microsoft.EventGrid/systemTopics")):
                    problems.append(f"{where}: no Event Grid system topic on the data account")
                if f"Host.Functions.{b.function}" not in scripts:
                    problems.append(
                        f"{where}: no script under infra/scripts subscribes Host.Functions.{b.function} to Event Grid"
                    )
            if not has_role(
                assignments,
                app,
                "data-storage.bicep",
                {BLOB_DATA_READER, BLOB_DATA_CONTRIBUTOR, BLOB_DATA_OWNER},
            ):
                problems.append(f"{where}: the app identity cannot read the data account's blobs")
        elif b.type == "timerTrigger":
            schedule = str(b.attrs.get("schedule", ""))
            for name in re.findall(r"%([^%]+)%", schedule):
                if name not in in_bicep:
                    problems.append(f"{where}: schedule {schedule!r} names app setting {name}, not set in infra/")
            problems += schedule_problems(where, expand(project, schedule))
        elif b.type == "httpTrigger":
            route = str(b.attrs.get("route") or b.function)
            if f"/api/{route}" not in pipelines_text:
                problems.append(f"{where}: nothing in infra/ calls /api/{route}")

    for table in tables:
        if table not in table_names:
            problems.append(f"state table {table!r} (shared.services.deps.Tables) is not created in infra/")

    # The host itself: identity-based AzureWebJobsStorage needs these roles on the app storage.
    for role, why in (
        (BLOB_DATA_OWNER, "Storage Blob Data Owner (host storage)"),
        (TABLE_DATA_CONTRIBUTOR, "Storage Table Data Contributor (state tables)"),
        (MONITORING_METRICS_PUBLISHER, "Monitoring Metrics Publisher (telemetry)"),
    ):
        if not has_role(assignments, app, "rbac.bicep", {role}):
            problems.append(f"the app identity lacks {why}")
    if any(isinstance(s.value, str) and s.value.startswith(KEY_VAULT_REFERENCE) for s in in_bicep.values()):
        if not has_role(assignments, app, "rbac.bicep", {KEY_VAULT_SECRETS_USER}):
            problems.append("app settings reference Key Vault but the app identity is no Key Vault Secrets User")
        if not any(
            body(d).get("properties", {}).get("keyVaultReferenceIdentity")
            for _b, _s, d in project.declarations("Microsoft.Web/sites")
        ):
            problems.append("Key Vault references need keyVaultReferenceIdentity (the user-assigned identity)")
    if "LOG_ANALYTICS_WORKSPACE_ID" in in_bicep and not has_role(
        assignments, app, "rbac.bicep", {LOG_ANALYTICS_READER}
    ):
        problems.append("LOG_ANALYTICS_WORKSPACE_ID is set but the app identity cannot read the workspace")
    if "ADF_FACTORY_NAME" in in_bicep:
        run_actions = {
            "custom:microsoft.datafactory/factories/pipelines/createrun/action",
            "custom:microsoft.datafactory/factories/querypipelineruns/action",
            "custom:microsoft.datafactory/factories/pipelineruns/read",
        }
        if not any(a.principals & app and run_actions <= a.roles for a in assignments):
            problems.append("the app identity cannot create, query and read runs on the factory")
    return problems


def least_privilege(project: Project, infra: Path) -> list[str]:
    """No broad role anywhere; every role assignment says why in a comment just above it."""
    problems = []
    text = "\n".join(p.read_text(encoding="utf-8") for p in bicep_files(infra))
    scripts = "\n".join(p.read_text(encoding="utf-8") for p in (infra / "scripts").glob("*") if p.is_file())
    for role, label in (
        (OWNER, "Owner"),
        (CONTRIBUTOR, "Contributor"),
        (USER_ACCESS_ADMINISTRATOR, "User Access Administrator"),
    ):
        if role in text or re.search(rf"--role\s+['\"]?{label}['\"]?\s", scripts):
            problems.append(f"infra/ grants {label}")
    for assignment in role_assignments(project):
        if not assignment.scope or assignment.scope in ("null", "rg", "resourceGroup()"):
            problems.append(f"{assignment.file.name}:{assignment.symbol}: role assigned at resource-group scope")
        lines = assignment.file.read_text(encoding="utf-8").splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith(f"resource {assignment.symbol} "))
        comment = []
        for line in reversed(lines[:start]):
            if not line.startswith("//"):
                break
            comment.append(line)
        if not any("Why:" in line for line in comment):
            problems.append(f"{assignment.file.name}:{assignment.symbol}: no `// Why:` comment above it")
    return problems


SECRET_PATTERNS = (
    (re.compile(r"AccountKey=[A-Za-z0-9+/=]{20,}"), "a storage account key"),
    (re.compile(r"SharedAccessSignature=|[?&]sig=[A-Za-z0-9%+/=]{10,}"), "a SAS signature"),
    (re.compile(r"InstrumentationKey=[0-9a-fA-F-]{36}"), "an Application Insights key"),
    (re.compile(r"[?&]code=[A-Za-z0-9_\-]{20,}"), "a function key"),
    (
        re.compile(
            r"https://[\w.-]+\.(webhook\.office\.com|logic\.azure\.com|environment\.api\.powerplatform\.com)"
            r"[^\s'\"]*"
        ),
        "a Teams / Workflows webhook URL",
    ),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a private key"),
    (re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{40,}={1,2}(?![A-Za-z0-9+/=])"), "a base64 key"),
    (
        re.compile(r"(?i)(password|secret|apikey|api_key)['\"]?\s*[:=]\s*['\"][^'\"$@{][^'\"]{7,}['\"]"),
        "a literal password or secret",
    ),
)


def secret_problems(infra: Path, extra_files: Iterable[Path] = ()) -> list[str]:
    """No secret value in any template, parameters file or script; secure params have no default;
    every value in main.parameters.json comes from the azd environment or is a plain literal."""
    problems = []
    files = [
        p
        for p in sorted(infra.rglob("*"))
        if p.is_file() and p.suffix in (".bicep", ".json", ".sh", ".py", ".yaml", ".yml", ".md")
    ]
    for path in [*files, *extra_files]:
        text = path.read_text(encoding="utf-8")
        for lineno, line in enumerate(text.splitlines(), 1):
            for pattern, what in SECRET_PATTERNS:
                if pattern.search(line):
                    problems.append(f"{path.name}:{lineno}: looks like {what}")
    for path in bicep_files(infra):
        data = parse_bicep(path)
        for name, param in data.get("parameters", {}).items():
            secure = any(d.get("type") == "secure" for d in param.get("decorators", []) if isinstance(d, dict))
            if secure and param.get("default") not in (None, ""):
                problems.append(f"{path.name}: @secure() param {name} has a default value")
    parameters = infra / "main.parameters.json"
    if parameters.exists():
        try:
            values = json.loads(parameters.read_text(encoding="utf-8"))["parameters"]
        except (ValueError, KeyError) as exc:
            return [*problems, f"main.parameters.json: not a parameters file: {exc}"]
        main = parse_bicep(infra / "main.bicep").get("parameters", {})
        for name, entry in values.items():
            if name not in main:
                problems.append(f"main.parameters.json: {name} is not a parameter of main.bicep")
            value = entry.get("value") if isinstance(entry, dict) else None
            if "reference" in entry:
                problems.append(f"main.parameters.json: {name} reads a Key Vault; keep secrets in the azd env")
            secure = any(
                d.get("type") == "secure" for d in main.get(name, {}).get("decorators", []) if isinstance(d, dict)
            )
            if secure and not (isinstance(value, str) and re.fullmatch(r"\$\{[A-Z0-9_]+=?\}", value)):
                problems.append(
                    f"main.parameters.json: secure param {name} must come from the azd "
                    "environment as ${NAME} or ${NAME=} (empty default)"
                )
    return problems


# --- checkov -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckovResult:
    reports: list[dict[str, Any]]
    stderr: str
    returncode: int

    def summary(self, check_type: str) -> dict[str, Any]:
        for report in self.reports:
            if report.get("check_type") == check_type:
                return dict(report.get("summary", {}))
        return {}

    def failed(self) -> list[str]:
        return [
            f"{c['check_id']} {c['check_name']} ({c['file_path']}: {c['resource']})"
            for r in self.reports
            for c in r.get("results", {}).get("failed_checks", [])
        ]

    def skipped(self) -> list[dict[str, Any]]:
        return [c for r in self.reports for c in r.get("results", {}).get("skipped_checks", [])]


def run_checkov(checkov: Path, target: Path) -> CheckovResult:
    """Scan ``target`` offline (no Prisma download) with the Bicep, ARM and secrets frameworks."""
    proc = subprocess.run(
        [
            str(checkov),
            "--directory",
            str(target),
            "--framework",
            "bicep",
            "arm",
            "secrets",
            "--output",
            "json",
            "--skip-download",
            "--compact",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={
            "PATH": str(checkov.parent) + ":/usr/bin:/bin",
            "HOME": str(target),
            "BC_SKIP_MAPPING": "TRUE",
            "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false",
            "LOG_LEVEL": "ERROR",
        },
    )
    text = proc.stdout.strip()
    data = json.loads(text) if text.startswith(("{", "[")) else []
    reports = data if isinstance(data, list) else [data]
    return CheckovResult(
        [r for r in reports if isinstance(r, dict) and "check_type" in r], proc.stderr, proc.returncode
    )


def checkov_python(checkov: Path) -> Path:
    """The interpreter checkov runs on (its own virtual environment)."""
    beside = checkov.parent / "python"
    if beside.exists():
        return beside
    shebang = checkov.read_text(encoding="utf-8", errors="replace").splitlines()[0]
    return Path(shebang.removeprefix("#!").split()[0])


def checkov_unparsable(checkov: Path, files: Sequence[Path]) -> list[str]:
    """Files checkov's own Bicep parser (its pinned pycep-parser) rejects; `checkov -d` would drop
    them from the scan and count them in summary.parsing_errors."""
    script = (
        "import json, sys\nfrom pathlib import Path\nfrom checkov.bicep.parser import Parser\n"
        "_, _, errors = Parser().get_files_definitions([Path(a) for a in sys.argv[1:]])\n"
        "print(json.dumps(errors))\n"
    )
    proc = subprocess.run(
        [str(checkov_python(checkov)), "-c", script, *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return list(json.loads(proc.stdout.strip().splitlines()[-1]))


def checkov_problems(result: CheckovResult) -> list[str]:
    problems = [f"checkov: {f}" for f in result.failed()]
    bicep = result.summary("bicep")
    if not bicep:
        problems.append(f"checkov produced no Bicep report (exit {result.returncode}): {result.stderr[-500:]}")
    elif bicep.get("parsing_errors", 0):
        problems.append(f"checkov could not parse {bicep['parsing_errors']} Bicep file(s): those go unscanned")
    for skip in result.skipped():
        comment = (skip.get("check_result") or {}).get("suppress_comment", "")
        if len(comment.strip(" :")) < 20:
            problems.append(f"checkov skip {skip['check_id']} on {skip['resource']} has no real justification")
    return problems
