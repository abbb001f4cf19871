"""What a run's activity runs tell the on-call person: where the work ran (links from an activity's
output), what went wrong (its error lines), and Copy activities that lost rows.

Activity runs come from ADF's queryActivityruns as the port's dicts: ``activity``, ``type``,
``status``, ``error`` (the error's message), ``error_code``, ``output`` (the activity's output object).
The output shapes read here are ADF's own:
- Databricks notebook / jar / Python: ``{"runPageUrl": "https://adb-….azuredatabricks.net/…#job/…/run/…"}``
- Custom (Azure Batch): ``{"exitcode": 1, "outputs": ["https://….blob.core.windows.net/adfjobs/<id>/output/stdout.txt",
  ".../stderr.txt"]}``
- Azure ML and others: any top-level https URL (titled by its key, Azure ML by its host)
- Copy: ``{"rowsRead": 10000, "rowsCopied": 9200, "rowsSkipped": 0, "dataRead": …, "dataWritten": …}``
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from shared.core.models import Link

MAX_LINKS = 6
MAX_ERROR_LINES = 8
MAX_LINE = 300
ERROR_KEYS = ("runError", "errorMessage", "error")    # output fields some activities put their failure in


def _output(activity: Mapping[str, Any]) -> Mapping[str, Any]:
    output = activity.get("output")
    return output if isinstance(output, Mapping) else {}


def _https(value: object) -> str:
    if not isinstance(value, str):
        return ""
    parts = urlsplit(value.strip())
    return value.strip() if parts.scheme == "https" and parts.netloc else ""


def _title(activity: str, key: str, url: str) -> str:
    path = urlsplit(url).path.lower()
    host = urlsplit(url).netloc.lower()
    if key == "runPageUrl":
        return f"{activity}: Databricks run"
    if path.endswith("/stdout.txt"):
        return f"{activity}: Batch stdout"
    if path.endswith("/stderr.txt"):
        return f"{activity}: Batch stderr"
    if host == "ml.azure.com" or host.endswith(".ml.azure.com"):
        return f"{activity}: Azure ML run"
    return f"{activity}: {key}"


def links(activities: Iterable[Mapping[str, Any]]) -> tuple[Link, ...]:
    """Every https link the activities' outputs carry (run pages, log files), in activity order, each once."""
    out: dict[str, Link] = {}
    for activity in activities:
        name = str(activity.get("activity") or activity.get("type") or "activity")
        for key, value in _output(activity).items():
            values = value if isinstance(value, list) else [value]
            for item in values:
                if (url := _https(item)) and url not in out:
                    out[url] = Link(_title(name, str(key), url), url)
    return tuple(out.values())[:MAX_LINKS]


def error_lines(activity: Mapping[str, Any]) -> list[str]:
    """The failing activity's error as lines: its message, then a failure its output names (a notebook's
    ``runError``), without blank or repeated lines, each trimmed."""
    texts = [str(activity.get("error") or "")]
    output = _output(activity)
    texts += [str(output[k]) for k in ERROR_KEYS if isinstance(output.get(k), str)]
    lines: list[str] = []
    for text in texts:
        for raw in text.splitlines():
            line = raw.strip()
            if line and line not in lines:
                lines.append(line if len(line) <= MAX_LINE else line[:MAX_LINE - 1] + "…")
    return lines[:MAX_ERROR_LINES]


@dataclass(frozen=True)
class CopyMismatch:
    """A Copy activity that wrote fewer (or more) rows than it read, or skipped some."""

    activity: str
    rows_read: int
    rows_copied: int
    rows_skipped: int

    @property
    def unexplained(self) -> int:
        """Rows neither written nor reported skipped (negative: more written than read)."""
        return self.rows_read - self.rows_copied - self.rows_skipped

    def sentence(self) -> str:
        text = f"Copy activity {self.activity} read {self.rows_read:,} rows and wrote {self.rows_copied:,}"
        if self.rows_skipped:
            text += f"; it skipped {self.rows_skipped:,} incompatible rows"
        if self.unexplained > 0:
            text += f"; {self.unexplained:,} rows are unaccounted for"
        elif self.unexplained < 0:
            text += f"; {-self.unexplained:,} more rows were written than read"
        return text + "."


def _count(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def copy_mismatches(activities: Sequence[Mapping[str, Any]]) -> list[CopyMismatch]:
    """Succeeded Copy activities whose output reports rows written different from rows read, or skipped
    rows. A Copy without both counts (a binary copy counts files, not rows) is not judged."""
    out = []
    for activity in activities:
        if str(activity.get("type", "")).lower() != "copy" or activity.get("status") != "Succeeded":
            continue
        output = _output(activity)
        read, copied = _count(output.get("rowsRead")), _count(output.get("rowsCopied"))
        skipped = _count(output.get("rowsSkipped")) or 0
        if read is None or copied is None:
            continue
        if read != copied or skipped:
            out.append(CopyMismatch(str(activity.get("activity", "")), read, copied, skipped))
    return out
