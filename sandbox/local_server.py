"""The lifecycle every sandbox HTTP emulator shares: a threaded server on 127.0.0.1, started and
stopped with the emulator (``with Emulator() as e: e.port``), its handler bound to the emulator."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self


class QuietServer(ThreadingHTTPServer):
    """A threading HTTP server that does not print a traceback when a client hangs up mid-request."""

    request_queue_size = 256   # many concurrent callers: a short backlog turns into 1 s SYN retries
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class JsonHandler(BaseHTTPRequestHandler):
    """A keep-alive handler that answers JSON, as the Azure REST APIs the emulators stand in for."""

    protocol_version = "HTTP/1.1"

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        """``payload`` None sends an empty body."""
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if data:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class LocalServer:
    """Mix into an emulator; its handler class reaches the emulator as ``self.owner``."""

    handler: ClassVar[type[BaseHTTPRequestHandler]]
    thread_name: ClassVar[str] = "sandbox-server"
    _address: tuple[str, int] = ("127.0.0.1", 0)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def start(self) -> Self:
        handler = type("Handler", (self.handler,), {"owner": self})
        self._server = QuietServer(self._address, handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name=self.thread_name,
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, f"{type(self).__name__} is not started"
        return int(self._server.server_address[1])


def error_body(code: str, message: str) -> dict[str, Any]:
    """The error shape Azure REST APIs answer with: ``{"error": {"code": ..., "message": ...}}``."""
    return {"error": {"code": code, "message": message}}


def set_knobs(mode: object, lock: threading.Lock, body: bytes,
              check: Callable[[dict[str, Any]], None] | None = None) -> tuple[int, dict[str, Any]]:
    """``POST /_…/mode``: set the named attributes of ``mode`` from a JSON object; an unknown key (or one
    ``check`` refuses with ValueError) is a 400 that lists the known ones."""
    try:
        values = json.loads(body or b"{}")
        if not isinstance(values, dict) or set(values) - set(vars(mode)):
            raise ValueError(f"known keys: {sorted(vars(mode))}")
        if check is not None:
            check(values)
    except ValueError as exc:
        return 400, {"error": str(exc)}
    with lock:
        for name, value in values.items():
            setattr(mode, name, value)
    return 200, {"ok": True}


def wait_until_interrupted() -> None:
    """A standalone emulator's main: serve until Ctrl-C."""
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
