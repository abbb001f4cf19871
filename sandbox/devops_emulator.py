"""A local Azure DevOps work item tracking API: the routes the devops alert channel uses.

``/{organization}/{project}/_apis/wit/…`` with the real shapes: create (``POST workitems/${type}``, a
JSON Patch body as ``application/json-patch+json``), update (``PATCH workitems/{id}``), get, comments
(``POST workItems/{id}/comments``, a preview API: api-version must say ``-preview``) and WIQL
(``POST wiql``; the ``[System.Tags] CONTAINS '…'`` and ``[System.TeamProject] = @project`` clauses are
honoured). States follow the types (Bug: New/Active/Resolved/Closed; Issue and Task: To Do/Doing/Done),
so a wrong ``resolved_state`` is refused as Azure DevOps refuses it. Every call needs a bearer token.
Knobs: ``throttle_next`` (429 + Retry-After), ``fail_next`` (503), ``lose_answer_next`` (create the item,
then answer 500), ``down``. From another process: ``GET /_devops/items``, ``POST /_devops/mode`` with
``{"down": true, "throttle_next": n, "retry_after": s, "fail_next": n, "lose_answer_next": n}``.

    python -m sandbox.devops_emulator --port 0
"""

from __future__ import annotations

import argparse
import json
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sandbox.local_server import JsonHandler, LocalServer, set_knobs, wait_until_interrupted

STATES = {"Bug": ("New", "Active", "Resolved", "Closed"), "Issue": ("To Do", "Doing", "Done"),
          "Task": ("To Do", "Doing", "Done")}
_ROUTE = re.compile(r"^/(?P<org>[^/]+)/(?P<project>[^/]+)/_apis/wit/(?P<tail>.+)$")
_TAGS = re.compile(r"\[System\.Tags\]\s+CONTAINS\s+'((?:[^']|'')*)'", re.IGNORECASE)
_MAX_READ = 4 << 20


def error_body(type_key: str, message: str) -> dict[str, Any]:
    """Azure DevOps' error shape."""
    return {"$id": "1", "innerException": None, "message": message, "typeName": f"Microsoft.{type_key}",
            "typeKey": type_key, "errorCode": 0, "eventId": 3000}


@dataclass
class _Mode:
    down: bool = False
    throttle_next: int = 0
    retry_after: int = 2
    fail_next: int = 0
    lose_answer_next: int = 0


class DevOpsEmulator(LocalServer):
    """``with DevOpsEmulator(organization="contoso", project="Data") as devops: devops.url`` …"""

    def __init__(self, *, organization: str = "contoso", project: str = "Data Platform", host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self._address = (host, port)
        self.organization, self.project = organization, project
        self.mode = _Mode()
        self.items: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.requests: list[tuple[str, str, int]] = []       # (method, path, status) of every call
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fields(self, item: int) -> dict[str, Any]:
        with self._lock:
            return dict(self.items[item]["fields"])

    def count(self, method: str, fragment: str) -> int:
        with self._lock:
            return sum(1 for m, p, _ in self.requests if m == method and fragment in p)

    # -- the API -----------------------------------------------------------------------------------

    def answer(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
               body: bytes) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            status, extra, payload = self._answer(method, path, query, headers, body)
            self.requests.append((method, path, status))
            return status, extra, payload

    def _answer(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
                body: bytes) -> tuple[int, dict[str, str], Any]:
        mode = self.mode
        if mode.down:
            return 503, {}, error_body("ServiceUnavailableException", "The service is temporarily unavailable.")
        if not headers.get("authorization", "").startswith("Bearer "):
            return 401, {}, error_body("UnauthorizedRequestException", "A bearer token is required.")
        route = _ROUTE.match(path)
        if route is None:
            return 404, {}, error_body("RouteNotFoundException", f"No route for {method} {path}.")
        if unquote(route["org"]) != self.organization or unquote(route["project"]) != self.project:
            return 404, {}, error_body("ProjectDoesNotExistWithNameException",
                                       f"The project {unquote(route['project'])!r} does not exist.")
        if mode.throttle_next > 0:
            mode.throttle_next -= 1
            return 429, {"Retry-After": str(mode.retry_after)}, error_body(
                "RequestThrottledException", "Request was blocked due to exceeding usage of resource.")
        if mode.fail_next > 0:
            mode.fail_next -= 1
            return 503, {}, error_body("ServiceUnavailableException", "The service is temporarily unavailable.")
        version = query.get("api-version", [""])[-1]
        if not version:
            return 400, {}, error_body("VssVersionNotSpecifiedException", "No api-version was supplied.")
        tail = unquote(route["tail"])
        try:
            document = json.loads(body or b"null")
        except ValueError:
            return 400, {}, error_body("InvalidArgumentValueException", "The body is not valid JSON.")
        if method == "POST" and tail == "wiql":
            return self._wiql(document)
        if method == "POST" and tail.lower().startswith("workitems/$"):
            return self._create(tail.split("$", 1)[1], headers, document)
        item_route = re.fullmatch(r"(?i)workitems/(\d+)(/comments)?", tail)
        if item_route is None:
            return 404, {}, error_body("RouteNotFoundException", f"No route for {method} {path}.")
        item = int(item_route[1])
        if item not in self.items:
            return 404, {}, error_body("WorkItemUnauthorizedAccessException",
                                       f"TF401232: Work item {item} does not exist, or you do not have permissions "
                                       "to read it.")
        if item_route[2] and method == "POST":
            if "-preview" not in version:
                return 400, {}, error_body("VssInvalidPreviewVersionException", f"The requested REST API version "
                                           f"of {version} is in preview; use -preview.")
            return self._comment(item, document)
        if not item_route[2] and method == "PATCH":
            return self._update(item, headers, document)
        if not item_route[2] and method == "GET":
            return 200, {}, self._item(item)
        return 405, {}, error_body("MethodNotAllowed", f"{method} is not allowed here.")

    def _patch_fields(self, headers: dict[str, str], document: Any) -> dict[str, Any] | str:
        if "application/json-patch+json" not in headers.get("content-type", ""):
            return "The request must be a JSON Patch document (Content-Type: application/json-patch+json)."
        if not isinstance(document, list) or not document:
            return "You must pass a valid patch document in the body of the request."
        out: dict[str, Any] = {}
        for op in document:
            if not isinstance(op, dict) or op.get("op") not in ("add", "replace") or \
                    not str(op.get("path", "")).startswith("/fields/"):
                return f"The patch operation {op!r} is not supported here."
            out[str(op["path"])[len("/fields/"):]] = op.get("value")
        return out

    def _create(self, kind: str, headers: dict[str, str], document: Any) -> tuple[int, dict[str, str], Any]:
        if kind not in STATES:
            return 404, {}, error_body("WorkItemTypeNotFoundException",
                                       f"TF201082: Work item type {kind} does not exist in project {self.project}.")
        fields = self._patch_fields(headers, document)
        if isinstance(fields, str):
            return 400, {}, error_body("InvalidArgumentValueException", fields)
        if not str(fields.get("System.Title") or "").strip():
            return 400, {}, error_body("RuleValidationException", "TF401320: Rule Error for field Title. "
                                       "Error code: Required.")
        state = str(fields.get("System.State") or STATES[kind][0])
        if state not in STATES[kind]:
            return 400, {}, error_body("RuleValidationException", f"TF401320: Rule Error for field State: "
                                       f"{state!r} is not in the list of supported values.")
        item = len(self.items) + 1
        now = datetime.now(UTC).isoformat()
        self.items[item] = {"id": item, "rev": 1, "fields": {
            **fields, "System.WorkItemType": kind, "System.State": state, "System.TeamProject": self.project,
            "System.AreaPath": fields.get("System.AreaPath") or self.project, "System.CreatedDate": now}}
        if self.mode.lose_answer_next > 0:
            self.mode.lose_answer_next -= 1
            return 500, {}, error_body("InternalServerErrorException", "The answer was lost after the create.")
        return 200, {}, self._item(item)

    def _update(self, item: int, headers: dict[str, str], document: Any) -> tuple[int, dict[str, str], Any]:
        fields = self._patch_fields(headers, document)
        if isinstance(fields, str):
            return 400, {}, error_body("InvalidArgumentValueException", fields)
        kind = self.items[item]["fields"]["System.WorkItemType"]
        if "System.State" in fields and fields["System.State"] not in STATES[kind]:
            return 400, {}, error_body("RuleValidationException", f"TF401320: Rule Error for field State: "
                                       f"{fields['System.State']!r} is not a state of a {kind}.")
        self.items[item]["fields"].update(fields)
        self.items[item]["rev"] += 1
        return 200, {}, self._item(item)

    def _comment(self, item: int, document: Any) -> tuple[int, dict[str, str], Any]:
        if not isinstance(document, dict) or not str(document.get("text") or "").strip():
            return 400, {}, error_body("InvalidArgumentValueException", "The comment text is required.")
        comments = self.comments.setdefault(item, [])
        comment = {"workItemId": item, "id": len(comments) + 1, "version": 1, "text": document["text"],
                   "createdDate": datetime.now(UTC).isoformat()}
        comments.append(comment)
        return 200, {}, comment

    def _wiql(self, document: Any) -> tuple[int, dict[str, str], Any]:
        query = document.get("query") if isinstance(document, dict) else None
        if not isinstance(query, str) or not query.upper().startswith("SELECT"):
            return 400, {}, error_body("WiqlSyntaxException", "The query is not valid WIQL.")
        tags = [t.replace("''", "'") for t in _TAGS.findall(query)]

        def matches(item: dict[str, Any]) -> bool:
            have = [t.strip().lower() for t in str(item["fields"].get("System.Tags", "")).split(";")]
            return all(t.lower() in have for t in tags)

        found = [i for i in sorted(self.items) if matches(self.items[i])]
        return 200, {}, {"queryType": "flat", "queryResultType": "workItem", "asOf": datetime.now(UTC).isoformat(),
                         "columns": [{"referenceName": "System.Id", "name": "ID"}],
                         "workItems": [{"id": i, "url": f"{self.url}/_apis/wit/workItems/{i}"} for i in found]}

    def _item(self, item: int) -> dict[str, Any]:
        stored = self.items[item]
        return {"id": item, "rev": stored["rev"], "fields": dict(stored["fields"]),
                "url": f"{self.url}/{self.organization}/{self.project}/_apis/wit/workItems/{item}"}

    # -- control -----------------------------------------------------------------------------------

    def control(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        if method == "GET" and path == "/_devops/items":
            with self._lock:
                return 200, {"items": list(self.items.values()), "comments": self.comments}
        if method == "POST" and path == "/_devops/mode":
            return set_knobs(self.mode, self._lock, body)
        return 404, {"error": f"no control route {method} {path}"}


class _Handler(JsonHandler):
    owner: DevOpsEmulator
    server_version = "DevOpsEmulator/1.0"

    def _body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > _MAX_READ:
            self.close_connection = True
            self.send_json(400, error_body("InvalidArgumentValueException", "A valid Content-Length is required."))
            return None
        return self.rfile.read(length)

    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        body = b"" if method == "GET" else self._body()
        if body is None:
            return
        if parts.path.startswith("/_devops/"):
            self.send_json(*self.owner.control(method, parts.path, body))
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, payload = self.owner.answer(method, parts.path, parse_qs(parts.query), headers, body)
        self.send_json(status, payload, extra)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def log_message(self, format: str, *args: Any) -> None:
        pass


DevOpsEmulator.handler = _Handler
DevOpsEmulator.thread_name = "devops-emulator"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.devops_emulator", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--organization", default="contoso")
    parser.add_argument("--project", default="Data Platform")
    args = parser.parse_args(argv)
    with DevOpsEmulator(organization=args.organization, project=args.project, port=args.port) as devops:
        print(f"Azure DevOps emulator; DEVOPS_API_URL={devops.url}", flush=True)
        wait_until_interrupted()


if __name__ == "__main__":
    main()
