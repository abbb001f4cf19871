"""ORACLE (tests only): backtest.run as of 6719ae0 (each observation judged against its last
3 windows of history, replayed from scratch)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from shared.core import history, staleness
from shared.core.models import Severity
from shared.core.spec import PipelinesConfig
from shared.services.backtest import TICK, BacktestAlert, _contract, _dataset, _staleness_spec
from tests.oracle import history as old_history

HISTORY_WINDOWS = 3


def run(observations: Sequence[history.Observation], config: PipelinesConfig, *,
        judge_history: bool = True) -> list[BacktestAlert]:
    """``judge_history=False``: the staleness ticks alone (fast enough for long streams)."""
    ordered = sorted(observations, key=lambda o: o.ts)
    if not ordered:
        return []
    streams = sorted({(o.dataset, o.stage) for o in ordered})
    contracts = {(d, s): _contract(_dataset(config, d), s, (o for o in ordered if (o.dataset, o.stage) == (d, s)))
                 for d, s in streams}
    seen: dict[tuple[str, str], list[history.Observation]] = {key: [] for key in streams}
    episodes = {key: staleness.EpisodeState() for key in streams}
    alerts: list[BacktestAlert] = []

    def tick(at: datetime) -> None:
        for key in streams:
            past = seen[key]
            if not past:
                continue
            spec = _staleness_spec(_dataset(config, key[0]), key[1])
            episodes[key], fired = staleness.step(key[0], key[1], episodes[key], [o.ts for o in past[-40:]],
                                                  spec, at)
            alerts.extend(BacktestAlert(at, a.dataset, a.code, a.severity, a.message)
                          for a in fired if a.severity is not Severity.INFO or a.resolves)

    next_tick = ordered[0].ts.replace(minute=0, second=0, microsecond=0) + TICK
    for obs in ordered:
        while next_tick <= obs.ts:
            tick(next_tick)
            next_tick += TICK
        key = (obs.dataset, obs.stage)
        contract = contracts[key]
        past = seen[key][-contract.history.window * HISTORY_WINDOWS:]
        for finding in old_history.history_findings(obs, past, contract) if judge_history else []:
            if finding.severity is not Severity.INFO:
                alerts.append(BacktestAlert(obs.ts, obs.dataset, finding.code, finding.severity, finding.message))
        seen[key].append(obs)
    tick(next_tick)  # the tick right after the last observation sees any recovery
    return alerts
