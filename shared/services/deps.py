"""What a service needs, gathered in one value that ``shared.bootstrap`` builds (or a test does)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from shared.core.spec import PipelinesConfig
from shared.ports import AlertSink, BlobStore, Clock, PipelineRunner, Profiler, StateStore


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

    def all(self) -> tuple[str, ...]:
        return (self.batches, self.runs, self.active, self.watch, self.history, self.receipts, self.verdicts)


@dataclass(frozen=True)
class Deps:
    config: PipelinesConfig
    clock: Clock
    data: BlobStore           # upstream and output blobs
    state: StateStore
    runner: PipelineRunner | None
    alerts: AlertSink
    tables: Tables = Tables()
    claim_timeout: timedelta = timedelta(minutes=10)
    profiler: Profiler | None = None
