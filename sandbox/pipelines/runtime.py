"""How the ADF emulator executes a local pipeline the way Data Factory does.

A pipeline is a Python callable taking a ``RunContext``; each step it wraps in ``ctx.activity(...)``
becomes an activity run. A run goes Queued → InProgress → Succeeded / Failed / Cancelled in its own
thread and, when a webhook is configured, ends with a Web activity posting the DESIGN 3.5 body.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

FINISHED = frozenset({"Succeeded", "Failed", "Cancelled"})
WEBHOOK_ACTIVITY = "NotifyAutopilot"


def adf_time(value: datetime | None) -> str | None:
    """ADF's own timestamp spelling: UTC, seven fractional digits, a Z."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond:06d}0Z"


def utcnow() -> datetime:
    return datetime.now(UTC)


class ActivityFailed(Exception):
    """Raised by a pipeline step to fail its activity with ADF's error shape."""

    def __init__(self, message: str, *, error_code: str = "2200", failure_type: str = "UserError") -> None:
        super().__init__(message)
        self.error_code = error_code
        self.failure_type = failure_type


class RunCancelled(Exception):
    """The run was cancelled while a step was running."""


PipelineBody = Callable[["RunContext"], object]


@dataclass(frozen=True)
class Pipeline:
    """A pipeline the emulator can run: its callable and the parameters it cannot run without."""

    name: str
    body: PipelineBody
    required: tuple[str, ...] = ()


@dataclass
class ActivityRecord:
    name: str
    activity_type: str
    pipeline: str
    pipeline_run_id: str
    inputs: Any = None
    activity_run_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    status: str = "InProgress"
    start: datetime = field(default_factory=utcnow)
    end: datetime | None = None
    output: dict[str, Any] = field(default_factory=dict)
    error: dict[str, str] = field(default_factory=dict)

    def finish(self, status: str, error: dict[str, str] | None = None) -> None:
        self.status, self.end = status, utcnow()
        if error:
            self.error = error

    def to_json(self) -> dict[str, Any]:
        duration = int((self.end - self.start).total_seconds() * 1000) if self.end else None
        return {
            "activityRunId": self.activity_run_id, "activityName": self.name,
            "activityType": self.activity_type,
            "pipelineName": self.pipeline, "pipelineRunId": self.pipeline_run_id, "status": self.status,
            "activityRunStart": adf_time(self.start), "activityRunEnd": adf_time(self.end),
            "durationInMs": duration, "input": self.inputs, "output": self.output,
            "error": self.error or {"errorCode": "", "message": "", "failureType": "", "target": self.name},
            "linkedServiceName": "", "retryAttempt": None, "userProperties": {},
            "iterationHash": "", "recoveryStatus": "None",
        }

    @property
    def last_updated(self) -> datetime:
        return self.end or self.start


@dataclass
class RunRecord:
    """One pipeline run, as the emulator keeps it. Mutated only under the emulator's lock."""

    run_id: str
    pipeline: str
    parameters: dict[str, Any]
    factory_id: str
    status: str = "Queued"
    run_start: datetime = field(default_factory=utcnow)
    run_end: datetime | None = None
    last_updated: datetime = field(default_factory=utcnow)
    message: str = ""
    activities: list[ActivityRecord] = field(default_factory=list)
    cancel_requested: threading.Event = field(default_factory=threading.Event)

    def set_status(self, status: str, message: str = "") -> None:
        self.status, self.last_updated = status, utcnow()
        if status in FINISHED:
            self.run_end = self.last_updated
        if message:
            self.message = message

    def to_json(self) -> dict[str, Any]:
        duration = int((self.run_end - self.run_start).total_seconds() * 1000) if self.run_end else None
        return {
            "id": f"{self.factory_id}/pipelineruns/{self.run_id}",
            "runId": self.run_id, "debugRunId": None, "runGroupId": self.run_id, "isLatest": True,
            "pipelineName": self.pipeline,
            # ADF reports every parameter value as a string; arrays and objects as JSON text.
            "parameters": {k: v if isinstance(v, str) else json.dumps(v) for k, v in self.parameters.items()},
            "runDimension": {},
            "invokedBy": {"id": self.run_id.replace("-", ""), "name": "Manual", "invokedByType": "Manual"},
            "runStart": adf_time(self.run_start), "runEnd": adf_time(self.run_end),
            "durationInMs": duration, "status": self.status, "message": self.message,
            "lastUpdated": adf_time(self.last_updated), "annotations": [],
        }


@dataclass(frozen=True)
class Injected:
    """A failure the emulator was told to cause: in ``activity``, or in the first one when empty."""

    message: str
    activity: str = ""


class RunContext:
    """What a pipeline body sees: its parameters, the emulator's config, and activity bookkeeping."""

    def __init__(self, record: RunRecord, config: Mapping[str, str], lock: threading.RLock,
                 injected: Injected | None = None) -> None:
        self.run_id = record.run_id
        self.pipeline = record.pipeline
        self.parameters: Mapping[str, Any] = dict(record.parameters)
        self.config = config
        self._record = record
        self._lock = lock
        self._injected = injected

    def check_cancelled(self) -> None:
        if self._record.cancel_requested.is_set():
            raise RunCancelled(self.run_id)

    @contextmanager
    def activity(self, name: str, activity_type: str = "Custom", inputs: Any = None,
                 output: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Record one activity run around the block; the yielded dict becomes its output. ``output`` is
        there from the start, so a failing activity still reports it (as a Databricks activity reports
        its ``runPageUrl`` once the job is submitted, whatever becomes of it)."""
        self.check_cancelled()
        record = ActivityRecord(name, activity_type, self.pipeline, self.run_id, inputs, output=dict(output or {}))
        with self._lock:
            self._record.activities.append(record)
            self._record.last_updated = utcnow()
        try:
            injected, self._injected = self._injected, None     # an injected failure fires once
            if injected and injected.activity in ("", name):
                raise ActivityFailed(injected.message, error_code="InjectedFailure")
            self._injected = injected
            yield record.output
        except RunCancelled:
            self._finish(record, "Cancelled", {"message": "The activity was cancelled with its run."})
            raise
        except ActivityFailed as exc:
            self._finish(record, "Failed", _error(exc.error_code, str(exc), exc.failure_type, name))
            raise
        except Exception as exc:  # a pipeline bug is a failed activity, as an ADF Custom activity would be
            message = f"{type(exc).__name__}: {exc}"
            self._finish(record, "Failed", _error("2011", message, "SystemError", name))
            raise ActivityFailed(message, error_code="2011") from exc
        self._finish(record, "Succeeded")

    def _finish(self, record: ActivityRecord, status: str, error: dict[str, str] | None = None) -> None:
        with self._lock:
            record.finish(status, error)
            self._record.last_updated = utcnow()


def _error(code: str, message: str, failure_type: str, target: str) -> dict[str, str]:
    return {"errorCode": code, "message": message, "failureType": failure_type, "target": target}


@dataclass(frozen=True)
class RunSettings:
    """The knobs that shape one run, read when it starts."""

    queue_delay: float = 0.05
    run_duration: float = 0.0          # a run lasts at least this long
    webhook_url: str = ""
    webhook_key: str = ""
    webhook_timeout: float = 60.0
    factory_name: str = ""


def execute(pipeline: Pipeline, record: RunRecord, config: Mapping[str, str], settings: RunSettings,
            lock: threading.RLock, injected: Injected | None) -> None:
    """Run ``pipeline`` for ``record`` to its end; meant for a background thread."""
    started = time.monotonic()
    if _wait_cancelled(record, settings.queue_delay):
        with lock:
            record.set_status("Cancelled", "The run was cancelled while queued.")
        return
    with lock:
        if record.status == "Queued":
            record.set_status("InProgress")
    ctx = RunContext(record, config, lock, injected)
    failure: tuple[str, str] | None = None   # (activity, message)
    try:
        pipeline.body(ctx)
        if injected and not record.activities:
            with ctx.activity(injected.activity or "InjectedFailure"):
                pass
        if _wait_cancelled(record, settings.run_duration - (time.monotonic() - started)):
            raise RunCancelled(record.run_id)
    except RunCancelled:
        with lock:
            record.set_status("Cancelled", "The run was cancelled.")
        return
    except ActivityFailed as exc:
        failed = next((a for a in reversed(record.activities) if a.status == "Failed"), None)
        failure = (failed.name, failed.error.get("message", "")) if failed else (pipeline.name, str(exc))
    except Exception as exc:  # a bug outside any activity still ends the run, as Failed
        failure = (pipeline.name, f"{type(exc).__name__}: {exc}")
    if settings.webhook_url:
        webhook_error = _notify(ctx, record, settings, failure)
        if webhook_error and failure is None:
            failure = (WEBHOOK_ACTIVITY, webhook_error)
    with lock:
        if failure is None:
            record.set_status("Succeeded")
        else:
            record.set_status("Failed", f"Operation on target {failure[0]} failed: {failure[1]}")


def _wait_cancelled(record: RunRecord, seconds: float) -> bool:
    return record.cancel_requested.wait(seconds) if seconds > 0 else record.cancel_requested.is_set()


def _notify(ctx: RunContext, record: RunRecord, settings: RunSettings,
            failure: tuple[str, str] | None) -> str:
    """The pipeline's final Web activity (on success and on failure). Returns an error message or ''."""
    body: dict[str, Any] = {
        "factory": settings.factory_name, "pipeline": record.pipeline, "runId": record.run_id,
        "status": "Failed" if failure else "Succeeded", "batchId": str(record.parameters.get("batchId", "")),
    }
    if failure:
        body["error"] = {"message": failure[1], "activity": failure[0]}
    if urlsplit(settings.webhook_url).scheme not in ("http", "https"):
        return f"the webhook URL {settings.webhook_url!r} is not http(s)"
    headers = {"Content-Type": "application/json"}
    if settings.webhook_key:
        headers["x-functions-key"] = settings.webhook_key
    request = urllib.request.Request(settings.webhook_url, data=json.dumps(body).encode(),  # noqa: S310  (http(s) only, checked above)
                                     headers=headers, method="POST")
    try:
        inputs = {"url": settings.webhook_url, "body": body}
        with ctx.activity(WEBHOOK_ACTIVITY, "WebActivity", inputs) as out:
            try:
                with urllib.request.urlopen(request, timeout=settings.webhook_timeout) as response:  # noqa: S310
                    out["statusCode"] = response.status
                    out["response"] = response.read(64 * 1024).decode("utf-8", "replace")
            except urllib.error.HTTPError as exc:
                detail = exc.read(2048).decode("utf-8", "replace")
                raise ActivityFailed(f"the webhook answered {exc.code}: {detail}", error_code="2108") from exc
            except (urllib.error.URLError, OSError) as exc:
                raise ActivityFailed(f"the webhook could not be reached: {exc}", error_code="2108") from exc
    except ActivityFailed as exc:
        return str(exc)
    except RunCancelled:
        return ""
    return ""
