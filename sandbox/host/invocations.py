"""Calling a function the way the Python worker does, and the record of every invocation.

The record (``host.invocations``) is what tests and the demo read; each invocation is also logged
like the Functions host logs it ("Executed 'Functions.name' (Succeeded, Id=..., Duration=12ms)").
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import azure.functions as func

from sandbox.host.bindings import Function

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


class _Context(func.Context):
    """The ``context`` argument a function may declare."""

    def __init__(self, invocation_id: str, function_name: str) -> None:
        self._invocation_id = invocation_id
        self._function_name = function_name
        self._local = threading.local()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        return self._local

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return ""

    @property
    def trace_context(self) -> Any:
        return None

    @property
    def retry_context(self) -> Any:
        return None


class InvocationLog:
    """Runs invocations and keeps their records; threads may wait for records to appear."""

    def __init__(self) -> None:
        self._records: list[Invocation] = []
        self._changed = threading.Condition()

    @property
    def records(self) -> list[Invocation]:
        with self._changed:
            return list(self._records)

    def invoke(self, function: Function, argument: Any, detail: Mapping[str, Any] | None = None,
               convert: Callable[[Any], Any] | None = None) -> tuple[Invocation, Any]:
        """Call the function with its trigger argument; never raises what the function raised.

        ``convert`` turns the return value into what the trigger needs (an HTTP response); if it
        fails, the invocation failed, as in the worker.
        """
        invocation_id = str(uuid.uuid4())
        kwargs: dict[str, Any] = {function.arg_name: argument}
        if function.wants_context:
            kwargs["context"] = _Context(invocation_id, function.name)
        started, clock = datetime.now(UTC), time.perf_counter()
        result: Any = None
        error: BaseException | None = None
        try:
            result = function.user_function(**kwargs)
            if inspect.isawaitable(result):
                result = asyncio.run(_await(result))
            if convert is not None:
                result = convert(result)
        except Exception as exc:  # the host's boundary: a failing function must not stop the host
            error = exc
        duration = time.perf_counter() - clock
        record = Invocation(invocation_id, function.name, function.trigger, started, duration,
                            error is None, None if error is None else f"{type(error).__name__}: {error}",
                            dict(detail or {}))
        fields = {"function": function.name, "trigger": function.trigger, "invocation_id": invocation_id,
                  "duration_ms": round(duration * 1000, 1), "succeeded": error is None, **record.detail}
        if error is None:
            log.info("Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%.0fms)", function.name,
                     invocation_id, duration * 1000, extra={"invocation": fields})
        else:
            log.error("Executed 'Functions.%s' (Failed, Id=%s, Duration=%.0fms)", function.name,
                      invocation_id, duration * 1000, extra={"invocation": fields},
                      exc_info=(type(error), error, error.__traceback__))
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


async def _await(awaitable: Any) -> Any:
    return await awaitable
