"""The product's nouns: blobs, batches, pipeline runs and alerts, as frozen values."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from shared.core.codes import ALERT_CODES


@dataclass(frozen=True)
class BlobInfo:
    """One blob as a listing shows it."""

    name: str
    size: int
    last_modified: datetime
    etag: str = ""


@dataclass(frozen=True)
class Batch:
    """The files of one upstream partition that belong to a single pipeline run."""

    dataset: str
    key: str                      # the partition path relative to the upstream prefix, e.g. 2026/11/21
    prefix: str                   # full blob prefix of the batch, ends with "/"
    files: tuple[BlobInfo, ...]   # data files, sorted by name (marker and ignored files excluded)
    marker: BlobInfo | None = None

    @property
    def batch_id(self) -> str:
        """Stable id passed to ADF as the ``batchId`` parameter and used to reconcile."""
        return f"{self.dataset}:{self.key}"

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def last_change(self) -> datetime:
        times = [f.last_modified for f in self.files]
        if self.marker is not None:
            times.append(self.marker.last_modified)
        return max(times)


class RunStatus(StrEnum):
    """ADF pipeline run statuses (the API's own spelling)."""

    QUEUED = "Queued"
    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELING = "Canceling"
    CANCELLED = "Cancelled"

    @property
    def finished(self) -> bool:
        return self in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)

    @classmethod
    def of(cls, text: str | None) -> RunStatus:
        for status in cls:
            if status.value.lower() == (text or "").lower():
                return status
        return cls.IN_PROGRESS  # unknown or transitional statuses count as still running


@dataclass(frozen=True)
class PipelineRun:
    run_id: str
    pipeline: str
    status: RunStatus
    parameters: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    run_start: datetime | None = None
    run_end: datetime | None = None
    message: str = ""


class Severity(StrEnum):
    INFO = "info"
    WARN = "warn"
    FAIL = "fail"

    @property
    def rank(self) -> int:
        return {"info": 0, "warn": 1, "fail": 2}[self.value]


@dataclass(frozen=True)
class Link:
    title: str
    url: str


@dataclass(frozen=True)
class Alert:
    """Something a person should know. ``topic`` + ``subject`` identify the episode it belongs to.

    A follow-up with ``resolves=True`` (e.g. ``upstream_recovered``) carries the same fingerprint as
    the alert it closes, so the dispatcher can pair them.
    """

    dataset: str
    code: str
    severity: Severity
    message: str
    ts: datetime
    topic: str = ""
    subject: str = ""
    facts: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    links: tuple[Link, ...] = ()
    resolves: bool = False

    def __post_init__(self) -> None:
        if self.code not in ALERT_CODES:
            raise ValueError(f"unknown alert code {self.code!r}; add it to shared.core.codes")

    @property
    def fingerprint(self) -> str:
        basis = f"{self.dataset}|{self.topic or self.code}|{self.subject}"
        return hashlib.sha256(basis.encode()).hexdigest()[:20]

    def to_json(self) -> str:
        body: dict[str, Any] = {
            "v": 1, "dataset": self.dataset, "code": self.code, "severity": self.severity.value,
            "message": self.message, "ts": self.ts.isoformat(), "topic": self.topic,
            "subject": self.subject, "fingerprint": self.fingerprint, "facts": dict(self.facts),
            "links": [{"title": link.title, "url": link.url} for link in self.links],
            "resolves": self.resolves,
        }
        return json.dumps(body, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Alert:
        """Parse a queue message. Raises ValueError (with a reason) on anything malformed."""
        try:
            body = json.loads(text)
            if not isinstance(body, dict):
                raise ValueError("an alert message must be a JSON object")
            return cls(
                dataset=str(body["dataset"]), code=str(body["code"]),
                severity=Severity(body["severity"]), message=str(body["message"]),
                ts=datetime.fromisoformat(body["ts"]), topic=str(body.get("topic", "")),
                subject=str(body.get("subject", "")),
                facts=MappingProxyType({str(k): str(v) for k, v in dict(body.get("facts", {})).items()}),
                links=tuple(Link(str(x["title"]), str(x["url"])) for x in body.get("links", [])),
                resolves=bool(body.get("resolves", False)),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed alert message: {exc!r}") from exc


@dataclass(frozen=True)
class Message:
    """A rendered notification, ready for one channel."""

    subject: str
    text: str                                  # plain text body (email, and a fallback everywhere)
    html: str = ""                             # email HTML body
    card: Mapping[str, Any] | None = None      # Teams: the full Workflows webhook envelope (Adaptive Card)
    to: tuple[str, ...] = ()                   # email recipients
