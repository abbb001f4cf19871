"""One contract for every StateStore: the in-memory fake the unit tests use and the Azure Tables
adapter on Azurite run through the same cases, so a unit test on the fake means what it says.

Covers the semantics the services rely on (exclusive insert, replace on ETag, conditional delete,
query ranges) and that every ledger record survives a round trip through the store unchanged, in
the row format the tables have always had.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import pytest

from shared.core.claims import Claim
from shared.core.dispatch import ChannelHealth, EpisodeLedger
from shared.errors import Conflict, NotFound
from shared.ports import Entity, StateStore
from shared.services.deps import Tables
from shared.services.ledgers import Ledgers
from shared.services.ledgers.active import ActiveRun
from shared.services.ledgers.batches import BatchRecord
from shared.services.ledgers.channels import ChannelRecord
from shared.services.ledgers.deliveries import Attempt, EpisodeRecord
from shared.services.ledgers.digest import Parked
from shared.services.ledgers.events import ACCEPTED, EventRecord
from shared.services.ledgers.feedback import Label, SnoozeRecord, UsedToken
from shared.services.ledgers.history import HistoryRecord
from shared.services.ledgers.receipts import Receipt
from shared.services.ledgers.refreshes import PendingRefresh, RequestedRefresh
from shared.services.ledgers.runs import RunRecord
from shared.services.ledgers.table import Record, Table
from shared.services.ledgers.verdicts import Verdict
from shared.services.ledgers.watch import Arrivals, WatcherTick
from tests.fakes import MemoryStateStore

AT = datetime(2026, 11, 21, 6, 30, tzinfo=UTC)


@pytest.fixture(params=["memory", "azure"])
def store(request: pytest.FixtureRequest) -> StateStore:
    if request.param == "memory":
        return MemoryStateStore()
    from shared.adapters.storage import TableStateStore

    return TableStateStore(request.getfixturevalue("storage"), retry_total=0)


def test_insert_is_exclusive_and_replace_needs_the_current_etag(store: StateStore, unique: str) -> None:
    first = store.insert(Entity(unique, "scores", "2026$2F11$2F21", {"status": "claimed"}))
    with pytest.raises(Conflict):
        store.insert(Entity(unique, "scores", "2026$2F11$2F21", {"status": "claimed"}))
    updated = store.replace(Entity(unique, "scores", first.row, {"status": "started"}, first.etag))
    with pytest.raises(Conflict):
        store.replace(Entity(unique, "scores", first.row, {"status": "stolen"}, first.etag))
    got = store.get(unique, "scores", first.row)
    assert got is not None and got.data == {"status": "started"} and got.etag == updated.etag


def test_get_of_a_missing_entity_is_none_and_delete_is_idempotent(store: StateStore, unique: str) -> None:
    assert store.get(unique, "p", "r") is None
    saved = store.upsert(Entity(unique, "p", "r", {"n": 1, "flag": True, "text": "é"}))
    store.delete(saved)
    store.delete(saved)
    assert store.get(unique, "p", "r") is None


def test_replace_of_a_deleted_entity_is_not_found(store: StateStore, unique: str) -> None:
    saved = store.insert(Entity(unique, "p", "r", {"a": "b"}))
    store.delete(saved)
    with pytest.raises(NotFound):
        store.replace(Entity(unique, "p", "r", {"a": "c"}, saved.etag))


def test_delete_with_a_stale_etag_is_a_conflict_and_keeps_the_row(store: StateStore, unique: str) -> None:
    saved = store.insert(Entity(unique, "p", "r", {"a": "b"}))
    store.replace(Entity(unique, "p", "r", {"a": "c"}, saved.etag))
    with pytest.raises(Conflict):
        store.delete(saved)
    got = store.get(unique, "p", "r")
    assert got is not None and got.data == {"a": "c"}


def test_upsert_replaces_whatever_is_there_and_drops_old_properties(store: StateStore, unique: str) -> None:
    store.upsert(Entity(unique, "p", "r", {"a": "1", "b": "2"}))
    store.upsert(Entity(unique, "p", "r", {"a": "3"}))
    got = store.get(unique, "p", "r")
    assert got is not None and got.data == {"a": "3"}


def test_query_returns_one_partition_within_row_bounds(store: StateStore, unique: str) -> None:
    for row in ("a", "b", "c", "d"):
        store.upsert(Entity(unique, "p1", row, {"row": row}))
    store.upsert(Entity(unique, "p2", "b", {"row": "other"}))
    assert [e.row for e in store.query(unique, "p1", "b", "d")] == ["b", "c"]
    assert [e.row for e in store.query(unique, "p1")] == ["a", "b", "c", "d"]


def test_query_by_time_prefix_selects_one_day_of_keys(store: StateStore, unique: str) -> None:
    for row in ("2026-11-20|r1", "2026-11-21|r2", "2026-11-21|r3", "2026-11-22|r4", "pending"):
        store.upsert(Entity(unique, "ws|ds", row, {}))
    assert [e.row for e in store.query(unique, "ws|ds", "2026-11-21", "2026-11-21~")] == [
        "2026-11-21|r2", "2026-11-21|r3"]
    assert [e.row for e in store.query(unique, "ws|ds", "2026-11-21", "9999")] == [
        "2026-11-21|r2", "2026-11-21|r3", "2026-11-22|r4"]


def test_scan_reads_every_partition_within_row_bounds_and_since_a_time(store: StateStore, unique: str) -> None:
    store.upsert(Entity(unique, "run-1", "", {"at": "2026-11-20T06:00:00+00:00"}))
    store.upsert(Entity(unique, "run-2", "", {"at": "2026-11-22T06:00:00+00:00"}))
    store.upsert(Entity(unique, "run-3", "", {"other": "x"}))
    assert sorted(e.partition for e in store.scan(unique)) == ["run-1", "run-2", "run-3"]
    assert [e.partition for e in store.scan(unique, since=("at", "2026-11-21T00:00:00+00:00"))] == ["run-2"]
    for part, row in (("a", "2026-11-20|x"), ("b", "2026-11-22|y"), ("b", "episode")):
        store.upsert(Entity(unique + "r", part, row, {}))
    assert [(e.partition, e.row) for e in store.scan(unique + "r", "2026-11-21", "9999")] == [("b", "2026-11-22|y")]


def test_stored_values_keep_their_types(store: StateStore, unique: str) -> None:
    data = {"n": 1, "flag": True, "text": "é", "empty": "", "json": '{"a": [1, 2]}'}
    store.upsert(Entity(unique, "p", "r", data))
    got = store.get(unique, "p", "r")
    assert got is not None and dict(got.data) == data
    assert type(got.data["n"]) is int and type(got.data["flag"]) is bool


# One sample of every record, each with the table it lives in (by its attribute on ``Ledgers``).
CLAIM = Claim("started", "tok", AT, AT, 2, "scores:2026/11/21", ("raw/a.csv", "raw/b.csv"), "run-1", AT,
              "500 after create", True)
SAMPLES: list[tuple[str, Record]] = [
    ("batches", BatchRecord.of("scores", "2026/11/21", CLAIM)),
    ("batches", BatchRecord.of("scores", "2026/11/22", Claim("claimed", "t", AT, AT, 1, "scores:2026/11/22"))),
    ("runs", RunRecord("run-1", "scores", "score_batch", "scores:2026/11/21", "2026/11/21", AT, "Queued")),
    ("active", ActiveRun("score_batch", "run-1", "scores:2026/11/21", stuck_alerted=True)),
    ("arrivals", Arrivals("scores", "upstream", MappingProxyType({"2026/11/21": AT.isoformat()}), AT, None)),
    ("ticks", WatcherTick(AT)),
    ("history", HistoryRecord("scores", "output", f"{AT.isoformat()}|abc", '{"ts": "2026-11-21T06:30:00Z"}')),
    ("receipts", Receipt("scores", "scores/2026/11/21/a b.csv", "0x1", "warn", "scores/_reports/x.json", AT)),
    ("verdicts", Verdict("scores", "2026/11/21", MappingProxyType({"b.csv": "fail", "a.csv": "pass"}), "fail")),
    ("episodes", EpisodeRecord("fp1", EpisodeLedger(True, AT, 3), "scores", "upstream_late")),
    ("attempts", Attempt("fp1", f"{AT.isoformat()}|upstream_late", "teams", "failed", "scores", "upstream_late",
                         "Unavailable: 503")),
    ("channels", ChannelRecord("teams", ChannelHealth(2, (AT, AT), AT, AT))),
    ("digest", Parked("email", f"{AT.isoformat()}|fp1", '{"code": "x"}', ("a@example.com",))),
    ("events", EventRecord("run-1", ACCEPTED, AT, '{"runId": "run-1"}', AT)),
    ("events", EventRecord("run-2", ACCEPTED, AT, "{}").decision('{"decision": "refresh_held"}', AT)),
    ("refreshes", RequestedRefresh("ws|ds", "2026-11-21", "req-1", "Failed", "run-1", "scores", AT, "boom")),
    ("pending_refreshes", PendingRefresh("ws|ds", "run-1", "scores", AT, "Power BI is throttling (429)")),
    ("episodes", EpisodeRecord("fp2", EpisodeLedger(False, AT, 0), "scores", "output_failed", subject="a b/c.csv")),
    ("labels", Label("scores", "fp2", AT.isoformat(), "output_failed", "scores/a b.csv", "expected", AT, "card")),
    ("used_tokens", UsedToken("scores", "0123abcd", "fp2", "false_alarm", AT)),
    ("snoozes", SnoozeRecord("scores", "*", AT, AT)),
    ("snoozes", SnoozeRecord("scores", "output_failed", AT, None)),
]


@pytest.mark.parametrize(("table", "record"), SAMPLES, ids=[f"{t}-{i}" for i, (t, _) in enumerate(SAMPLES)])
def test_every_record_round_trips_through_the_store(store: StateStore, unique: str, table: str,
                                                    record: Record) -> None:
    ledger: Table[Any] = getattr(Ledgers(store, Tables(unique)), table)
    saved = ledger.insert(record)
    assert saved == record and saved.etag
    (again,) = ledger.query(record.to_row(unique).partition)
    assert again == record
    changed = ledger.replace(saved)
    with pytest.raises(Conflict):
        ledger.replace(saved)
    ledger.delete(changed)
    assert ledger.get(record.to_row(unique).partition, record.to_row(unique).row) is None


# Rows exactly as the services wrote them before the records existed: they must read into records
# and write back property for property, so state from before keeps working.
LEGACY: list[tuple[str, str, str, dict[str, Any]]] = [
    ("batches", "scores", "2026$2F11$2F21", {
        "status": "started", "token": "t", "claimed_at": AT.isoformat(), "first_claimed_at": AT.isoformat(),
        "attempt": 1, "batch_id": "scores:2026/11/21", "files": '["raw/a.csv"]', "run_id": "run-1",
        "started_at": AT.isoformat(), "late_alerted": True}),
    ("batches", "scores", "2026$2F11$2F22", {
        "status": "start_failed", "token": "t", "claimed_at": AT.isoformat(), "first_claimed_at": "",
        "attempt": 3, "batch_id": "scores:2026/11/22", "files": "[]", "error": "503"}),
    ("runs", "run-1", "", {"dataset": "scores", "pipeline": "p", "batch_id": "scores:2026/11/21",
                           "batch_key": "2026/11/21", "started_at": AT.isoformat(), "status": "Failed"}),
    ("active", "p", "run-1", {"batch_id": "scores:2026/11/21"}),
    ("arrivals", "scores", "output", {"arrivals": '{"a.csv": "2026-11-21T06:30:00+00:00"}',
                                      "last_arrival": AT.isoformat(), "late_since": "", "first_arrival": ""}),
    ("ticks", "_watcher", "tick", {"at": AT.isoformat()}),
    ("receipts", "scores", "scores$2Fa.csv", {"blob_etag": "0x1", "status": "pass", "report": "r.json",
                                               "at": AT.isoformat()}),
    ("verdicts", "scores", "2026$2F11$2F21", {"batch": "2026/11/21", "files": '{"a.csv": "pass"}',
                                               "status": "pass"}),
    ("episodes", "fp", "episode", {"open": False, "last_sent": "", "suppressed": 0, "dataset": "d", "code": "c"}),
    ("attempts", "fp", f"{AT.isoformat()}|c|-", {"status": "suppressed", "dataset": "d", "code": "c",
                                                  "detail": "cooldown"}),
    ("channels", "email", "health", {"failures": 0, "recent": "[]", "last_failure": "", "failing_since": ""}),
    ("digest", "teams", f"{AT.isoformat()}|fp", {"alert": "{}", "to": "[]"}),
    ("events", "run-1", "", {"state": "accepted", "at": AT.isoformat(), "event": "{}", "processing_since": ""}),
    ("events", "run-2", "", {"state": "decided", "at": AT.isoformat(), "reply": "{}", "event": "{}"}),
    ("refreshes", "ws|ds", "2026-11-21|req", {"status": "requested", "run_id": "r", "dataset_name": "scores",
                                              "requested_at": AT.isoformat()}),
    ("pending_refreshes", "ws|ds", "pending", {"run_id": "r", "dataset_name": "scores",
                                                "not_before": AT.isoformat(), "reason": "busy"}),
]


@pytest.mark.parametrize(("table", "partition", "row", "data"), LEGACY, ids=[f"{t}-{i}" for i, (t, *_) in
                                                                                enumerate(LEGACY)])
def test_rows_written_before_the_records_read_and_write_back_unchanged(
        store: StateStore, unique: str, table: str, partition: str, row: str, data: dict[str, Any]) -> None:
    ledger: Table[Any] = getattr(Ledgers(store, Tables(unique)), table)
    store.upsert(Entity(ledger.name, partition, row, data))
    record = ledger.get(partition, row)
    assert record is not None
    ledger.upsert(record)
    stored = store.get(ledger.name, partition, row)
    assert stored is not None and dict(stored.data) == data
