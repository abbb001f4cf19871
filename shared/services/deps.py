"""What a service needs, gathered in one value that ``shared.bootstrap`` builds (or a test does)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

from shared.core.dispatch import DispatchPolicy
from shared.core.models import Link
from shared.core.spec import PipelinesConfig
from shared.ports import (
    AlertSink,
    BlobStore,
    Clock,
    DatasetRefresher,
    Metrics,
    Notifier,
    PipelineRunner,
    Profiler,
    StateStore,
    TokenVerifier,
    WorkItems,
    WorkQueue,
)


def row_key(text: str) -> str:
    """Table Storage keys may not hold / \\ # ?; keep them readable anyway."""
    return quote(text, safe="-_.=").replace("%", "$")


@dataclass(frozen=True)
class Tables:
    """Table Storage table names (letters and digits only)."""

    prefix: str = "autopilot"

    @property
    def batches(self) -> str:      # one row per upstream batch: claim, run id
        return f"{self.prefix}batches"

    @property
    def runs(self) -> str:         # run ledger: run id -> dataset, batch, status
        return f"{self.prefix}runs"

    @property
    def active(self) -> str:       # runs believed in flight, per pipeline (deleted when finished)
        return f"{self.prefix}active"

    @property
    def watch(self) -> str:        # per dataset and stage: arrivals, staleness episode
        return f"{self.prefix}watch"

    @property
    def history(self) -> str:      # observations (DESIGN 3.4), per dataset and stage
        return f"{self.prefix}history"

    @property
    def receipts(self) -> str:     # output files already validated, by (blob, ETag)
        return f"{self.prefix}receipts"

    @property
    def verdicts(self) -> str:     # per dataset and batch: the worst status of its output files
        return f"{self.prefix}verdicts"

    @property
    def deliveries(self) -> str:   # alert delivery ledger: per fingerprint, the episode and each send
        return f"{self.prefix}deliveries"

    @property
    def channels(self) -> str:     # per channel: consecutive failures, recent sends
        return f"{self.prefix}channels"

    @property
    def digest(self) -> str:       # alerts parked for the next digest, per channel
        return f"{self.prefix}digest"

    @property
    def events(self) -> str:       # pipeline events by run id: what the webhook decided
        return f"{self.prefix}events"

    @property
    def refreshes(self) -> str:    # Power BI refreshes requested, and the daily budget per dataset
        return f"{self.prefix}refreshes"

    @property
    def feedback(self) -> str:     # per dataset: labels on alerts, used feedback tokens, snoozes
        return f"{self.prefix}feedback"

    def all(self) -> tuple[str, ...]:
        return (self.batches, self.runs, self.active, self.watch, self.history, self.receipts, self.verdicts,
                self.deliveries, self.channels, self.digest, self.events, self.refreshes, self.feedback)


@dataclass(frozen=True)
class FeedbackSigning:
    """The key feedback tokens are signed with, where their links point, and how long they live."""

    key: bytes = field(repr=False)
    base_url: str
    ttl: timedelta = timedelta(days=7)


@dataclass(frozen=True)
class Deps:
    config: PipelinesConfig
    clock: Clock
    data: BlobStore           # upstream and output blobs
    state: StateStore
    runner: PipelineRunner | None
    alerts: AlertSink
    tables: Tables = field(default_factory=Tables)
    claim_timeout: timedelta = timedelta(minutes=10)
    profiler: Profiler | None = None
    notifiers: Mapping[str, Notifier] = field(default_factory=lambda: MappingProxyType({}))
    dispatch: DispatchPolicy = field(default_factory=DispatchPolicy)
    refresher: DatasetRefresher | None = None
    powerbi_daily_limit: int = 8
    factory_name: str = ""
    run_links: Callable[[str], tuple[Link, ...]] = lambda run_id: ()
    durations: Callable[[str, datetime, datetime], list[tuple[datetime, float]]] | None = None
    verdict_wait: timedelta = timedelta(seconds=20)
    token_verifier: TokenVerifier | None = None
    events_queue: WorkQueue | None = None                 # pipeline events waiting for a decision
    cache: dict[str, Any] = field(default_factory=dict)   # per-worker memo (e.g. learned duration bands)
    metrics: Metrics | None = None                        # validation and run numbers for Azure Monitor
    work_items: WorkItems | None = None                   # Azure DevOps work items (the devops channel)
    feedback: FeedbackSigning | None = None               # signs the alerts' feedback actions (none: no actions)
    # Per engine (adf, synapse, fabric): its runner, the names its runs report as their factory or
    # workspace, and the links to its monitor page. ``runner``/``factory_name``/``run_links`` are ADF's.
    runners: Mapping[str, PipelineRunner] = field(default_factory=lambda: MappingProxyType({}))
    engine_names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    engine_links: Mapping[str, Callable[[str], tuple[Link, ...]]] = field(
        default_factory=lambda: MappingProxyType({}))
