"""The arrivals ledger and the staleness episode it feeds, on fakes: the row keeps only recent arrivals,
and still knows when arrivals began (a learned cadence is trusted once they span a week)."""

from __future__ import annotations

from datetime import timedelta

from shared.core.spec import PipelinesConfig, StalenessSpec
from shared.services import arrivals
from shared.services.deps import Deps
from shared.services.ledgers import Ledgers
from tests.fakes import FixedClock, ListAlertSink, MemoryBlobStore, MemoryStateStore, RecordingRunner


def test_an_hourly_output_is_found_late_though_its_row_keeps_only_the_last_arrivals() -> None:
    clock = FixedClock()
    deps = Deps(PipelinesConfig(()), clock, MemoryBlobStore(clock), MemoryStateStore(), RecordingRunner(clock),
                ListAlertSink())
    spec, start = StalenessSpec(), clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
    late: list[str] = []
    for h in range(10 * 24 + 16):
        at = start + timedelta(hours=h, minutes=5)
        silent = h >= 10 * 24 + 9        # day 10 stops at 09:00
        new = None if silent else {f"scores/{at:%Y/%m/%d/%H}.csv": at}
        late += [a.code for a in arrivals.update(deps, "scores", "output", spec, at, new)]
    row = Ledgers.of(deps).arrivals.get("scores", "output")
    assert row is not None and len(row.arrivals) == arrivals.MAX_ARRIVALS
    assert row.first_arrival == start + timedelta(minutes=5)          # ten days ago, not 32 hours
    assert late == ["output_late"]
