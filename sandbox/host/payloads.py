"""What the Functions host sends the worker for each trigger, and how it reads an HTTP answer.

Each builder returns the invocation's input data (binding name → TypedData) and trigger metadata, in
the shapes the Azure host sends to a Python worker:
- timer: the TimerInfo JSON (``Schedule``, ``ScheduleStatus``, ``IsPastDue``);
- queue: the message as a string (bytes when it is not UTF-8), with ``Id``, ``DequeueCount``,
  ``InsertionTime``, ``ExpirationTime``, ``NextVisibleTime`` and ``PopReceipt`` as metadata;
- blob: for an SDK-type binding (the worker marked it ``SupportsDeferredBinding``) a reference only —
  model binding data from source ``AzureStorageBlobs`` whose JSON content names the ``Connection``,
  ``ContainerName`` and ``BlobName``; for a plain binding the blob's bytes; both with ``BlobTrigger``,
  ``Uri``, ``Properties``, ``Metadata`` and the path's ``{name}`` parameters as metadata;
- HTTP: an RpcHttp with method, URL, headers, query, route parameters and the body as bytes (the worker
  asks for raw body bytes and the body alone), no trigger metadata (the worker says it needs none).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sandbox.host import protos

Payload = tuple[dict[str, Any], dict[str, Any]]   # (input data, trigger metadata)
BLOB_SOURCE = "AzureStorageBlobs"


def _json(value: Any) -> Any:
    return protos.TypedData(json=json.dumps(value))


def _string(value: str) -> Any:
    return protos.TypedData(string=value)


def _time(moment: datetime | None) -> Any:
    return _json(moment.isoformat() if moment is not None else None)


def timer(arg: str, past_due: bool, status: Mapping[str, str]) -> Payload:
    info = {"Schedule": {"AdjustForDST": True}, "ScheduleStatus": dict(status), "IsPastDue": past_due}
    return {arg: _json(info)}, {}


def queue(arg: str, body: bytes, *, message_id: str, dequeue_count: int, inserted: datetime | None,
          expires: datetime | None, next_visible: datetime | None, pop_receipt: str) -> Payload:
    try:
        data = _string(body.decode("utf-8"))
    except UnicodeDecodeError:
        data = protos.TypedData(bytes=body)
    metadata = {"Id": _string(message_id), "DequeueCount": _json(dequeue_count), "InsertionTime": _time(inserted),
                "ExpirationTime": _time(expires), "NextVisibleTime": _time(next_visible),
                "PopReceipt": _string(pop_receipt)}
    return {arg: data}, metadata


def blob(arg: str, *, connection: str, container: str, name: str, uri: str, properties: Mapping[str, Any],
         metadata: Mapping[str, str], path_parameters: Mapping[str, str], content: bytes | None) -> Payload:
    """``content`` None: an SDK-type binding (a reference); bytes: a plain stream binding."""
    if content is None:
        reference = {"Connection": connection, "ContainerName": container, "BlobName": name}
        data = protos.TypedData(model_binding_data=protos.ModelBindingData(
            version="1.0", source=BLOB_SOURCE, content_type="application/json",
            content=json.dumps(reference).encode("utf-8")))
    else:
        data = protos.TypedData(bytes=content)
    trigger = {"BlobTrigger": _string(f"{container}/{name}"), "Uri": _string(uri),
               "Properties": _json(dict(properties)), "Metadata": _json(dict(metadata)),
               **{key: _string(value) for key, value in path_parameters.items()}}
    return {arg: data}, trigger


def http(arg: str, *, method: str, url: str, headers: Mapping[str, str], query: Mapping[str, str],
         route_params: Mapping[str, str], body: bytes, raw_body_bytes: bool) -> Payload:
    request = protos.RpcHttp(method=method, url=url, headers=dict(headers), query=dict(query),
                             params=dict(route_params))
    if body:   # the host leaves the body out of a request without one
        request.body.CopyFrom(protos.TypedData(bytes=body) if raw_body_bytes
                              else _string(body.decode("utf-8", errors="replace")))
    return {arg: protos.TypedData(http=request)}, {}


def http_response(value: Any) -> tuple[int, dict[str, str], bytes]:
    """An InvocationResponse's ``return_value`` (TypedData http) → status, headers, body."""
    kind = value.WhichOneof("data")
    if kind in ("string", "bytes"):   # a function may return a plain body; the host answers 200
        body = value.string.encode("utf-8") if kind == "string" else value.bytes
        return 200, {}, body
    if kind != "http":
        raise TypeError(f"an HTTP function must return an HttpResponse, got TypedData {kind!r}")
    response = value.http
    body_kind = response.body.WhichOneof("data")
    if body_kind == "string":
        body = response.body.string.encode("utf-8")
    elif body_kind == "json":
        body = response.body.json.encode("utf-8")
    else:
        body = response.body.bytes if body_kind == "bytes" else b""
    return int(response.status_code or 200), dict(response.headers), body
