"""History import for a dataset that writes batches of many files (output.batch): one observation per
batch, as the output guard learns it, so imported history and the guard's own agree."""

from __future__ import annotations

from datetime import timedelta

from shared.services import history_seed
from tests.unit.test_batch_guard import csv, land, observations, world


def test_a_batched_dataset_imports_one_observation_per_batch_and_twice_is_once() -> None:
    deps = world({"marker": "_SUCCESS"})
    store = deps.data
    for day, rows in ((18, (40, 60)), (19, (50, 50, 30))):
        for i, n in enumerate(rows):
            store.put("outputs", f"scores/2026/11/{day}/part-{i}.csv", csv(n))  # type: ignore[attr-defined]
        store.put("outputs", f"scores/2026/11/{day}/_SUCCESS", b"")            # type: ignore[attr-defined]
    now = deps.clock.now()

    first = history_seed.import_history(deps, "scores", now - timedelta(days=7), now)
    again = history_seed.import_history(deps, "scores", now - timedelta(days=7), now)

    assert (first.files, first.imported) == (5, 2) and again.imported == 2
    learned = sorted((o.name, o.rows) for o in observations(deps))
    assert learned == [("batch:2026/11/18", 100), ("batch:2026/11/19", 130)]


def test_a_batch_the_guard_judged_is_left_alone() -> None:
    deps = world({"marker": "_SUCCESS"})
    for i in range(2):
        land(deps, f"part-{i}.csv", csv(50))
    land(deps, "_SUCCESS", b"")
    now = deps.clock.now()

    outcome = history_seed.import_history(deps, "scores", now - timedelta(days=7), now + timedelta(days=1))

    assert (outcome.judged_already, outcome.imported) == (2, 0) and len(observations(deps)) == 1
