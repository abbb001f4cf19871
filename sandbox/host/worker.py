"""Microsoft's Python worker library, driven the way the Functions host drives it.

In Azure the Functions host talks FunctionRpc over gRPC to the Python worker; the worker's library half
(``azure-functions-runtime``) indexes the app, loads its functions and runs invocations with the real
binding converters (``azure.functions`` and, for SDK-type bindings, ``azurefunctions.extensions.*``).
This module is the host side of that conversation, in process: it hands the library our ``protos``
(``sandbox.host.protos``), sends the requests the host sends, in the host's order (init → metadata →
load → invocations), and reads the answers. The library runs its coroutines on one event-loop thread
and sync functions on its own thread pool (``PYTHON_THREADPOOL_THREAD_COUNT``), as in the worker.

One step is ours: the library's indexer imports ``function_app.py`` from the app directory and takes
the one ``FunctionApp`` it finds (``loader.index_function_app``); the local host is given the app
object instead (tests run several apps in one process), so we take ``app.get_functions()`` and hand it
to the library's own ``process_indexed_function``, which builds the function registry and the
``RpcFunctionMetadata`` (raw bindings, SDK-type flags) that ``functions_metadata_request`` answers with.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
import threading
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.host import protos

log = logging.getLogger("sandbox.host")
HOST_VERSION = "4.1040.100"   # the Functions host version we answer to (any 4.x)
# What the Functions host offers a worker at init.
HOST_CAPABILITIES = {"TypedDataCollection": "true", "RpcHttpBodyOnly": "true", "RawHttpBodyBytes": "true"}
_lock = threading.Lock()
_current_app: list[Any] = []   # the app whose functions the library's registry holds


@dataclass
class _Request:
    """What the worker library is handed for each message: the StreamingMessage and host properties."""

    request: Any
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IndexedFunction:
    """One function as the host learns it from the worker's metadata response."""

    name: str
    function_id: str
    bindings: tuple[Mapping[str, Any], ...]     # the raw bindings (JSON), as the worker reports them

    @property
    def trigger(self) -> Mapping[str, Any]:
        return next(b for b in self.bindings if str(b.get("type", "")).endswith("Trigger"))

    @property
    def deferred(self) -> bool:
        """The worker asked for an SDK-type binding: the host sends a reference, not the content."""
        value = (self.trigger.get("properties") or {}).get("SupportsDeferredBinding")
        return str(value).lower() == "true"


class WorkerError(RuntimeError):
    """The worker library refused a request (indexing or loading failed)."""


class Worker:
    """One worker for one app: ``start()`` indexes and loads, ``invoke()`` runs an invocation."""

    def __init__(self, app: Any, app_directory: str) -> None:
        self.app = app
        self.app_directory = app_directory
        self.capabilities: dict[str, str] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sandbox-worker-loop", daemon=True)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> list[IndexedFunction]:
        """Init the worker, index the app and load every function; raise WorkerError if that fails."""
        from azure_functions_runtime import handle_event, start_threadpool_executor

        with _lock:
            running = _current_app[1] if _current_app and _current_app[0] is self.app else 0
            if not running and _current_app and _current_app[1] > 0:
                raise WorkerError("another app is running in this process; the worker library holds one "
                                  "app per process (stop the other local host first)")
            _fresh_worker_state(handle_event)
            _current_app[:] = [self.app, running + 1]
            if not running:   # hosts of one app in one process share the library's pool, as one worker
                start_threadpool_executor()
        self._thread.start()
        try:
            # Init from an empty directory: the worker indexes a function_app.py it finds there, and ours
            # is indexed from the app object below.
            with tempfile.TemporaryDirectory(prefix="sandbox-worker-") as empty:
                init = self._send(handle_event.worker_init_request, worker_init_request=protos.WorkerInitRequest(
                    host_version=HOST_VERSION, capabilities=HOST_CAPABILITIES, function_app_directory=empty))
            _raise_on_failure(init.result, "worker init")
            self.capabilities = dict(init.capabilities)
            metadata = self._index(handle_event)
            functions = []
            for entry in metadata.function_metadata_results:
                load = protos.FunctionLoadRequest(function_id=entry.function_id, metadata=entry)
                loaded = self._send(handle_event.function_load_request, function_load_request=load)
                _raise_on_failure(loaded.result, f"loading function {entry.name}")
                functions.append(IndexedFunction(entry.name, entry.function_id,
                                                 tuple(json.loads(raw) for raw in entry.raw_bindings)))
            return functions
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        from azure_functions_runtime import stop_threadpool_executor

        with _lock:
            if _current_app and _current_app[0] is self.app:
                _current_app[1] -= 1
                if _current_app[1] == 0:
                    stop_threadpool_executor()
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        if not self._loop.is_running():
            self._loop.close()

    # -- invocations -----------------------------------------------------------------------------

    def invoke(self, function_id: str, invocation_id: str, inputs: Mapping[str, Any],
               trigger_metadata: Mapping[str, Any] | None = None) -> Any:
        """Send an InvocationRequest (``inputs``: binding name → TypedData); return the InvocationResponse."""
        from azure_functions_runtime import handle_event

        request = protos.InvocationRequest(
            invocation_id=invocation_id, function_id=function_id,
            input_data=[protos.ParameterBinding(name=name, data=data) for name, data in inputs.items()],
            trigger_metadata=dict(trigger_metadata or {}))
        return self._send(handle_event.invocation_request, invocation_request=request)

    # -- the conversation ------------------------------------------------------------------------

    def _index(self, handle_event: Any) -> Any:
        from azure_functions_runtime import loader

        if hasattr(self.app, "functions_bindings"):   # get_functions() remembers names it has seen
            self.app.functions_bindings = None
        try:
            indexed = self.app.get_functions()
            results, _ = loader.process_indexed_function(protos, handle_event._functions, indexed,
                                                         self.app_directory)
        except Exception as exc:   # the worker reports indexing errors to the host as a failed status
            raise WorkerError(f"the worker could not index the app: {exc}") from exc
        handle_event._metadata_result = results
        response = self._send(handle_event.functions_metadata_request,
                              functions_metadata_request=protos.FunctionsMetadataRequest(
                                  function_app_directory=self.app_directory))
        _raise_on_failure(response.result, "function indexing")
        return response

    def _send(self, handler: Any, **content: Any) -> Any:
        message = protos.StreamingMessage(request_id="sandbox", **content)
        request = _Request(message, {"host": "127.0.0.1", "protos": protos})
        coroutine: Coroutine[Any, Any, Any] = handler(request)
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()


def _fresh_worker_state(handle_event: Any) -> None:
    """What a new worker process starts without. The library caches, per process, that an app has no
    SDK-type bindings when it first looks before the app imported the extension; our process may have
    indexed another app first, so that answer is forgotten (a found registry is kept)."""
    from azure_functions_runtime.bindings import meta

    handle_event.protos = protos
    if meta.DEFERRED_BINDING_REGISTRY is None:
        meta._DEFERRED_BINDING_REGISTRY_LOADED = False


def _raise_on_failure(result: Any, what: str) -> None:
    if result.status != protos.StatusResult.Success:
        raise WorkerError(f"{what} failed in the worker: {result.exception.message or 'no message'}")
