"""HTTP triggers at ``http://127.0.0.1:<port>/<routePrefix>/<route>`` with function-key auth.

Routes use the Functions template syntax (``items/{id:int}``, ``files/{*path}``, ``{name?}``).
``authLevel`` function accepts a host key, the function's own key or the master key, sent as the
``x-functions-key`` header or the ``code`` query parameter; admin accepts only the master key;
anonymous needs none. No valid key → 401. A function that raises → 500 with a generic body.

The request goes to the worker as the Azure host sends it (``payloads.http``); the worker library runs
the function on its pool of ``PYTHON_THREADPOOL_THREAD_COUNT`` threads (default min(32, cores + 4)),
first come, first served, and its return value comes back as the response.
"""

from __future__ import annotations

import hmac
import logging
import re
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from sandbox.host import payloads
from shared.core.typed import Invalid

if TYPE_CHECKING:
    from sandbox.host.invocations import Invocation

log = logging.getLogger("sandbox.host")
MAX_BODY = 100 * 1024 * 1024   # the Functions host's request size limit
_PARAMETER = re.compile(r"\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z]+)(?:\([^)]*\))?)?(\?)?\}")
_CONSTRAINTS = {"int": r"-?\d+", "long": r"-?\d+", "alpha": r"[A-Za-z]+", "bool": r"(?i:true|false)",
                "guid": r"[0-9A-Fa-f]{8}-?(?:[0-9A-Fa-f]{4}-?){3}[0-9A-Fa-f]{12}",
                "float": r"-?\d+(?:\.\d+)?", "double": r"-?\d+(?:\.\d+)?", "decimal": r"-?\d+(?:\.\d+)?"}


def compile_route(template: str) -> re.Pattern[str]:
    """A route template → a regex over the path after the prefix, e.g. ``/items/42``."""
    if not template.strip("/"):
        return re.compile("/?")
    regex = ""
    for segment in template.strip("/").split("/"):
        whole = _PARAMETER.fullmatch(segment)
        if whole and (whole.group(1) or whole.group(4)):   # catch-all or optional: the slash goes too
            body = ".*" if whole.group(1) else _CONSTRAINTS.get((whole.group(3) or "").lower(), "[^/]+")
            regex += f"(?:/(?P<{whole.group(2)}>{body}))?"
            continue
        piece, position = "", 0
        for match in _PARAMETER.finditer(segment):
            body = _CONSTRAINTS.get((match.group(3) or "").lower(), "[^/]+")
            piece += re.escape(segment[position:match.start()]) + f"(?P<{match.group(2)}>{body})"
            position = match.end()
        regex += "/" + piece + re.escape(segment[position:])
    try:
        return re.compile(regex + "/?", re.IGNORECASE)
    except re.error as exc:
        raise Invalid(f"route {template!r} is not a valid route template ({exc})") from exc


class KeyRing:
    """Host keys (valid for every function), per-function keys and the master key."""

    def __init__(self, host_keys: Mapping[str, str], function_keys: Mapping[str, Mapping[str, str]],
                 master_key: str) -> None:
        self.host_keys = dict(host_keys)
        self.function_keys = {name: dict(keys) for name, keys in function_keys.items()}
        self.master_key = master_key

    def allows(self, level: str, function: str, key: str | None) -> bool:
        if level == "ANONYMOUS":
            return True
        if not key:
            return False
        valid = [self.master_key]
        if level != "ADMIN":
            valid += [*self.host_keys.values(), *self.function_keys.get(function, {}).values()]
        return any(hmac.compare_digest(key.encode(), v.encode()) for v in valid if v)


Invoke = Callable[..., "tuple[Invocation, Any]"]


class HttpFront:
    """The HTTP server thread and its routing table."""

    def __init__(self, functions: list[Any], route_prefix: str, keys: KeyRing, invoke: Invoke,
                 port: int = 0, raw_body_bytes: bool = True) -> None:
        # Literal routes before parameterised ones, as ASP.NET routing orders them.
        self.routes = sorted(functions, key=lambda f: (f.extra["route"].count("{"), -len(f.extra["route"])))
        self.prefix = "/" + route_prefix.strip("/") if route_prefix.strip("/") else ""
        self.keys = keys
        self.invoke = invoke
        self.raw_body_bytes = raw_body_bytes   # what the worker asked for at init (RawHttpBodyBytes)
        self.server = _Server(("127.0.0.1", port), _Handler)
        self.server.front = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        port: int = self.server.server_address[1]
        return port

    def start(self) -> None:
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="sandbox-http", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> threading.Thread | None:
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join(timeout)
        self.server.server_close()   # joins request threads still running
        return self._thread if self._thread is not None and self._thread.is_alive() else None

    def match(self, path: str, method: str) -> tuple[Any, dict[str, str]] | None:
        if self.prefix:
            if path.lower() != self.prefix.lower() and not path.lower().startswith(self.prefix.lower() + "/"):
                return None
            path = path[len(self.prefix):]
        for function in self.routes:
            found = function.extra["matcher"].fullmatch(path)
            if found and (not function.extra["methods"] or method in function.extra["methods"]):
                params = {k: unquote(v) for k, v in found.groupdict().items() if v is not None}
                return function, params
        return None


class _Server(ThreadingHTTPServer):
    request_queue_size = 256   # many concurrent callers: a short backlog turns into 1 s SYN retries
    daemon_threads = False   # so server_close() can join in-flight requests: no thread outlives stop()
    block_on_close = True
    front: HttpFront


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # Keep-alive, as the real host: callers reuse connections (no TCP handshake and no new thread per
    # request). An idle connection closes after ``timeout`` so stop() never waits long for it.
    protocol_version = "HTTP/1.1"
    timeout = 1.0

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http: " + format, *args)

    def _serve(self) -> None:
        front = self.server.front
        url = urlsplit(self.path)
        # The body is read before anything is refused: closing a socket with unread data resets it,
        # and the client would see a reset instead of the 401 or 404.
        body = self._read_body()
        if body is None:
            return
        matched = front.match(url.path, self.command)
        if matched is None:
            self._reply(404, b"", "text/plain")
            return
        function, route_params = matched
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            lower = name.lower()
            headers[lower] = f"{headers[lower]}, {value}" if lower in headers else value
        key = headers.get("x-functions-key") or params.get("code")
        if not front.keys.allows(function.extra["auth_level"], function.name, key):
            self._reply(401, b"", "text/plain")
            return
        host = headers.get("host") or f"127.0.0.1:{front.port}"
        payload = payloads.http(function.arg_name, method=self.command, url=f"http://{host}{self.path}",
                                headers=headers, query=params, route_params=route_params, body=body,
                                raw_body_bytes=front.raw_body_bytes)
        detail = {"method": self.command, "path": url.path}
        record, response = front.invoke(function, payload, detail, payloads.http_response)
        if not record.succeeded:
            self._reply(500, b"Internal Server Error", "text/plain; charset=utf-8")
            return
        status, response_headers, response_body = response
        content_type = next((v for k, v in response_headers.items() if k.lower() == "content-type"),
                            "text/plain; charset=utf-8")
        extra = [(k, v) for k, v in response_headers.items()
                 if k.lower() not in ("content-type", "content-length")]
        self._reply(status, response_body, content_type, extra)

    def _read_body(self) -> bytes | None:
        try:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                return self._read_chunked()
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self._reply(400, b"Malformed request body framing", "text/plain; charset=utf-8")
            return None
        if length > MAX_BODY:
            self._reply(413, b"Request body too large", "text/plain; charset=utf-8")
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            length = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if length == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass   # trailers
                return b"".join(chunks)
            size += length
            if size > MAX_BODY:
                self._reply(413, b"Request body too large", "text/plain; charset=utf-8")
                return None
            chunks.append(self.rfile.read(length))
            self.rfile.readline()

    def _reply(self, status: int, body: bytes, content_type: str,
               headers: list[tuple[str, str]] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers or []:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
