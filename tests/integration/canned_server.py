"""A local HTTP server that answers fixed JSON per (method, path): the engines' documented example
responses, so the adapters can be shown to read them as the documentation writes them."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

Reply = tuple[int, Any, Mapping[str, str]]


class CannedServer:
    """``replies`` maps ``(method, path)`` to ``(status, JSON body or None, headers)``, where a path with a
    query string is matched before the bare path; anything else is 404.
    ``requests`` records what arrived: method, path with query, headers and JSON body."""

    def __init__(self, replies: Mapping[tuple[str, str], Reply]) -> None:
        self.replies = dict(replies)
        self.requests: list[dict[str, Any]] = []
        canned = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                canned.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                        "body": json.loads(raw) if raw.strip() else None})
                missing: Reply = (404, {"error": {"code": "NotFound", "message": self.path}}, {})
                status, body, headers = canned.replies.get(
                    (self.command, self.path), canned.replies.get((self.command, urlsplit(self.path).path), missing))
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if data:
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Self:
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
