"""A batch of many output files judged as one, pure: the parts' observations merged into the batch's
observation, the parts' schemas checked against each other, the batch judged against batch history.

Each part is profiled and contract-checked on its own (``verdict.judge_file``); what is kept of it
(``Part``) is folded here into one observation (rows and bytes summed, per-column nulls summed, means
weighted by the non-null values, standard deviations pooled, histograms added bin-wise when their
bins agree), which is what a batched dataset's baselines learn. One alert per batch names the failing
parts, instead of one per part.
"""

from __future__ import annotations

import math
import posixpath
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from shared.core import history
from shared.core.findings import Finding, status, to_alert
from shared.core.models import Alert, Severity
from shared.core.spec import Contract
from shared.core.verdict import worst

SHOWN = 3   # failing parts named in an alert


@dataclass(frozen=True)
class Part:
    """What the output guard kept of one judged part file."""

    name: str
    status: str                               # pass | warn | fail (its contract checks)
    codes: tuple[str, ...] = ()               # its warn and fail finding codes, worst first
    message: str = ""                         # its worst finding, "" when it passed
    schema: Mapping[str, str] = MappingProxyType({})   # column → type as profiled ("null": no value seen)
    observation: history.Observation | None = None      # None: the part was unreadable


@dataclass(frozen=True)
class BatchJudgement:
    status: str                               # worst of the parts and the batch's own findings
    codes: tuple[str, ...]                    # warn and fail codes, worst first
    findings: tuple[Finding, ...]             # the batch's own: history and schema agreement
    observation: history.Observation | None   # what history keeps (None: no part was readable)
    failing: tuple[str, ...]                  # parts that failed or warned, by name
    reason: str                               # one sentence for the breaker: what is wrong with the batch
    alerts: tuple[Alert, ...]


def merge(observations: Sequence[history.Observation], *, name: str) -> history.Observation | None:
    """One observation for the batch: its time is the newest part's."""
    if not observations:
        return None
    first = observations[0]
    rows = None if any(o.rows is None for o in observations) else sum(o.rows or 0 for o in observations)
    names = list(dict.fromkeys(c for o in observations for c in o.columns))
    columns = {c: merge_columns([(o.rows, o.columns[c]) for o in observations if c in o.columns]) for c in names}
    return history.Observation(max(o.ts for o in observations), first.dataset, first.stage, name,
                               sum(o.bytes for o in observations), rows, MappingProxyType(columns))


def merge_columns(parts: Sequence[tuple[int | None, history.ColumnStats]]) -> history.ColumnStats:
    """Nulls summed; mean weighted by non-null values; std pooled (population, as profiles give it);
    histograms added bin-wise when every part has one of the same shape. A statistic some part lacks
    is left out rather than guessed."""
    nulls = None if any(s.nulls is None for _, s in parts) else sum(s.nulls or 0 for _, s in parts)
    mean = std = None
    weights = [(rows - (s.nulls or 0)) if rows is not None and s.nulls is not None else None for rows, s in parts]
    if all(w is not None for w in weights):
        counted = [(w or 0, s) for w, (_, s) in zip(weights, parts, strict=True) if w]
        total = sum(w for w, _ in counted)
        if total and all(s.mean is not None for _, s in counted):
            mean = sum(w * (s.mean or 0.0) for w, s in counted) / total
            if all(s.std is not None for _, s in counted):
                second = sum(w * ((s.std or 0.0) ** 2 + (s.mean or 0.0) ** 2) for w, s in counted) / total
                std = math.sqrt(max(second - mean * mean, 0.0))
    hists = [s.histogram for _, s in parts]
    histogram = None
    if hists and all(h is not None for h in hists) and len({len(h or ()) for h in hists}) == 1:
        histogram = tuple(float(sum(b)) for b in zip(*(h or () for h in hists), strict=True))
    return history.ColumnStats(mean, std, nulls, histogram)


def schema_findings(parts: Sequence[Part]) -> list[Finding]:
    """A readable part whose columns or types differ from the batch's usual schema (the columns most
    parts have, each column's most common type) is a ``part_schema_mismatch``: readers of the folder see
    one table. A type is compared only where the part had a value to type (an empty part says "null")."""
    readable = [p for p in parts if p.observation is not None]
    if len(readable) < 2:
        return []
    names, _ = Counter(frozenset(p.schema) for p in readable).most_common(1)[0]
    typed: dict[str, Counter[str]] = {}
    for p in readable:
        for c, t in p.schema.items():
            if t != "null":
                typed.setdefault(c, Counter())[t] += 1
    usual = {c: typed[c].most_common(1)[0][0] for c in names if c in typed}
    out = []
    for p in readable:
        missing = sorted(names - set(p.schema))
        extra = sorted(set(p.schema) - names)
        retyped = sorted(c for c in set(usual) & set(p.schema) if p.schema[c] not in ("null", usual[c]))
        said = ([f"missing {', '.join(missing)}"] if missing else []) + \
               ([f"extra {', '.join(extra)}"] if extra else []) + \
               [f"{c} is {p.schema[c]}, not {usual[c]}" for c in retyped]
        if said:
            out.append(Finding("part_schema_mismatch", Severity.FAIL,
                               f"Part {posixpath.basename(p.name)} does not have the schema the other parts share: "
                               + "; ".join(said) + "."))
    return out


def judge_batch(dataset: str, contract: Contract, container: str, batch: str, parts: Sequence[Part],
                past: Sequence[history.Observation], now: datetime) -> BatchJudgement:
    """The batch's status, findings and alert; ``past`` is the batch history (earlier batches)."""
    observation = merge([p.observation for p in parts if p.observation is not None], name=f"batch:{batch}")
    findings = schema_findings(parts)
    if observation is not None:
        findings += history.history_findings(observation, past, contract)
    own = status(findings)
    failing = tuple(p.name for p in parts if p.status in ("warn", "fail"))
    batch_status = worst([own, *(p.status for p in parts)])
    serious = sorted((f for f in findings if f.severity in (Severity.WARN, Severity.FAIL)),
                     key=lambda f: -f.severity.rank)
    codes = tuple(dict.fromkeys([*(f.code for f in serious), *(c for p in parts for c in p.codes)]))
    said = [_failing(parts, failing)] if failing else []
    said += [f.message for f in serious]
    reason = "; ".join(said)
    raise_alert = batch_status in ("warn", "fail") and (bool(failing) or bool(to_alert(findings)))
    alerts: tuple[Alert, ...] = ()
    if raise_alert:
        facts = {"batch": f"{dataset}:{batch}", "parts": str(len(parts)), "findings": ", ".join(sorted(set(codes))),
                 "failing_parts": ", ".join(f"{container}/{n}" for n in failing) or "none"}
        if observation is not None:
            facts |= {"rows": str(observation.rows), "bytes": str(observation.bytes)}
        code = "output_failed" if batch_status == "fail" else "output_warning"
        alerts = (Alert(dataset, code, Severity(batch_status), f"Batch {batch} of {dataset}: {reason}", now,
                        topic="output_validation", subject=f"batch:{batch}", facts=facts),)
    return BatchJudgement(batch_status, codes, tuple(findings), observation, failing, reason, alerts)


def _failing(parts: Sequence[Part], failing: Sequence[str]) -> str:
    by_name = {p.name: p for p in parts}
    named = [f"{posixpath.basename(n)} ({by_name[n].message or by_name[n].status})" for n in failing[:SHOWN]]
    more = f" and {len(failing) - SHOWN} more" if len(failing) > SHOWN else ""
    return f"{len(failing)} of {len(parts)} files failed: {', '.join(named)}{more}"
