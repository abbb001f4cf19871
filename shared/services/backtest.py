"""``autopilot backtest``: replay observations through the detectors the functions use.

Observations (DESIGN 3.4) are replayed in time order. Each one is judged against the history before
it (size, rows, null rates, drift); between observations, staleness is evaluated at every whole
hour, as the hourly timer would. Every alert that would have fired is returned, in time order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from shared.core import history, staleness
from shared.core.models import Severity
from shared.core.spec import Contract, DatasetSpec, DriftSpec, PipelinesConfig, StalenessSpec

TICK = timedelta(hours=1)
HISTORY_WINDOWS = 3   # how many baseline windows of history each judgement replays


@dataclass(frozen=True)
class BacktestAlert:
    ts: datetime
    dataset: str
    code: str
    severity: Severity
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"ts": self.ts.isoformat().replace("+00:00", "Z"), "dataset": self.dataset, "code": self.code,
                "severity": self.severity.value, "message": self.message}


def _dataset(config: PipelinesConfig, name: str) -> DatasetSpec:
    try:
        return config.dataset(name)
    except KeyError:
        return DatasetSpec(name)


def _contract(ds: DatasetSpec, stage: str, observations: Iterable[history.Observation]) -> Contract:
    contract = ds.output.contract if stage == "output" and ds.output else Contract()
    if not contract.drift.columns:
        # A config that names only the dataset: judge drift on every column that carries histograms.
        columns = sorted({c for o in observations for c, s in o.columns.items() if s.histogram})
        contract = replace(contract, drift=replace(contract.drift or DriftSpec(), columns=tuple(columns)))
    return contract


def _staleness_spec(ds: DatasetSpec, stage: str) -> StalenessSpec:
    if stage == "output":
        return ds.output.staleness if ds.output else StalenessSpec()
    return ds.upstream_staleness


def run(observations: Sequence[history.Observation], config: PipelinesConfig) -> list[BacktestAlert]:
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
        for finding in history.history_findings(obs, past, contract):
            if finding.severity is not Severity.INFO:
                alerts.append(BacktestAlert(obs.ts, obs.dataset, finding.code, finding.severity, finding.message))
        seen[key].append(obs)
    tick(next_tick)  # the tick right after the last observation sees any recovery
    return alerts


def worst(alerts: Iterable[BacktestAlert]) -> Severity | None:
    top = None
    for a in alerts:
        if top is None or a.severity.rank > top.rank:
            top = a.severity
    return top
