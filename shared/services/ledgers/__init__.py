"""Typed records over the state tables: one module per table, each a frozen dataclass with
``to_row`` / ``from_row`` and the table's key rules, so a row's format lives in one place.

Services read and write state only through these (``Ledgers.of(deps)``); tests build state with the
same records. The stored format is the one the rows always had (same property names and types).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.ports import StateStore
from shared.services.deps import Deps, Tables
from shared.services.ledgers.active import ActiveRun
from shared.services.ledgers.batches import Batches
from shared.services.ledgers.channels import ChannelRecord
from shared.services.ledgers.deliveries import Attempt, EpisodeRecord
from shared.services.ledgers.digest import Parked
from shared.services.ledgers.events import Events
from shared.services.ledgers.feedback import Labels, Snoozes, UsedToken
from shared.services.ledgers.history import History
from shared.services.ledgers.parts import BatchJudged, Parts
from shared.services.ledgers.receipts import Receipts
from shared.services.ledgers.refreshes import PendingRefresh, Requested
from shared.services.ledgers.runs import Runs
from shared.services.ledgers.start_slots import StartSlot
from shared.services.ledgers.table import Table
from shared.services.ledgers.verdicts import Verdicts
from shared.services.ledgers.watch import Arrivals, FailedRunsLook, WatcherTick
from shared.services.ledgers.work_items import WorkItemRecord


@dataclass(frozen=True)
class Ledgers:
    """Every table of the app, typed. Cheap to build: it holds the store and the names only."""

    state: StateStore
    tables: Tables

    @classmethod
    def of(cls, deps: Deps) -> Ledgers:
        return cls(deps.state, deps.tables)

    @property
    def batches(self) -> Batches:
        return Batches(self.state, self.tables.batches)

    @property
    def start_slots(self) -> Table[StartSlot]:
        return Table(self.state, self.tables.batches, StartSlot)

    @property
    def runs(self) -> Runs:
        return Runs(self.state, self.tables.runs)

    @property
    def active(self) -> Table[ActiveRun]:
        return Table(self.state, self.tables.active, ActiveRun)

    @property
    def arrivals(self) -> Table[Arrivals]:
        return Table(self.state, self.tables.watch, Arrivals)

    @property
    def failed_runs_looks(self) -> Table[FailedRunsLook]:
        return Table(self.state, self.tables.watch, FailedRunsLook)

    @property
    def ticks(self) -> Table[WatcherTick]:
        return Table(self.state, self.tables.watch, WatcherTick)

    @property
    def history(self) -> History:
        return History(self.state, self.tables.history)

    @property
    def parts(self) -> Parts:
        """Parts of batched outputs (kept in the history table)."""
        return Parts(self.state, self.tables.history)

    @property
    def batch_judgements(self) -> Table[BatchJudged]:
        return Table(self.state, self.tables.history, BatchJudged)

    @property
    def receipts(self) -> Receipts:
        return Receipts(self.state, self.tables.receipts)

    @property
    def verdicts(self) -> Verdicts:
        return Verdicts(self.state, self.tables.verdicts)

    @property
    def episodes(self) -> Table[EpisodeRecord]:
        return Table(self.state, self.tables.deliveries, EpisodeRecord)

    @property
    def attempts(self) -> Table[Attempt]:
        return Table(self.state, self.tables.deliveries, Attempt)

    @property
    def channels(self) -> Table[ChannelRecord]:
        return Table(self.state, self.tables.channels, ChannelRecord)

    @property
    def digest(self) -> Table[Parked]:
        return Table(self.state, self.tables.digest, Parked)

    @property
    def events(self) -> Events:
        return Events(self.state, self.tables.events)

    @property
    def refreshes(self) -> Requested:
        return Requested(self.state, self.tables.refreshes)

    @property
    def pending_refreshes(self) -> Table[PendingRefresh]:
        return Table(self.state, self.tables.refreshes, PendingRefresh)

    @property
    def work_items(self) -> Table[WorkItemRecord]:
        return Table(self.state, self.tables.deliveries, WorkItemRecord)

    @property
    def labels(self) -> Labels:
        return Labels(self.state, self.tables.feedback)

    @property
    def used_tokens(self) -> Table[UsedToken]:
        return Table(self.state, self.tables.feedback, UsedToken)

    @property
    def snoozes(self) -> Snoozes:
        return Snoozes(self.state, self.tables.feedback)
