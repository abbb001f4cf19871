"""``autopilot backtest``: replay observations through the detectors the functions use.

Observations (DESIGN 3.4) are replayed in time order. Each one is judged against the history before
it (size, rows, null rates, drift), exactly as ``history.history_findings`` judges it with that
history; between observations, staleness is evaluated at every whole hour, as the hourly timer would.
Every alert that would have fired is returned, in time order.

Each stream (dataset and stage) keeps one ``HistoryReplay`` that learns every observation once, so a
replay costs the same per observation at any history length.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import groupby

from shared.core import batch_judgement, history, staleness
from shared.core.findings import Finding, to_alert
from shared.core.models import Severity
from shared.core.spec import Contract, DatasetSpec, DriftSpec, PipelinesConfig, StalenessSpec

TICK = timedelta(hours=1)
NEVER = datetime.max.replace(tzinfo=UTC)


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


def _stream_findings(stream: Sequence[history.Observation], contract: Contract) -> list[list[Finding]]:
    """Each observation's history findings, against the observations strictly before it in time."""
    replay = history.HistoryReplay(contract)
    out: list[list[Finding]] = []
    for _, group in groupby(stream, key=lambda o: o.ts):
        same_time = list(group)
        if len(same_time) == 1:
            out.append(replay.step(same_time[0]))
            continue
        # Files written at the same instant are not each other's history: judge them all first.
        out.extend(replay.findings(o) for o in same_time)
        for o in same_time:
            replay.learn(o)
    return out


def _quiet_until(state: staleness.EpisodeState, arrivals: staleness.Arrivals, spec: StalenessSpec) -> datetime:
    """Until the next arrival, ticks at or before this time cannot change the episode: ``staleness.step``
    has already recorded the last arrival, and fires only once ``now`` passes the deadline (or, in an
    open late episode, only on a new arrival). Skipping them keeps a daily dataset's 24 ticks per
    observation from costing 24 cadence computations."""
    if not spec.enabled or state.late_since is not None or state.last_arrival is None:
        return NEVER
    due = staleness.deadline(state.last_arrival, arrivals.cadence(), spec)
    return NEVER if due is None else due


def _batches(ordered: Sequence[history.Observation], config: PipelinesConfig) -> dict[int, history.Observation]:
    """What is judged, by position in ``ordered``: each observation for itself, except the output parts of
    a dataset with ``output.batch``, merged into one observation per batch (the guard's unit) and judged
    at the position of the batch's last part."""
    batched = {name: ds.output for name in {o.dataset for o in ordered}
               if (ds := _dataset(config, name)).output is not None and ds.output.batch.configured}
    out: dict[int, history.Observation] = {}
    parts: dict[tuple[str, str], list[int]] = {}
    for n, o in enumerate(ordered):
        spec = batched.get(o.dataset) if o.stage == "output" else None
        if spec is None:
            out[n] = o
        else:
            parts.setdefault((o.dataset, spec.batch_of(o.name) or o.name), []).append(n)
    for (_, key), positions in parts.items():
        merged = batch_judgement.merge([ordered[n] for n in positions], name=f"batch:{key}")
        if merged is not None:
            out[positions[-1]] = merged
    return out


def run(observations: Sequence[history.Observation], config: PipelinesConfig) -> list[BacktestAlert]:
    ordered = sorted(observations, key=lambda o: o.ts)
    if not ordered:
        return []
    judged_at = _batches(ordered, config)
    by_stream: dict[tuple[str, str], list[history.Observation]] = {}
    for n in sorted(judged_at):
        o = judged_at[n]
        by_stream.setdefault((o.dataset, o.stage), []).append(o)
    streams = sorted(by_stream)
    judged = {key: iter(_stream_findings(by_stream[key], _contract(_dataset(config, key[0]), key[1],
                                                                    by_stream[key])))
              for key in streams}
    specs = {key: _staleness_spec(_dataset(config, key[0]), key[1]) for key in streams}
    # One arrival model per stream, learned an arrival at a time (what the watcher rebuilds from the
    # arrivals it keeps).
    arrivals = {key: staleness.Arrivals(specs[key]) for key in streams}
    episodes = {key: staleness.EpisodeState() for key in streams}
    alerts: list[BacktestAlert] = []

    stepped: set[tuple[str, str]] = set()          # streams stepped since their last arrival
    quiet: dict[tuple[str, str], datetime] = {}

    def tick(at: datetime) -> None:
        for key in streams:
            recent = arrivals[key]
            if recent.last is None:
                continue
            if key in stepped:
                # Worked out only at a second tick without an arrival: hourly data never needs it.
                until = quiet.get(key)
                if until is None:
                    until = quiet[key] = _quiet_until(episodes[key], recent, specs[key])
                if at <= until:
                    continue
            episodes[key], fired = staleness.step(key[0], key[1], episodes[key], recent, specs[key], at)
            alerts.extend(BacktestAlert(at, a.dataset, a.code, a.severity, a.message)
                          for a in fired if a.severity is not Severity.INFO or a.resolves)
            stepped.add(key)
            quiet.pop(key, None)

    next_tick = ordered[0].ts.replace(minute=0, second=0, microsecond=0) + TICK
    for n, obs in enumerate(ordered):
        while next_tick <= obs.ts:
            tick(next_tick)
            next_tick += TICK
        key = (obs.dataset, obs.stage)
        unit = judged_at.get(n)
        if unit is not None and (alert := file_alert(unit, next(judged[key]))) is not None:
            alerts.append(alert)
        arrivals[key].add(obs.ts)
        stepped.discard(key)
        quiet.pop(key, None)
    tick(next_tick)  # the tick right after the last observation sees any recovery
    return alerts


def file_alert(obs: history.Observation, findings: Iterable[Finding]) -> BacktestAlert | None:
    """One alert per file, as the output guard raises one (its worst finding first, the rest counted);
    none when every warning continues an episode an earlier file already alerted."""
    serious = to_alert(findings)
    if not serious:
        return None
    head = serious[0]
    more = f" (+{len(serious) - 1} more: {', '.join(sorted({f.code for f in serious[1:]}))})" \
        if len(serious) > 1 else ""
    return BacktestAlert(obs.ts, obs.dataset, head.code, head.severity, head.message + more)


def worst(alerts: Iterable[BacktestAlert]) -> Severity | None:
    top = None
    for a in alerts:
        if top is None or a.severity.rank > top.rank:
            top = a.severity
    return top
