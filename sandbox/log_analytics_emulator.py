"""A local Log Analytics query API serving an ``ADFPipelineRun`` table, for the app's duration history.

    POST {endpoint}/v1/workspaces/{workspace}/query   {"query": KQL, "timespan": ISO 8601 or null}
      → 200 {"tables": [{"name": "PrimaryResult", "columns": [{"name", "type"}], "rows": [[...]]}]}
        (plus "error": {"code": "PartialError", ...} for a partial result)
      → 4xx / 5xx {"error": {"code", "message", "innererror"?}}

as azure-monitor-query's ``LogsQueryClient(endpoint=...)`` speaks it. Rows are registered in process
(``add_run`` writes the rows ADF logs for one run: Queued, InProgress, then the final status; ``add_row``
any row). ``timespan`` filters TimeGenerated, as the service does. The query is not general KQL: the
emulator runs this narrow subset and answers 400 (BadArgumentError) to anything else, so a query the
app sends is either understood exactly or refused:

    ADFPipelineRun
    | where COND [and COND]...        COND: Col (==|!=|<|<=|>|>=) LITERAL | Col between (LITERAL .. LITERAL)
    | summarize arg_max(Col, Col[, Col]... | *) by Col
    | project Col[, Col]...
    | order by Col [asc|desc]         (also sort by; KQL's default order is desc)
    | top N by Col [asc|desc]
    | take N                          (also limit N)

LITERAL: "…" or '…' with KQL's backslash escapes (\\" \\' \\\\ \\n \\t), datetime(ISO 8601), a number.
Knobs: ``throttle_next`` (429 + Retry-After), ``fail_next`` (any status), ``partial_next``; the bearer
header is required (401 without). ``requests`` records what was asked.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from sandbox.local_server import JsonHandler, LocalServer

log = logging.getLogger(__name__)

TABLE = "ADFPipelineRun"
NOT_ENDED = datetime(1601, 1, 1, tzinfo=UTC)     # what ADF logs as End while a run has not ended
COLUMNS = {"TenantId": "string", "TimeGenerated": "datetime", "ResourceId": "string",
           "OperationName": "string", "Category": "string", "Level": "string", "Status": "string",
           "Start": "datetime", "End": "datetime", "PipelineName": "string", "RunId": "string",
           "FailureType": "string", "Type": "string"}
_ROUTE = re.compile(r"^/v1/workspaces/([^/]+)/query$")
_TOKEN = re.compile(r"""\s*(?:(?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')|(?P<dt>datetime\([^)]*\))
                    |(?P<num>\d+(?:\.\d+)?)|(?P<op>==|!=|<=|>=|\.\.|[<>|(),*])|(?P<name>[A-Za-z_]\w*)
                    |(?P<other>\S))""",
                    re.VERBOSE)
_UNESCAPE = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "t": "\t"}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")
MAX_BODY = 1 << 20
Row = dict[str, Any]


class QueryError(Exception):
    """The query is outside the subset (or wrong): a 400 with the service's error shape."""

    def __init__(self, message: str, inner: str = "SyntaxError") -> None:
        super().__init__(message)
        self.inner = inner


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso(value: Any) -> Any:
    if not isinstance(value, datetime):
        return value
    return _utc(value).isoformat().replace("+00:00", "Z")


def _parse_time(text: str) -> datetime:
    try:
        return _utc(datetime.fromisoformat(text.strip().replace("Z", "+00:00")))
    except ValueError as exc:
        raise QueryError(f"{text!r} is not a datetime", "SemanticError") from exc


# --- the KQL subset ---------------------------------------------------------------------------------

def tokens(query: str) -> list[tuple[str, Any]]:
    """(kind, value) pairs; string literals come back unescaped, datetimes parsed."""
    out: list[tuple[str, Any]] = []
    pos, end = 0, len(query.rstrip())
    while pos < end:
        m = _TOKEN.match(query, pos)
        if m is None or m.end() == pos:
            raise QueryError(f"unexpected text at offset {pos}: {query[pos:pos + 20]!r}")
        kind = m.lastgroup or ""
        text = m.group(kind)
        if kind == "str":
            body, chars, i = text[1:-1], [], 0
            while i < len(body):
                if body[i] == "\\":
                    if body[i + 1] not in _UNESCAPE:
                        raise QueryError(f"unknown escape \\{body[i + 1]} in a string literal")
                    chars.append(_UNESCAPE[body[i + 1]])
                    i += 2
                else:
                    chars.append(body[i])
                    i += 1
            out.append(("lit", "".join(chars)))
        elif kind == "dt":
            out.append(("lit", _parse_time(text[len("datetime("):-1])))
        elif kind == "num":
            out.append(("lit", float(text) if "." in text else int(text)))
        else:
            out.append((kind, text))
        pos = m.end()
    return out


class _Stage:
    def __init__(self, toks: list[tuple[str, Any]], types: dict[str, str]) -> None:
        self.toks, self.i, self.types = toks, 0, types

    def column(self, name: str) -> str:
        if name not in self.types:
            raise QueryError(f"Failed to resolve scalar expression named '{name}'", "SemanticError")
        return name

    def take(self, kind: str, value: str | None = None) -> Any:
        if self.i >= len(self.toks):
            raise QueryError(f"expected {value or kind} at the end of {self.text()!r}")
        k, v = self.toks[self.i]
        if k != kind or (value is not None and v != value):
            raise QueryError(f"expected {value or kind}, got {v!r} in {self.text()!r}")
        self.i += 1
        return v

    def peek(self, value: str) -> bool:
        return self.i < len(self.toks) and self.toks[self.i][1] == value

    def done(self) -> None:
        if self.i != len(self.toks):
            raise QueryError(f"unexpected {self.toks[self.i][1]!r} in {self.text()!r}")

    def names(self) -> list[str]:
        out = [self.take("name")]
        while self.peek(","):
            self.take("op", ",")
            out.append(self.take("name"))
        return out

    def text(self) -> str:
        return " ".join(str(v) for _, v in self.toks)


def run_query(query: str, rows: list[Row], types: dict[str, str]) -> tuple[list[Row], dict[str, str]]:
    """Run the subset over ``rows``; returns the result rows and their column types, in order."""
    stages: list[list[tuple[str, Any]]] = [[]]
    for tok in tokens(query):
        if tok == ("op", "|"):
            stages.append([])
        else:
            stages[-1].append(tok)
    head = _Stage(stages[0], types)
    table = head.take("name")
    head.done()
    if table != TABLE:
        raise QueryError(f"Failed to resolve table expression named '{table}'", "SemanticError")
    for toks in stages[1:]:
        stage = _Stage(toks, types)
        column = stage.column
        verb = stage.take("name")
        if verb == "where":
            conditions = [_condition(stage)]
            while stage.peek("and"):
                stage.take("name", "and")
                conditions.append(_condition(stage))
            stage.done()
            rows = [r for r in rows if all(c(r) for c in conditions)]
        elif verb == "summarize":
            stage.take("name", "arg_max")
            stage.take("op", "(")
            by_max = column(stage.take("name"))
            stage.take("op", ",")
            if stage.peek("*"):
                stage.take("op", "*")
                kept = [c for c in types if c != by_max]
            else:
                kept = [column(c) for c in stage.names()]
            stage.take("op", ")")
            stage.take("name", "by")
            key = column(stage.take("name"))
            stage.done()
            best: dict[Any, Row] = {}
            for r in rows:
                held = best.get(r[key])
                if held is None or (r[by_max] is not None
                                    and (held[by_max] is None or r[by_max] > held[by_max])):
                    best[r[key]] = r
            order = [key, by_max, *(c for c in kept if c != key)]
            rows, types = [{c: r[c] for c in order} for r in best.values()], {c: types[c] for c in order}
        elif verb == "project":
            chosen = [column(c) for c in stage.names()]
            stage.done()
            rows, types = [{c: r[c] for c in chosen} for r in rows], {c: types[c] for c in chosen}
        elif verb in ("order", "sort"):
            stage.take("name", "by")
            rows = _ordered(stage, rows)
            stage.done()
        elif verb in ("take", "limit", "top"):
            count = stage.take("lit")
            if not isinstance(count, int):
                raise QueryError(f"{verb} needs an integer, got {count!r}", "SemanticError")
            if verb == "top":
                stage.take("name", "by")
                rows = _ordered(stage, rows)
            stage.done()
            rows = rows[:count]
        else:
            raise QueryError(f"the emulator does not run {verb!r} (see sandbox/log_analytics_emulator.py)")
    return rows, types


def _ordered(stage: _Stage, rows: list[Row]) -> list[Row]:
    """Rows sorted by the stage's ``Col [asc|desc]`` (KQL's default is desc), nulls last."""
    key = stage.column(stage.take("name"))
    descending = True
    if stage.peek("asc") or stage.peek("desc"):
        descending = stage.take("name") == "desc"
    present = [r for r in rows if r[key] is not None]
    present.sort(key=lambda r: r[key], reverse=descending)
    return present + [r for r in rows if r[key] is None]


def _condition(stage: _Stage) -> Callable[[Row], bool]:
    name = stage.column(stage.take("name"))
    if stage.peek("between"):
        stage.take("name", "between")
        stage.take("op", "(")
        low = stage.take("lit")
        stage.take("op", "..")
        high = stage.take("lit")
        stage.take("op", ")")
        return lambda r: (r[name] is not None and _compare(r[name], ">=", low)
                          and _compare(r[name], "<=", high))
    op = stage.take("op")
    if op not in _COMPARE:
        raise QueryError(f"the emulator does not compare with {op!r}")
    value = stage.take("lit")
    return lambda r: r[name] is not None and _compare(r[name], op, value)


def _compare(left: Any, op: str, right: Any) -> bool:
    if any(isinstance(left, t) != isinstance(right, t) for t in (datetime, str)):
        raise QueryError(f"cannot compare {left!r} with {right!r}", "SemanticError")
    return _COMPARE[op](left, right)


def parse_timespan(value: Any, now: datetime) -> tuple[datetime, datetime] | None:
    """``start/end``, ``start/duration`` or ``duration`` (ending now), as the SDK sends them; None: all."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise QueryError("timespan must be a string", "InvalidTimespan")
    first, _, second = value.partition("/")

    def duration(text: str) -> timedelta | None:
        m = _DURATION.match(text)
        if m is None or text in ("P", "PT"):
            return None
        d, h, mi, s = m.groups()
        return timedelta(days=int(d or 0), hours=int(h or 0), minutes=int(mi or 0), seconds=float(s or 0))

    try:
        if not second:
            span = duration(first)
            if span is None:
                raise QueryError(f"timespan {value!r} is not valid", "InvalidTimespan")
            return now - span, now
        start = _parse_time(first)
        span = duration(second)
        return (start, start + span) if span is not None else (start, _parse_time(second))
    except QueryError as exc:
        raise QueryError(f"timespan {value!r} is not valid", "InvalidTimespan") from exc


# --- the server -------------------------------------------------------------------------------------

@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any
    status: int = 0

    @property
    def query(self) -> str:
        return str(self.body.get("query", "")) if isinstance(self.body, dict) else ""


class LogAnalyticsEmulator(LocalServer):
    """``with LogAnalyticsEmulator() as la: la.add_run(...); LogsQueryClient(..., endpoint=la.endpoint)``."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, workspace_id: str | None = None) -> None:
        self._address = (host, port)
        self.workspace_id = workspace_id or str(uuid.uuid4())
        self._tables: dict[str, list[Row]] = {self.workspace_id: []}
        self._faults: deque[tuple[int, dict[str, str], dict[str, Any]] | None] = deque()
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- data, knobs, inspection -------------------------------------------------------------------

    def add_row(self, workspace: str | None = None, **values: Any) -> None:
        """One ADFPipelineRun row; columns not given are null."""
        if unknown := set(values) - COLUMNS.keys():
            raise ValueError(f"unknown columns {sorted(unknown)}")
        row = {c: _utc(values[c]) if isinstance(values.get(c), datetime) else values.get(c) for c in COLUMNS}
        row["Type"] = TABLE
        with self._lock:
            self._tables.setdefault(workspace or self.workspace_id, []).append(row)

    def add_run(self, pipeline: str, run_id: str, status: str, start: datetime, end: datetime | None = None,
                *, workspace: str | None = None) -> None:
        """The rows ADF logs for one run: Queued and InProgress at ``start``, the final status at ``end``."""
        common = {"PipelineName": pipeline, "RunId": run_id, "Start": start, "Category": "PipelineRuns",
                  "Level": "Informational", "ResourceId": "/SUBSCRIPTIONS/0/RESOURCEGROUPS/SANDBOX/PROVIDERS/"
                  "MICROSOFT.DATAFACTORY/FACTORIES/SANDBOX"}
        for phase in ("Queued", "InProgress"):
            self.add_row(workspace, **common, Status=phase, TimeGenerated=start, End=NOT_ENDED,
                         OperationName=f"{pipeline} - {phase}")
        if status not in ("Queued", "InProgress"):
            finished = end or start
            self.add_row(workspace, **common, Status=status, TimeGenerated=finished, End=finished,
                         OperationName=f"{pipeline} - {status}",
                         FailureType="UserError" if status == "Failed" else "")

    def throttle_next(self, count: int = 1, retry_after: float = 1) -> None:
        self._plan(count, (429, {"Retry-After": f"{retry_after:g}"},
                           _error("ThrottledError", "Your request was throttled. Retry after a while.")))

    def fail_next(self, count: int = 1, status: int = 500, code: str = "InternalServerError",
                  message: str = "An internal error occurred.") -> None:
        self._plan(count, (status, {}, _error(code, message)))

    def partial_next(self, count: int = 1) -> None:
        """The next ``count`` queries answer 200 with their rows and a PartialError."""
        self._plan(count, None)

    def _plan(self, count: int, fault: tuple[int, dict[str, str], dict[str, Any]] | None) -> None:
        with self._lock:
            self._faults.extend([fault] * count)

    @property
    def queries(self) -> list[str]:
        with self._lock:
            return [r.query for r in self.requests]

    # -- the service -------------------------------------------------------------------------------

    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, str], Any]:
        try:
            body: Any = json.loads(raw) if raw else None
        except (ValueError, UnicodeDecodeError):
            body = None
        with self._lock:
            record = Recorded(path, headers, body)
            self.requests.append(record)
            status, extra, payload = self._answer(path, headers, body)
            record.status = status
            return status, extra, payload

    def _answer(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, dict[str, str], Any]:
        route = _ROUTE.match(path)
        if route is None:
            return 404, {}, _error("PathNotFoundError", f"The requested path {path} does not exist")
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            return 401, {}, _error("AuthorizationRequiredError", "Valid authentication was not provided")
        workspace = unquote(route.group(1))
        if workspace not in self._tables:
            return 404, {}, _error("WorkspaceNotFoundError", f"Workspace {workspace} not found")
        partial = False
        if self._faults:
            fault = self._faults.popleft()
            if fault is not None:
                return fault
            partial = True
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return 400, {}, _error("BadArgumentError", "The request had some invalid properties",
                                   "the body needs a query")
        try:
            span = parse_timespan(body.get("timespan"), datetime.now(UTC))
            rows = [r for r in self._tables[workspace]
                    if span is None or (r["TimeGenerated"] is not None
                                        and span[0] <= r["TimeGenerated"] <= span[1])]
            result, types = run_query(body["query"], rows, dict(COLUMNS))
        except QueryError as exc:
            return 400, {}, _error("BadArgumentError", "The request had some invalid properties",
                                   str(exc), exc.inner)
        except TypeError as exc:         # e.g. ordering by a column whose rows mix types
            return 400, {}, _error("BadArgumentError", "The request had some invalid properties",
                                   str(exc), "SemanticError")
        table = {"name": "PrimaryResult", "columns": [{"name": c, "type": t} for c, t in types.items()],
                 "rows": [[_iso(r[c]) for c in types] for r in result]}
        answer: dict[str, Any] = {"tables": [table]}
        if partial:
            answer["error"] = _error("PartialError", "There were some errors when processing your query.",
                                     "Query execution has exceeded the allowed limits.",
                                     "E_QUERY_RESULT_SET_TOO_LARGE")["error"]
        return 200, {}, answer


def _error(code: str, message: str, inner: str | None = None, inner_code: str = "") -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "correlationId": str(uuid.uuid4())}
    if inner is not None:
        error["innererror"] = {"code": inner_code or code, "message": inner}
    return {"error": error}


class _Handler(JsonHandler):
    owner: LogAnalyticsEmulator
    server_version = "LogAnalyticsEmulator/1.0"

    def do_GET(self) -> None:
        self.send_json(405, _error("MethodNotAllowed", "The emulator answers POST queries only"))

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = MAX_BODY + 1
        if length > MAX_BODY or length < 0:
            self.send_json(413, _error("RequestEntityTooLarge", "The body is too large."))
            self.close_connection = True
            return
        raw = self.rfile.read(length) if length else b""
        status, headers, payload = self.owner.handle(path, {k.lower(): v for k, v in self.headers.items()}, raw)
        self.send_json(status, payload, headers)


    def log_message(self, format: str, *args: Any) -> None:
        log.debug("log analytics emulator: %s", format % args)


LogAnalyticsEmulator.handler = _Handler
LogAnalyticsEmulator.thread_name = "log-analytics-emulator"
