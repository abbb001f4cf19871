"""The start slot: at most one start of a pipeline awaiting its run id, on engines whose runs do not
report their parameters (Fabric).

There a run a lost start answer created is found by time (``StartedRunFinder``), which is exact only
while a single start of the pipeline is unresolved. So before starting, the watcher takes the
pipeline's slot (a conditional write); it gives the slot up when the batch's run id is recorded, or
when the engine refused the start (no run exists). A batch that does not hold the slot cannot have an
unrecorded run, so reconciling it needs no look at the engine.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from shared.core.claims import Claim
from shared.core.models import Batch
from shared.errors import Conflict, ExternalError
from shared.ports import StartedRunFinder
from shared.services.deps import row_key
from shared.services.ledgers import Ledgers
from shared.services.ledgers.start_slots import PARTITION, StartSlot


class StartSlots:
    """The slot of one pipeline on one engine; ``sharing``: the datasets that run that pipeline."""

    def __init__(self, ledgers: Ledgers, engine: str, pipeline: str, sharing: list[str]) -> None:
        self.ledgers, self.engine, self.pipeline, self.sharing = ledgers, engine, pipeline, sharing

    def _mine(self, batch: Batch) -> StartSlot:
        return StartSlot.of(self.engine, self.pipeline, batch.dataset, batch.key)

    def _current(self, batch: Batch) -> StartSlot | None:
        return self.ledgers.start_slots.get(PARTITION, self._mine(batch).pipeline)

    def holds(self, batch: Batch) -> bool:
        current = self._current(batch)
        return current is not None and (current.dataset, current.batch_key) == (batch.dataset, batch.key)

    def take(self, batch: Batch) -> bool:
        """Take the slot for ``batch`` (the caller holds the batch's claim). False: another batch's start
        is unresolved, or another tick took the slot first."""
        mine, current = self._mine(batch), self._current(batch)
        try:
            if current is None:
                self.ledgers.start_slots.insert(mine)
                return True
            if (current.dataset, current.batch_key) == (batch.dataset, batch.key):
                return True
            holder = self.ledgers.batches.find(current.dataset, current.batch_key)
            if holder is not None and not holder.claim.run_id:
                return False           # its run may exist unrecorded: it must be resolved first
            self.ledgers.start_slots.replace(replace(mine, etag=current.etag))
            return True
        except Conflict:
            return False

    def release(self, batch: Batch) -> None:
        """Give the slot up if ``batch`` holds it; a stale slot is taken over anyway, so failing is fine."""
        try:
            current = self._current(batch)
            if current is not None and (current.dataset, current.batch_key) == (batch.dataset, batch.key):
                self.ledgers.start_slots.delete(current)
        except ExternalError:
            pass

    def find_run(self, finder: StartedRunFinder, batch: Batch, claim: Claim, now: datetime) -> str | None:
        """The run the claim's latest attempt may have created: none unless the batch holds the slot; else
        the earliest run started in the attempt's window that no other batch of the pipeline recorded."""
        if not self.holds(batch):
            return None
        me = (batch.dataset, row_key(batch.key))
        known = {r.claim.run_id for name in self.sharing for r in self.ledgers.batches.query(name)
                 if r.claim.run_id and (r.dataset, r.row) != me}
        run = finder.find_started_run(self.pipeline, claimed_at=claim.claimed_at or now, known_run_ids=known)
        return run.run_id if run is not None else None
