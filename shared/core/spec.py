"""The pipelines config (DESIGN 3.6) and output contract (3.7) as frozen dataclasses.

Field names are the YAML keys. ``shared.core.typed.coerce`` builds these from parsed YAML and reports
every problem with its path; ``check`` adds the rules that span several fields.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Any, Literal

from shared.core.partition import PartitionPattern
from shared.core.typed import ByteSize, Duration, Invalid, Path, Problem


def _frozen(**items: str) -> Mapping[str, str]:
    return MappingProxyType(dict(items))


@dataclass(frozen=True)
class StalenessSpec:
    """When a stage counts as late: no new data for ``cadence × late_factor``.

    Without ``cadence`` the expected cadence is learned (median gap of recent arrivals) once
    ``learn_after`` arrivals exist and span a week; before that, nothing is judged late.
    """

    cadence: Duration | None = None
    late_factor: float = 1.5
    learn_after: int = 5
    enabled: bool = True


@dataclass(frozen=True)
class BatchRule:
    """When a batch is complete. Every configured condition must hold."""

    marker: str | None = None          # file name at the batch root, e.g. _SUCCESS
    quiet_period: Duration | None = None  # default: 0 with a marker, 15m without
    min_files: int = 1
    ignore: tuple[str, ...] = ("_*", ".*")  # basename globs that are not data files

    @property
    def effective_quiet_period(self) -> timedelta:
        if self.quiet_period is not None:
            return self.quiet_period
        return timedelta(0) if self.marker else timedelta(minutes=15)

    def is_data_file(self, basename: str) -> bool:
        return basename != self.marker and not any(fnmatch.fnmatchcase(basename, g) for g in self.ignore)


@dataclass(frozen=True)
class UpstreamSpec:
    container: str
    prefix: str = ""
    partition: PartitionPattern = field(default_factory=lambda: PartitionPattern.parse("{yyyy}/{MM}/{dd}"))
    lookback: Duration = field(default_factory=lambda: Duration(days=2))
    batch: BatchRule = field(default_factory=BatchRule)
    staleness: StalenessSpec = field(default_factory=StalenessSpec)

    @property
    def base(self) -> str:
        return self.prefix.strip("/") + "/" if self.prefix.strip("/") else ""


PARAMETER_FIELDS = ("batch_id", "dataset", "key", "prefix", "container", "files", "file_count", "bytes")


@dataclass(frozen=True)
class ConcurrencySpec:
    """What to do when a run of the pipeline is still in progress."""

    policy: Literal["wait", "concurrent"] = "wait"
    max_runs: int = 1


@dataclass(frozen=True)
class PipelineSpec:
    """The pipeline to start for each complete batch, and how batch facts map to its parameters.

    ``engine`` says where it runs: Azure Data Factory, a Synapse workspace, or a Fabric workspace (the
    engine's app settings say which factory or workspace); on Fabric, ``item`` is the pipeline's item id.

    Each parameter value is a template over {batch_id} {dataset} {key} {prefix} {container} {files}
    {file_count} {bytes}; a value that is exactly ``{files}`` is passed as a list.
    """

    name: str
    parameters: Mapping[str, str] = field(default_factory=lambda: _frozen(
        batchId="{batch_id}", dataset="{dataset}", prefix="{prefix}", files="{files}"))
    concurrency: ConcurrencySpec = field(default_factory=ConcurrencySpec)
    max_duration: Duration | None = None
    # Which failed runs the follow-up timer reports when no pipeline event came: the runs Autopilot
    # started, or every run of the pipeline (the factory's own triggers too).
    watch: Literal["started", "all"] = "started"
    engine: Literal["adf", "synapse", "fabric"] = "adf"
    item: str = ""                      # fabric only: the Data pipeline's item id in the workspace


@dataclass(frozen=True)
class CsvOptions:
    delimiter: str = ","
    header: bool = True
    encoding: str = "utf-8"
    quote: str = '"'
    decimal: Literal[".", ","] = "."    # "," for spreadsheet exports in most of Europe (0,5)

    def __post_init__(self) -> None:
        if len(self.delimiter) != 1:
            raise Invalid(f"csv.delimiter must be one character, got {self.delimiter!r}")
        if self.decimal == self.delimiter:
            raise Invalid(f"csv.decimal and csv.delimiter are both {self.decimal!r}; a decimal comma needs "
                          "another delimiter (spreadsheets use ';')")


@dataclass(frozen=True)
class ColumnRule:
    type: Literal["integer", "float", "string", "boolean", "timestamp", "date"] | None = None
    nullable: bool = True
    required: bool = True
    min: float | str | None = None
    max: float | str | None = None
    max_null_fraction: float | None = None
    allowed: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Bounds:
    min: int | None = None
    max: int | None = None


@dataclass(frozen=True)
class SizeBounds:
    min: ByteSize | None = None
    max: ByteSize | None = None


@dataclass(frozen=True)
class Freshness:
    column: str | None = None          # newest value of this column vs now
    from_path: bool = False            # or the partition date in the file's path
    max_age: Duration = field(default_factory=lambda: Duration(days=1))


@dataclass(frozen=True)
class DriftSpec:
    columns: tuple[str, ...] = ()
    bins: int = 20
    warn: float = 0.1                  # PSI bands: < 0.1 stable, 0.1–0.25 moderate, > 0.25 major
    fail: float = 0.25


@dataclass(frozen=True)
class Holidays:
    """Days (UTC dates) on which a dataset's volume is expected to be low, e.g. public holidays."""

    dates: frozenset[date] = frozenset()

    @classmethod
    def parse(cls, value: object) -> Holidays:
        if not isinstance(value, list):
            raise Invalid(f"expected a list of dates such as [2026-12-25, 2027-01-01], got {value!r}")
        out: set[date] = set()
        for n, item in enumerate(value):
            if isinstance(item, date) and not isinstance(item, datetime):    # YAML reads 2026-12-25 as a date
                out.add(item)
            elif isinstance(item, str) and re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", item):
                try:
                    out.add(date.fromisoformat(item.strip()))
                except ValueError as exc:
                    raise Invalid(f"item {n} ({item!r}) is not a date: {exc}") from None
            else:
                raise Invalid(f"item {n} ({item!r}) is not a date such as 2026-12-25")
        return cls(frozenset(out))


@dataclass(frozen=True)
class HistorySpec:
    """Learned baselines: how much history before judging, and how sensitive to be."""

    min_history: int = 14
    window: int = 200
    sensitivity: float = 4.5           # robust z-score (median/MAD) beyond which a point is anomalous
    warn_sensitivity: float | None = None
    seasonality: Literal["auto", "none", "weekday", "hour_of_week", "hour_of_daytype", "hour_of_day"] = "auto"
    holidays: Holidays = field(default_factory=Holidays)   # a low volume then is expected, not learned


@dataclass(frozen=True)
class Contract:
    """What a valid output file looks like (DESIGN 3.7)."""

    format: Literal["csv", "csv.gz", "jsonl", "parquet", "delta"] | None = None   # delta: a table folder
    csv: CsvOptions = field(default_factory=CsvOptions)
    columns: Mapping[str, ColumnRule] = field(default_factory=lambda: MappingProxyType({}))
    allow_extra_columns: bool = True
    forbidden_columns: tuple[str, ...] = ()
    rows: Bounds = field(default_factory=Bounds)
    bytes: SizeBounds = field(default_factory=SizeBounds)
    freshness: Freshness | None = None
    drift: DriftSpec = field(default_factory=DriftSpec)
    history: HistorySpec = field(default_factory=HistorySpec)


@dataclass(frozen=True)
class OutputBatchRule:
    """When an output batch (a partition folder) is complete: Spark writes ``_SUCCESS`` last; without
    a marker, a quiet period after the newest file. The breaker also waits until every file is judged."""

    marker: str | None = None           # e.g. _SUCCESS at the batch root
    quiet_period: Duration = field(default_factory=Duration)

    @property
    def configured(self) -> bool:
        """The dataset writes batches of many files: they are judged, learned and alerted as one."""
        return bool(self.marker) or bool(self.quiet_period)


@dataclass(frozen=True)
class OutputSpec:
    container: str
    prefix: str = ""
    partition: PartitionPattern = field(default_factory=lambda: PartitionPattern.parse("{yyyy}/{MM}/{dd}"))
    contract: Contract = field(default_factory=Contract)
    staleness: StalenessSpec = field(default_factory=StalenessSpec)
    reports_prefix: str = "_reports/"
    batch: OutputBatchRule = field(default_factory=OutputBatchRule)

    @property
    def base(self) -> str:
        return self.prefix.strip("/") + "/" if self.prefix.strip("/") else ""

    def batch_of(self, name: str) -> str:
        """The partition an output file belongs to (its batch), e.g. ``2026/11/21``; "" when none."""
        parts = self.partition.split(name[len(self.base):])
        return parts[0] if parts else ""


@dataclass(frozen=True)
class PowerBIDataset:
    dataset: str
    workspace: str = ""                 # empty: the POWERBI_WORKSPACE_ID app setting
    refresh_on_warn: bool = False
    enhanced: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class DevOpsRoute:
    """Work items as an alert channel: one per episode, a comment on a repeat, resolved on recovery."""

    organization: str
    project: str
    type: Literal["Bug", "Issue", "Task"] = "Bug"
    area_path: str = ""                 # empty: the project's default area
    min_severity: Literal["info", "warn", "fail"] = "fail"
    resolved_state: str = ""            # empty: Resolved for a Bug, Done for an Issue or a Task
    tags: tuple[str, ...] = ()          # added to the work item besides the episode's own tag

    @property
    def state_on_resolve(self) -> str:
        return self.resolved_state or ("Resolved" if self.type == "Bug" else "Done")


@dataclass(frozen=True)
class AlertRoutes:
    teams: bool = True
    email: tuple[str, ...] = ()
    min_severity: Literal["info", "warn", "fail"] = "warn"
    devops: DevOpsRoute | None = None


@dataclass(frozen=True)
class RetrainSpec:
    """Start a retraining pipeline when the dataset's outputs drift: once per incident (at most once per
    ``cooldown``), with the run's parameters templated over {dataset} {batch} {codes} {incident}."""

    pipeline: str
    parameters: Mapping[str, str] = field(default_factory=lambda: _frozen(dataset="{dataset}",
                                                                          incident="{incident}"))
    on: tuple[Literal["drift", "level_shift"], ...] = ("drift", "level_shift")
    cooldown: Duration = field(default_factory=lambda: Duration(days=7))


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    upstream: UpstreamSpec | None = None
    pipeline: PipelineSpec | None = None
    output: OutputSpec | None = None
    powerbi: tuple[PowerBIDataset, ...] = ()
    alerts: AlertRoutes = field(default_factory=AlertRoutes)
    retrain: RetrainSpec | None = None

    @property
    def engine(self) -> Literal["adf", "synapse", "fabric"]:
        """Where the dataset's pipelines (its batch runs and its retraining) run: adf by default."""
        return self.pipeline.engine if self.pipeline is not None else "adf"

    @property
    def upstream_staleness(self) -> StalenessSpec:
        return self.upstream.staleness if self.upstream else StalenessSpec()


@dataclass(frozen=True)
class PipelinesConfig:
    datasets: tuple[DatasetSpec, ...]
    version: int = 1

    def dataset(self, name: str) -> DatasetSpec:
        for ds in self.datasets:
            if ds.name == name:
                return ds
        raise KeyError(name)


def check(config: PipelinesConfig) -> list[Problem]:
    """Rules that span fields: unique names, parameter templates, sane numbers."""
    from shared.core import spec_rules as rules  # they read these classes: imported once they exist

    problems: list[Problem] = []
    if config.version != 1:
        problems.append(Problem(("version",), f"version {config.version} is not supported; use 1"))
    if not config.datasets:
        problems.append(Problem(("datasets",), "declare at least one dataset"))
    seen: dict[str, int] = {}
    for i, ds in enumerate(config.datasets):
        at: Path = ("datasets", i)
        if not ds.name or not all(c.isalnum() or c in "-_." for c in ds.name):
            problems.append(Problem((*at, "name"), f"dataset name {ds.name!r} may use only letters, digits, - _ ."))
        if ds.name in seen:
            problems.append(Problem((*at, "name"), f"dataset {ds.name!r} is declared twice "
                                    f"(also datasets[{seen[ds.name]}])"))
        seen.setdefault(ds.name, i)
        if ds.upstream is not None:
            problems += rules.check_staleness(ds.upstream.staleness, (*at, "upstream", "staleness"))
            if ds.upstream.batch.min_files < 0:
                problems.append(Problem((*at, "upstream", "batch", "min_files"), "must be 0 or more"))
            if ds.upstream.lookback < timedelta(hours=1):
                problems.append(Problem((*at, "upstream", "lookback"), "must be at least 1h"))
        if ds.pipeline is not None:
            problems += rules.check_pipeline(ds.pipeline, (*at, "pipeline"))
            if ds.upstream is None:
                problems.append(Problem((*at, "pipeline"), "a pipeline needs an upstream block to "
                                        "know which batches to run"))
        if ds.alerts.devops is not None:
            problems += rules.check_devops(ds.alerts.devops, (*at, "alerts", "devops"))
        if ds.output is not None:
            problems += rules.check_staleness(ds.output.staleness, (*at, "output", "staleness"))
            problems += check_contract(ds.output.contract, (*at, "output", "contract"))
            if ds.output.contract.format == "delta" and ds.output.batch.marker is not None:
                problems.append(Problem((*at, "output", "batch", "marker"), "a Delta table needs no marker: "
                                        "each commit in _delta_log/ is one complete version"))
    problems += rules.check_output_prefixes(config.datasets)
    problems += rules.check_fabric_items(config.datasets)
    return problems



def check_contract(contract: Contract, at: Path = ()) -> list[Problem]:
    """Names that must point at a declared column: a typo there would silently switch a check off."""
    out = []
    declared = ", ".join(contract.columns) or "none"
    for i, name in enumerate(contract.drift.columns):
        if name not in contract.columns:
            out.append(Problem((*at, "drift", "columns", i), f"drift column {name!r} is not declared under "
                               f"columns (declared: {declared}); a typo here switches drift off"))
    if contract.format == "delta" and contract.csv != CsvOptions():
        out.append(Problem((*at, "csv"), "csv options do not apply to format delta (a Delta table holds "
                           "Parquet files); remove the csv block"))
    if contract.freshness is not None and contract.freshness.column is not None \
            and contract.freshness.column not in contract.columns:
        out.append(Problem((*at, "freshness", "column"), f"freshness column {contract.freshness.column!r} is not "
                           f"declared under columns (declared: {declared}); a typo here switches freshness off"))
    return out
