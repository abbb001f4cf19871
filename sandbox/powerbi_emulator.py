"""A local Power BI REST emulator: the refresh surface the app's PowerBIRefresher speaks.

    POST {base}/groups/{ws}/datasets/{ds}/refreshes         → 202, Location …/refreshes/{id}, RequestId
    GET  {base}/groups/{ws}/datasets/{ds}/refreshes?$top=N  → {"value": [newest first]}
    GET  {base}/groups/{ws}/datasets/{ds}/refreshes/{id}    → execution details (enhanced refreshes; 202
                                                              while running, 200 when done)

with ``base`` = ``http://127.0.0.1:{port}/v1.0/myorg``. Like the service it wants a bearer token, refuses
a second refresh while one runs (400 for a standard refresh, 409 for an enhanced one), counts refreshes
against a daily limit (8 on shared capacity), answers 429 with Retry-After above a request rate, and can
be told to fail. Knobs are methods (in process) or ``POST /_emulator/config`` (JSON, from another
process); ``GET /_emulator/requests`` lists what was asked.

    python -m sandbox.powerbi_emulator --port 0 --refresh-seconds 5 --daily-limit 8
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sandbox.local_server import JsonHandler, LocalServer, error_body, wait_until_interrupted

log = logging.getLogger(__name__)

API_PREFIX = "/v1.0/myorg"
_ROUTE = re.compile(r"^/v1\.0/myorg/groups/([^/]+)/datasets/([^/]+)/refreshes(?:/([^/]+))?/?$")
ENHANCED_KEYS = frozenset({"type", "commitMode", "maxParallelism", "retryCount", "objects",
                           "applyRefreshPolicy", "effectiveDate", "timeout"})
NOTIFY_OPTIONS = frozenset({"MailOnCompletion", "MailOnFailure", "NoNotification"})
MAX_BODY = 1 << 20


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Failure:
    error_code: str = "ModelRefreshFailed_CredentialsNotSpecified"
    description: str = "The credentials provided for the data source are invalid."


@dataclass
class Refresh:
    """One refresh the emulator accepted; its status follows from the clock."""

    request_id: str
    number: int
    workspace: str
    dataset: str
    body: dict[str, Any]
    requested_at: float
    duration: float
    failure: Failure | None = None

    @property
    def enhanced(self) -> bool:
        return bool(ENHANCED_KEYS & self.body.keys())

    def status(self, now: float) -> str:
        if now < self.requested_at + self.duration:
            return "Unknown"
        return "Failed" if self.failure else "Completed"

    def end_time(self, now: float) -> float | None:
        return None if self.status(now) == "Unknown" else self.requested_at + self.duration

    def history_entry(self, now: float) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "id": self.number, "requestId": self.request_id,
            "refreshType": "ViaEnhancedApi" if self.enhanced else "ViaApi",
            "startTime": _iso(self.requested_at), "status": self.status(now),
        }
        if (end := self.end_time(now)) is not None:
            entry["endTime"] = _iso(end)
        if self.enhanced:
            entry["extendedStatus"] = "InProgress" if entry["status"] == "Unknown" else entry["status"]
        if self.failure and entry["status"] == "Failed":
            entry["serviceExceptionJson"] = json.dumps({"errorCode": self.failure.error_code,
                                                        "errorDescription": self.failure.description})
        return entry

    def details(self, now: float) -> dict[str, Any]:
        status = self.status(now)
        body: dict[str, Any] = {
            "startTime": _iso(self.requested_at), "endTime": _iso(self.end_time(now)),
            "type": self.body.get("type", "Full"), "commitMode": self.body.get("commitMode", "Transactional"),
            "status": status,
            "extendedStatus": "InProgress" if status == "Unknown" else status,
            "currentRefreshType": self.body.get("type", "Full"), "numberOfAttempts": 1,
            "objects": [{"table": o.get("table"), "partition": o.get("partition"),
                         "status": "InProgress" if status == "Unknown" else status}
                        for o in self.body.get("objects", []) if isinstance(o, dict)],
        }
        if self.failure and status == "Failed":
            body["messages"] = [{"code": self.failure.error_code, "message": self.failure.description,
                                 "type": "Error"}]
        return body


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int = 0


@dataclass
class _Knobs:
    refresh_seconds: float = 0.5
    daily_limit: int | None = 8
    rate_limit: int | None = None        # requests per rate_window before 429s
    rate_window: float = 60.0
    retry_after: int = 30
    expected_token: str | None = None    # when set, other tokens get 403
    throttle_next: int = 0
    error_next: int = 0
    error_status: int = 503
    failures: deque[Failure] = field(default_factory=deque)


class PowerBIEmulator(LocalServer):
    """The emulator; ``with PowerBIEmulator() as pbi: pbi.base_url`` …"""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, refresh_seconds: float = 0.5,
                 daily_limit: int | None = 8, rate_limit: int | None = None, rate_window: float = 60.0,
                 retry_after: int = 30, expected_token: str | None = None) -> None:
        self._address = (host, port)
        self._lock = threading.Lock()
        self.knobs = _Knobs(refresh_seconds, daily_limit, rate_limit, rate_window, retry_after,
                            expected_token)
        self._refreshes: list[Refresh] = []
        self._recent: deque[float] = deque()
        self.requests: list[Recorded] = []

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    # -- knobs and inspection ----------------------------------------------------------------------

    def configure(self, **values: Any) -> None:
        """Set knobs by name: refresh_seconds, daily_limit, rate_limit, rate_window, retry_after,
        expected_token, throttle_next, error_next, error_status."""
        with self._lock:
            for name, value in values.items():
                if name == "failures" or not hasattr(self.knobs, name):
                    raise ValueError(f"unknown knob {name!r}")
                setattr(self.knobs, name, value)

    def fail_next_refreshes(self, count: int = 1, error_code: str = Failure.error_code,
                            description: str = Failure.description) -> None:
        """The next ``count`` accepted refreshes end Failed with this service exception."""
        with self._lock:
            self.knobs.failures.extend(Failure(error_code, description) for _ in range(count))

    def throttle_next(self, count: int = 1, retry_after: int | None = None) -> None:
        """The next ``count`` requests get 429 with Retry-After."""
        with self._lock:
            self.knobs.throttle_next += count
            if retry_after is not None:
                self.knobs.retry_after = retry_after

    def error_next(self, count: int = 1, status: int = 503) -> None:
        """The next ``count`` requests get a service error."""
        with self._lock:
            self.knobs.error_next, self.knobs.error_status = self.knobs.error_next + count, status

    def refreshes(self, workspace: str | None = None, dataset: str | None = None) -> list[dict[str, Any]]:
        """History entries (newest first), optionally of one dataset."""
        now = time.time()
        with self._lock:
            chosen = [r for r in self._refreshes
                      if workspace in (None, r.workspace) and dataset in (None, r.dataset)]
            return [r.history_entry(now) for r in reversed(chosen)]

    def posted_bodies(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(r.body or b"{}") for r in self.requests
                    if r.method == "POST" and r.status == 202]

    # -- the service -------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
               body: bytes) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            record = Recorded(method, path, query, headers, body)
            self.requests.append(record)
            status, extra, payload = self._answer(method, path, query, headers, body)
            record.status = status
            return status, extra, payload

    def _answer(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
                body: bytes) -> tuple[int, dict[str, str], Any]:
        route = _ROUTE.match(path)
        if route is None or method not in ("GET", "POST") or (method == "POST" and route.group(3)):
            return 404, {}, error_body("NoRoute", f"{method} {path} is not part of the emulated API")
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            challenge = {"WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com"'}
            return 401, challenge, error_body("PowerBINotAuthorizedException", "No bearer token.")
        if self.knobs.expected_token is not None and auth[7:].strip() != self.knobs.expected_token:
            return 403, {}, error_body("PowerBINotAuthorizedException", "The token is not valid for this API.")
        now = time.time()
        throttled = self._throttled(now)
        if throttled:
            return throttled
        if self.knobs.error_next > 0:
            self.knobs.error_next -= 1
            return self.knobs.error_status, {}, error_body("InternalServerError", "An internal error occurred.")
        workspace, dataset, refresh_id = (unquote(g) if g else g for g in route.groups())
        if method == "POST":
            return self._post(workspace, dataset, body, now)
        if refresh_id:
            return self._details(workspace, dataset, refresh_id, now)
        return self._history(workspace, dataset, query, now)

    def _throttled(self, now: float) -> tuple[int, dict[str, str], Any] | None:
        knobs = self.knobs
        while self._recent and self._recent[0] < now - knobs.rate_window:
            self._recent.popleft()
        over_rate = knobs.rate_limit is not None and len(self._recent) >= knobs.rate_limit
        if knobs.throttle_next > 0 or over_rate:
            knobs.throttle_next = max(0, knobs.throttle_next - 1)
            message = ("You have exceeded the amount of requests allowed in the current time frame and "
                       f"further requests will fail. Retry in {knobs.retry_after} seconds.")
            return 429, {"Retry-After": str(knobs.retry_after)}, {"message": message}
        self._recent.append(now)
        return None

    def _post(self, workspace: str, dataset: str, raw: bytes, now: float) -> tuple[int, dict[str, str], Any]:
        try:
            body = json.loads(raw) if raw.strip() else {}
        except (ValueError, UnicodeDecodeError):
            return 400, {}, error_body("InvalidRequest", "The request body is not valid JSON.")
        if not isinstance(body, dict):
            return 400, {}, error_body("InvalidRequest", "The request body must be a JSON object.")
        unknown = set(body) - ENHANCED_KEYS - {"notifyOption"}
        if unknown:
            return 400, {}, error_body("InvalidRequest", f"Unknown refresh properties: {sorted(unknown)}.")
        enhanced = bool(ENHANCED_KEYS & body.keys())
        if "notifyOption" in body and (enhanced or body["notifyOption"] not in NOTIFY_OPTIONS):
            return 400, {}, error_body("InvalidRequest", "notifyOption is allowed only for a standard refresh, "
                                   f"as one of {sorted(NOTIFY_OPTIONS)}.")
        mine = [r for r in self._refreshes if (r.workspace, r.dataset) == (workspace, dataset)]
        if any(r.status(now) == "Unknown" for r in mine):
            if enhanced:
                return 409, {}, error_body("Conflict", "Another refresh request is already executing.")
            return 400, {}, error_body("InvalidRequest", "Invalid dataset refresh request. "
                                   "Another refresh request is already executing")
        limit = self.knobs.daily_limit
        if limit is not None and sum(1 for r in mine if r.requested_at > now - 86400) >= limit:
            return 400, {}, error_body("InvalidRequest", "Invalid dataset refresh request. Number of refresh "
                                   "requests in last 24 hours exceeded limit")
        failure = self.knobs.failures.popleft() if self.knobs.failures else None
        refresh = Refresh(str(uuid.uuid4()), len(self._refreshes) + 1, workspace, dataset, body, now,
                          float(self.knobs.refresh_seconds), failure)
        self._refreshes.append(refresh)
        location = (f"http://127.0.0.1:{self.port}{API_PREFIX}/groups/{workspace}/datasets/{dataset}"
                    f"/refreshes/{refresh.request_id}")
        return 202, {"Location": location, "RequestId": refresh.request_id}, None

    def _history(self, workspace: str, dataset: str, query: dict[str, list[str]],
                 now: float) -> tuple[int, dict[str, str], Any]:
        top_values = query.get("$top", ["60"])
        try:
            top = int(top_values[-1])
        except ValueError:
            return 400, {}, error_body("InvalidRequest", "$top must be an integer.")
        if top < 1:
            return 400, {}, error_body("InvalidRequest", "$top must be positive.")
        mine = [r for r in self._refreshes if (r.workspace, r.dataset) == (workspace, dataset)]
        return 200, {}, {"value": [r.history_entry(now) for r in reversed(mine)][:top]}

    def _details(self, workspace: str, dataset: str, refresh_id: str,
                 now: float) -> tuple[int, dict[str, str], Any]:
        for r in self._refreshes:
            if (r.workspace, r.dataset, r.request_id) == (workspace, dataset, refresh_id) and r.enhanced:
                return (202 if r.status(now) == "Unknown" else 200), {}, r.details(now)
        # Execution details exist only for enhanced refreshes.
        return 404, {}, error_body("ItemNotFound", f"Refresh {refresh_id} is not found.")

    def control(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        if method == "GET" and path == "/_emulator/requests":
            with self._lock:
                return 200, [{"method": r.method, "path": r.path, "status": r.status,
                              "has_bearer": r.headers.get("authorization", "").startswith("Bearer ")}
                             for r in self.requests]
        if method == "GET" and path == "/_emulator/refreshes":
            return 200, self.refreshes()
        if method == "POST" and path == "/_emulator/config":
            try:
                values = json.loads(body or b"{}")
                if not isinstance(values, dict):
                    raise ValueError("a JSON object is expected")
                fail = values.pop("fail_next_refreshes", 0)
                self.configure(**values)
                if fail:
                    self.fail_next_refreshes(int(fail))
            except (ValueError, TypeError) as exc:
                return 400, {"error": str(exc)}
            return 200, {"ok": True}
        return 404, {"error": f"no control route {method} {path}"}



class _Handler(JsonHandler):
    owner: PowerBIEmulator
    server_version = "PowerBIEmulator/1.0"

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._send(413, {}, error_body("RequestEntityTooLarge", "The body is too large."))
            return
        body = self.rfile.read(length) if length else b""
        if parts.path.startswith("/_emulator/"):
            status, payload = self.owner.control(method, parts.path, body)
            self._send(status, {}, payload)
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, payload = self.owner.handle(method, parts.path, parse_qs(parts.query), headers, body)
        self._send(status, extra, payload)

    def _send(self, status: int, headers: dict[str, str], payload: Any) -> None:
        self.send_json(status, payload, {"RequestId": str(uuid.uuid4()), **headers})

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("power bi emulator: %s", format % args)


PowerBIEmulator.handler = _Handler
PowerBIEmulator.thread_name = "powerbi-emulator"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.powerbi_emulator",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--refresh-seconds", type=float, default=5.0, help="how long a refresh runs")
    parser.add_argument("--daily-limit", type=int, default=8, help="refreshes per dataset per 24 h (0: none)")
    parser.add_argument("--rate-limit", type=int, default=0, help="requests per minute before 429 (0: none)")
    parser.add_argument("--retry-after", type=int, default=30)
    args = parser.parse_args(argv)
    emulator = PowerBIEmulator(port=args.port, refresh_seconds=args.refresh_seconds,
                               daily_limit=args.daily_limit or None, rate_limit=args.rate_limit or None,
                               retry_after=args.retry_after)
    with emulator:
        print(f"Power BI emulator at {emulator.base_url}", flush=True)
        wait_until_interrupted()


if __name__ == "__main__":
    main()
