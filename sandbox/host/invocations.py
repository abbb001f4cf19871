"""Invoking a function through the worker, as the Functions host does, and the record of every invocation.

The record (``host.invocations``) is what tests and the demo read; each invocation is also logged
like the Functions host logs it ("Executed 'Functions.name' (Succeeded, Id=..., Duration=12ms)").
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandbox.host import protos
from sandbox.host.bindings import Function
from sandbox.host.payloads import Payload
from sandbox.host.worker import Worker

log = logging.getLogger("sandbox.host")


@dataclass(frozen=True)
class Invocation:
    """One finished invocation. ``detail`` says what triggered it (blob, message id, route...)."""

    id: str
    function: str
    trigger: str
    started: datetime
    duration: float
    succeeded: bool
    error: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


class FunctionFailed(Exception):
    """A function's failure as the worker reported it (its message; its traceback as a note)."""


class InvocationLog:
    """Runs invocations and keeps their records; threads may wait for records to appear."""

    def __init__(self) -> None:
        self.worker: Worker | None = None
        self._records: list[Invocation] = []
        self._changed = threading.Condition()

    @property
    def records(self) -> list[Invocation]:
        with self._changed:
            return list(self._records)

    def invoke(self, function: Function, payload: Payload, detail: Mapping[str, Any] | None = None,
               convert: Callable[[Any], Any] | None = None) -> tuple[Invocation, Any]:
        """Send the invocation to the worker; never raises what the function raised.

        ``payload`` is what the host sends (input data and trigger metadata, see ``payloads``);
        ``convert`` turns the worker's return value into what the trigger needs (an HTTP response);
        if it fails, the invocation failed, as in the host.
        """
        if self.worker is None:
            raise RuntimeError("the host has no worker; start it first")
        invocation_id = str(uuid.uuid4())
        inputs, metadata = payload
        started, clock = datetime.now(UTC), time.perf_counter()
        result: Any = None
        error: str | None = None
        trace = ""
        try:
            response = self.worker.invoke(function.function_id, invocation_id,
                                          inputs, metadata)
            if response.result.status != protos.StatusResult.Success:
                error = response.result.exception.message or "the function failed"
                trace = response.result.exception.stack_trace
            elif convert is not None:
                result = convert(response.return_value)
        except Exception as exc:  # the host's boundary: nothing a function does may stop the host
            error, trace = f"{type(exc).__name__}: {exc}", ""
        duration = time.perf_counter() - clock
        record = Invocation(invocation_id, function.name, function.trigger, started, duration,
                            error is None, error, dict(detail or {}))
        fields = {"function": function.name, "trigger": function.trigger, "invocation_id": invocation_id,
                  "duration_ms": round(duration * 1000, 1), "succeeded": error is None, **record.detail}
        if error is None:
            log.info("Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%.0fms)", function.name,
                     invocation_id, duration * 1000, extra={"invocation": fields})
        else:
            failure = FunctionFailed(error)
            if trace:   # the worker's own traceback, shown where a console shows tracebacks
                failure.add_note(trace.rstrip())
            log.error("Executed 'Functions.%s' (Failed, Id=%s, Duration=%.0fms)", function.name,
                      invocation_id, duration * 1000, extra={"invocation": fields},
                      exc_info=(FunctionFailed, failure, None))
        with self._changed:
            self._records.append(record)
            self._changed.notify_all()
        return record, result

    def wait_for(self, function: str, count: int = 1, timeout: float = 10.0,
                 predicate: Callable[[Invocation], bool] | None = None) -> list[Invocation]:
        """Block until ``count`` matching invocations of ``function`` exist; return them."""
        def matching() -> list[Invocation]:
            return [r for r in self._records
                    if r.function == function and (predicate is None or predicate(r))]
        with self._changed:
            if not self._changed.wait_for(lambda: len(matching()) >= count, timeout=timeout):
                found = matching()
                raise TimeoutError(f"{function}: {len(found)} of {count} invocation(s) after {timeout} s")
            return matching()
