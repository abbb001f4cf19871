"""State as the functions leave it after days of batches, written through the ledgers: for the status
view's tests (fakes, Azurite, the sandbox page) and its benchmark (50 datasets × 90 days)."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from types import MappingProxyType

from shared.core.claims import Claim
from shared.core.history import ColumnStats, Observation
from shared.services.deps import Deps
from shared.services.ledgers import Ledgers
from shared.services.ledgers.batches import BatchRecord
from shared.services.ledgers.deliveries import Attempt
from shared.services.ledgers.events import DECIDED, EventRecord
from shared.services.ledgers.history import HistoryRecord
from shared.services.ledgers.refreshes import RequestedRefresh
from shared.services.ledgers.runs import RunRecord
from shared.services.ledgers.verdicts import Verdict
from shared.services.ledgers.watch import Arrivals


def seed(deps: Deps, dataset: str, now: datetime, days: int, *, pipeline: str = "score_batch",
         output_prefix: str = "scores", bad_last: bool = True, seed_value: int = 7,
         file_name: str = "part-0.csv") -> list[str]:
    """One batch a day at 06:00 for ``days`` days before ``now``: claim, run, decision, verdict, history
    and, for the last one when ``bad_last``, a failed output, a held refresh and its alerts. Returns
    the run ids, oldest first."""
    rng = random.Random(seed_value)
    led = Ledgers.of(deps)
    run_ids = []
    arrivals = {}
    for day in range(days, 0, -1):
        start = (now - timedelta(days=day)).replace(hour=6, minute=0, second=0, microsecond=0)
        key = f"{start:%Y/%m/%d}"
        run_id = f"{rng.getrandbits(128):032x}"
        run_ids.append(run_id)
        bad = bad_last and day == 1
        duration = 300 + rng.gauss(0, 10) + (600 if bad else 0)
        claim = Claim("started", "t", start, start, 1, f"{dataset}:{key}", (f"raw/{dataset}/{key}/a.csv",),
                      run_id, start)
        led.batches.upsert(BatchRecord.of(dataset, key, claim))
        led.runs.upsert(RunRecord(run_id, dataset, pipeline, f"{dataset}:{key}", key, start, "Succeeded"))
        out_file = f"{output_prefix}/{key}/{file_name}"
        status = "fail" if bad else "pass"
        led.verdicts.upsert(Verdict(dataset, key, MappingProxyType({out_file: status}), status))
        decided_at = start + timedelta(seconds=duration)
        refresh = ({"workspace": "ws", "dataset": "pbi-1", "state": "held", "reason": f"outputs failed: {file_name}"}
                   if bad else {"workspace": "ws", "dataset": "pbi-1", "state": "started", "requestId": f"r{day}"})
        reply = {"runId": run_id, "pipeline": pipeline, "batchId": f"{dataset}:{key}", "dataset": dataset,
                 "run": {"status": "Succeeded", "succeeded": True, "durationSeconds": duration},
                 "outputs": status, "decision": "refresh_held" if bad else "refresh_started",
                 "refreshes": [refresh], "alerts": ["refresh_held", "run_slow"] if bad else []}
        led.events.upsert(EventRecord(run_id, DECIDED, decided_at, "{}", None, json.dumps(reply)))
        if not bad:
            led.refreshes.upsert(RequestedRefresh("ws|pbi-1", f"{decided_at:%Y-%m-%d}", f"r{day}", "Completed",
                                                  run_id, dataset, decided_at))
        rows = int(20000 * (0.33 if bad else 1 + rng.gauss(0, 0.02)))
        shift = 4 if bad else 0
        hist = tuple(float(max(0, int(1000 * (1 + rng.gauss(0, 0.03)) * (1 if i != 5 + shift else 3))))
                     for i in range(22))
        obs = Observation(decided_at - timedelta(seconds=5), dataset, "output", out_file, rows * 92, rows,
                          MappingProxyType({"score": ColumnStats(0.4, 0.1, int(rows * 0.01 * abs(rng.gauss(1, 0.1))),
                                                                 hist)}))
        led.history.upsert(HistoryRecord.of(obs, out_file, f"etag-{day}"))
        arrivals[key] = start.isoformat()
        if bad:
            for code in ("output_failed", "refresh_held"):
                for channel in ("teams", "email"):
                    led.attempts.upsert(Attempt(f"fp-{dataset}-{code}", f"{decided_at.isoformat()}|{code}",
                                                channel, "sent", dataset, code))
    last = max(arrivals.values()) if arrivals else None
    for stage in ("upstream", "output"):
        led.arrivals.upsert(Arrivals(dataset, stage, MappingProxyType(dict(sorted(arrivals.items())[-30:])),
                                     datetime.fromisoformat(last) if last else None, None))
    return run_ids
