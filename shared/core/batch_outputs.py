"""Whether a batch's outputs may be judged as one: all written, all judged (the breaker's view).

The pipeline's final Web activity can reach the webhook while the output guard is still judging, or
before the last part file of a Spark batch has landed. The breaker decides on the batch only when
the batch is complete (its marker is there, or no file arrived for the quiet period) and every data
file listed now has a verdict; the batch's status is then the worst of its files.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.core.verdict import worst

SHOWN = 3   # failing parts named in a reason


@dataclass(frozen=True)
class OutputsSeen:
    """What the decision read: the batch's data files now, the verdicts of those judged, the marker."""

    files: tuple[str, ...]
    judged: Mapping[str, str]            # file → pass | warn | fail
    marker: str | None = None            # the configured marker (None: none configured)
    marker_seen: bool = False
    newest: datetime | None = None       # the newest data file's time
    batched: bool = False                # the dataset's batches are judged as one (output.batch configured)
    batch_status: str = ""               # that judgement (pass | warn | fail), "" until made
    batch_reason: str = ""               # what it found wrong with the batch


@dataclass(frozen=True)
class OutputsVerdict:
    ready: bool                          # complete and every file judged
    status: str | None                   # worst status of the batch's files, when ready
    reason: str                          # why not ready, or which parts failed


def waiting(seen: OutputsSeen, quiet_period: timedelta, now: datetime) -> str:
    """Why the batch cannot be judged as one yet ("" when complete and every file judged)."""
    if seen.marker is not None and not seen.marker_seen:
        return f"the batch's {seen.marker} marker has not arrived ({_judged(seen)})"
    if quiet_period and seen.newest is not None and now - seen.newest < quiet_period:
        return f"outputs are still arriving ({_judged(seen)})"
    if not seen.files:
        return "no output files for the batch yet"
    if any(name not in seen.judged for name in seen.files):
        return f"outputs not fully validated: {_judged(seen)}"
    return ""


def judge_outputs(seen: OutputsSeen, quiet_period: timedelta, now: datetime) -> OutputsVerdict:
    if why := waiting(seen, quiet_period, now):
        return OutputsVerdict(False, None, why)
    if seen.batched and not seen.batch_status:
        return OutputsVerdict(False, None, f"the batch is not judged as one yet ({_judged(seen)})")
    if seen.batched:
        return OutputsVerdict(True, worst([seen.batch_status, *(seen.judged[n] for n in seen.files)]),
                              seen.batch_reason)
    status = worst(seen.judged[name] for name in seen.files)
    failing = [posixpath.basename(name) for name in seen.files if seen.judged[name] == "fail"]
    reason = ""
    if failing:
        more = f" and {len(failing) - SHOWN} more" if len(failing) > SHOWN else ""
        reason = f"{len(failing)} of {len(seen.files)} files failed: {', '.join(failing[:SHOWN])}{more}"
    return OutputsVerdict(True, status, reason)


def _judged(seen: OutputsSeen) -> str:
    done = sum(1 for name in seen.files if name in seen.judged)
    return f"{done} of {len(seen.files)} judged"
