"""Score the detectors on the labelled scenarios: precision, recall, false alerts per dataset-month.

Every scenario's observations go through ``backtest.run`` (the code behind ``autopilot backtest``)
with the config its owner would write: the dataset's name, plus what the scenario says its owner
declares (``Scenario.config``: a Spark job's ``output.batch``, a holiday list); cadences and baselines
are learned.

- An alert is **true** when it falls inside a labelled incident's window (same dataset, one of the
  incident's codes); an incident is **found** when at least one true alert falls in its window.
- An alert matching an expected change (a growth step's one ``level_shift`` notice) is tolerated:
  neither true nor false.
- Every other alert is **false**, whatever its code. ``*_recovered`` follow-ups are not scored: they
  close a late alert rather than report a problem.
- precision = true / (true + false); recall = found / incidents; false alerts per dataset-month are
  counted on the clean families (each scenario is one dataset over its observed span).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from bench.scenarios.generate import Incident, Scenario
from shared.core.spec import PipelinesConfig
from shared.core.typed import coerce
from shared.services import backtest

RESOLUTIONS = frozenset({"output_recovered", "upstream_recovered"})
MONTH = timedelta(days=30)


@dataclass
class Tally:
    scenarios: int = 0
    true: int = 0
    false: int = 0
    tolerated: int = 0
    incidents: int = 0
    found: int = 0
    clean_false: int = 0
    clean_months: float = 0.0
    false_codes: Counter[str] = field(default_factory=Counter)
    missed: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        for name in ("scenarios", "true", "false", "tolerated", "incidents", "found", "clean_false"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.clean_months += other.clean_months
        self.false_codes.update(other.false_codes)
        self.missed += other.missed

    @property
    def precision(self) -> float | None:
        return self.true / (self.true + self.false) if self.true + self.false else None

    @property
    def recall(self) -> float | None:
        return self.found / self.incidents if self.incidents else None

    @property
    def false_per_month(self) -> float | None:
        return self.clean_false / self.clean_months if self.clean_months else None


def config_body(scenario: Scenario) -> dict[str, object]:
    """The scenario's pipelines.yaml: its datasets by name, with what their owner declares (``config``)."""
    names = sorted({o.dataset for o in scenario.observations})
    return {"datasets": [{"name": n, **scenario.config} for n in names]}


def config_for(scenario: Scenario) -> PipelinesConfig:
    result, problems = coerce(PipelinesConfig, config_body(scenario))
    assert result is not None, problems
    return result


def _matches(alert: backtest.BacktestAlert, incident: Incident) -> bool:
    return alert.dataset == incident.dataset and alert.code in incident.codes and \
        incident.start <= alert.ts <= incident.end


def score(scenario: Scenario, alerts: Sequence[backtest.BacktestAlert]) -> Tally:
    tally = Tally(scenarios=1)
    wanted = [i for i in scenario.incidents if i.must_find]
    tolerated = [i for i in scenario.incidents if not i.must_find]
    found: set[int] = set()
    for alert in alerts:
        if alert.code in RESOLUTIONS:
            continue
        hits = [n for n, i in enumerate(wanted) if _matches(alert, i)]
        if hits:
            tally.true += 1
            found.update(hits)
        elif any(_matches(alert, i) for i in tolerated):
            tally.tolerated += 1
        else:
            tally.false += 1
            tally.false_codes[alert.code] += 1
    tally.incidents, tally.found = len(wanted), len(found)
    tally.missed = [f"{scenario.name}: {i.kind} at {i.start:%Y-%m-%d %H:%M}" for n, i in enumerate(wanted)
                    if n not in found]
    if scenario.clean and scenario.observations:
        span = scenario.observations[-1].ts - scenario.observations[0].ts
        datasets = len({o.dataset for o in scenario.observations})
        tally.clean_false, tally.clean_months = tally.false, datasets * (span / MONTH)
    return tally


def run(scenarios: Iterable[Scenario]) -> dict[tuple[str, str], Tally]:
    """Tallies per (half, family)."""
    out: dict[tuple[str, str], Tally] = {}
    for s in scenarios:
        alerts = backtest.run(s.observations, config_for(s))
        out.setdefault((s.half, s.family), Tally()).add(score(s, alerts))
    return out


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def table(tallies: dict[tuple[str, str], Tally], families: Sequence[str]) -> str:
    halves = ("tuning", "held-out")
    lines = ["| family | half | scenarios | incidents found | true / false alerts | precision | recall | "
             "false / dataset-month (clean) | false alerts by code |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    totals = {h: Tally() for h in halves}
    for family in families:
        for half in halves:
            t = tallies.get((half, family))
            if t is None:
                continue
            totals[half].add(t)
            codes = ", ".join(f"{c} {n}" for c, n in t.false_codes.most_common()) or "–"
            lines.append(f"| {family} | {half} | {t.scenarios} | {t.found}/{t.incidents} | {t.true} / {t.false} | "
                         f"{_fmt(t.precision)} | {_fmt(t.recall)} | {_fmt(t.false_per_month, 1)} | {codes} |")
    for half in halves:
        t = totals[half]
        if not t.scenarios:
            continue
        lines.append(f"| **all** | {half} | {t.scenarios} | {t.found}/{t.incidents} | {t.true} / {t.false} | "
                     f"**{_fmt(t.precision)}** | **{_fmt(t.recall)}** | **{_fmt(t.false_per_month, 1)}** | |")
    return "\n".join(lines)
