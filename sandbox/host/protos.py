"""The FunctionRpc messages the Python worker library exchanges with its host, as protobuf classes.

Microsoft's worker library (``azure-functions-runtime``) never imports gRPC: the process that hosts it
hands it a ``protos`` module and it builds and reads FunctionRpc messages through that. This module is
ours, written from the public protocol description (azure-functions-language-worker-protobuf,
``FunctionRpc.proto``, package ``AzureFunctionsRpcMessages``, with ``NullableTypes.proto`` and
``ClaimsIdentityRpc.proto``): the messages of indexing, loading and invocation, with the field numbers
and enum values of the description, built at import into a private descriptor pool (no generated code,
no protoc). Messages the local host never sends (shared memory transfer, warm-up, file-change events)
are left out, except the ones the library names.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, duration_pb2, message_factory, timestamp_pb2

PACKAGE = "AzureFunctionsRpcMessages"
_FDP = descriptor_pb2.FieldDescriptorProto
_SCALARS = {"string": _FDP.TYPE_STRING, "bytes": _FDP.TYPE_BYTES, "bool": _FDP.TYPE_BOOL,
            "int32": _FDP.TYPE_INT32, "int64": _FDP.TYPE_INT64, "sint64": _FDP.TYPE_SINT64,
            "double": _FDP.TYPE_DOUBLE}
_WELL_KNOWN = {"Duration": ".google.protobuf.Duration", "Timestamp": ".google.protobuf.Timestamp"}

# Field: (name, number, type) with "repeated T" and "map<K,V>" types; ("oneof", name, [fields]).
# Enums: name → [(value name, number)], nested under the message that declares them.
_ENUMS: dict[str, list[tuple[str, int]]] = {
    "RpcDataType": [("unknown", 0), ("string", 1), ("json", 2), ("bytes", 3), ("stream", 4), ("http", 5),
                    ("int", 6), ("double", 7), ("collection_bytes", 8), ("collection_string", 9),
                    ("collection_double", 10), ("collection_sint64", 11)],
    "StatusResult.Status": [("Failure", 0), ("Success", 1), ("Cancelled", 2)],
    "BindingInfo.Direction": [("in", 0), ("out", 1), ("inout", 2)],
    "BindingInfo.DataType": [("undefined", 0), ("string", 1), ("binary", 2), ("stream", 3)],
    "RpcLog.Level": [("Trace", 0), ("Debug", 1), ("Information", 2), ("Warning", 3), ("Error", 4),
                     ("Critical", 5), ("None", 6)],
    "RpcLog.RpcLogCategory": [("User", 0), ("System", 1), ("CustomMetric", 2)],
    "RpcHttpCookie.SameSite": [("None", 0), ("Lax", 1), ("Strict", 2), ("ExplicitNone", 3)],
    "RpcRetryOptions.RetryStrategy": [("exponential_backoff", 0), ("fixed_delay", 1)],
}
_MESSAGES: dict[str, list[Any]] = {
    "StreamingMessage": [
        ("request_id", 1, "string"),
        ("oneof", "content", [
            ("rpc_log", 2, "RpcLog"),
            ("invocation_request", 4, "InvocationRequest"), ("invocation_response", 5, "InvocationResponse"),
            ("function_load_request", 8, "FunctionLoadRequest"),
            ("function_load_response", 9, "FunctionLoadResponse"),
            ("worker_status_request", 12, "WorkerStatusRequest"),
            ("worker_status_response", 13, "WorkerStatusResponse"),
            ("worker_init_response", 16, "WorkerInitResponse"), ("worker_init_request", 17, "WorkerInitRequest"),
            ("function_environment_reload_request", 25, "FunctionEnvironmentReloadRequest"),
            ("function_environment_reload_response", 26, "FunctionEnvironmentReloadResponse"),
            ("functions_metadata_request", 29, "FunctionsMetadataRequest"),
            ("function_metadata_response", 30, "FunctionMetadataResponse"),
        ]),
    ],
    "WorkerInitRequest": [("host_version", 1, "string"), ("capabilities", 2, "map<string,string>"),
                          ("log_categories", 3, "map<string,RpcLog.Level>"), ("worker_directory", 4, "string"),
                          ("function_app_directory", 5, "string")],
    "WorkerInitResponse": [("worker_version", 1, "string"), ("capabilities", 2, "map<string,string>"),
                           ("result", 3, "StatusResult"), ("worker_metadata", 4, "WorkerMetadata")],
    "WorkerMetadata": [("runtime_name", 1, "string"), ("runtime_version", 2, "string"),
                       ("worker_version", 3, "string"), ("worker_bitness", 4, "string"),
                       ("custom_properties", 5, "map<string,string>")],
    "StatusResult": [("result", 1, "string"), ("exception", 2, "RpcException"), ("logs", 3, "repeated RpcLog"),
                     ("status", 4, "StatusResult.Status")],
    "WorkerStatusRequest": [],
    "WorkerStatusResponse": [],
    "FunctionEnvironmentReloadRequest": [("environment_variables", 1, "map<string,string>"),
                                         ("function_app_directory", 2, "string")],
    "FunctionEnvironmentReloadResponse": [("worker_metadata", 1, "WorkerMetadata"),
                                          ("capabilities", 2, "map<string,string>"), ("result", 3, "StatusResult")],
    "FunctionLoadRequest": [("function_id", 1, "string"), ("metadata", 2, "RpcFunctionMetadata"),
                            ("managed_dependency_enabled", 3, "bool")],
    "FunctionLoadResponse": [("function_id", 1, "string"), ("result", 2, "StatusResult"),
                             ("is_dependency_downloaded", 3, "bool")],
    "RpcFunctionMetadata": [("directory", 1, "string"), ("script_file", 2, "string"), ("entry_point", 3, "string"),
                            ("name", 4, "string"), ("bindings", 6, "map<string,BindingInfo>"),
                            ("is_proxy", 7, "bool"), ("status", 8, "StatusResult"), ("language", 9, "string"),
                            ("raw_bindings", 10, "repeated string"), ("function_id", 13, "string"),
                            ("managed_dependency_enabled", 14, "bool"), ("retry_options", 15, "RpcRetryOptions"),
                            ("properties", 16, "map<string,string>")],
    "FunctionsMetadataRequest": [("function_app_directory", 1, "string")],
    "FunctionMetadataResponse": [("function_metadata_results", 1, "repeated RpcFunctionMetadata"),
                                 ("result", 2, "StatusResult"), ("use_default_metadata_indexing", 3, "bool")],
    "InvocationRequest": [("invocation_id", 1, "string"), ("function_id", 2, "string"),
                          ("input_data", 3, "repeated ParameterBinding"),
                          ("trigger_metadata", 4, "map<string,TypedData>"), ("trace_context", 5, "RpcTraceContext"),
                          ("retry_context", 6, "RetryContext")],
    "RpcTraceContext": [("trace_parent", 1, "string"), ("trace_state", 2, "string"),
                        ("attributes", 3, "map<string,string>")],
    "RetryContext": [("retry_count", 1, "int32"), ("max_retry_count", 2, "int32"), ("exception", 3, "RpcException")],
    "InvocationResponse": [("invocation_id", 1, "string"), ("output_data", 2, "repeated ParameterBinding"),
                           ("result", 3, "StatusResult"), ("return_value", 4, "TypedData")],
    "TypedData": [("oneof", "data", [
        ("string", 1, "string"), ("json", 2, "string"), ("bytes", 3, "bytes"), ("stream", 4, "bytes"),
        ("http", 5, "RpcHttp"), ("int", 6, "sint64"), ("double", 7, "double"),
        ("collection_bytes", 8, "CollectionBytes"), ("collection_string", 9, "CollectionString"),
        ("collection_double", 10, "CollectionDouble"), ("collection_sint64", 11, "CollectionSInt64"),
        ("model_binding_data", 12, "ModelBindingData"),
        ("collection_model_binding_data", 13, "CollectionModelBindingData")])],
    "RpcSharedMemory": [("name", 1, "string"), ("offset", 2, "int64"), ("count", 3, "int64"),
                        ("type", 4, "RpcDataType")],
    "CollectionString": [("string", 1, "repeated string")],
    "CollectionBytes": [("bytes", 1, "repeated bytes")],
    "CollectionDouble": [("double", 1, "repeated double")],
    "CollectionSInt64": [("sint64", 1, "repeated sint64")],
    "ParameterBinding": [("name", 1, "string"), ("oneof", "rpc_data", [
        ("data", 2, "TypedData"), ("rpc_shared_memory", 3, "RpcSharedMemory")])],
    "BindingInfo": [("type", 2, "string"), ("direction", 3, "BindingInfo.Direction"),
                    ("data_type", 4, "BindingInfo.DataType"), ("properties", 5, "map<string,string>")],
    "RpcLog": [("invocation_id", 1, "string"), ("category", 2, "string"), ("level", 3, "RpcLog.Level"),
               ("message", 4, "string"), ("event_id", 5, "string"), ("exception", 6, "RpcException"),
               ("properties", 7, "string"), ("log_category", 8, "RpcLog.RpcLogCategory"),
               ("propertiesMap", 9, "map<string,TypedData>")],
    "RpcException": [("stack_trace", 1, "string"), ("message", 2, "string"), ("source", 3, "string"),
                     ("is_user_exception", 4, "bool"), ("type", 5, "string")],
    "RpcHttpCookie": [("name", 1, "string"), ("value", 2, "string"), ("domain", 3, "NullableString"),
                      ("path", 4, "NullableString"), ("expires", 5, "NullableTimestamp"),
                      ("secure", 6, "NullableBool"), ("http_only", 7, "NullableBool"),
                      ("same_site", 8, "RpcHttpCookie.SameSite"), ("max_age", 9, "NullableDouble")],
    "RpcHttp": [("method", 1, "string"), ("url", 2, "string"), ("headers", 3, "map<string,string>"),
                ("body", 4, "TypedData"), ("params", 10, "map<string,string>"), ("status_code", 12, "string"),
                ("query", 15, "map<string,string>"), ("enable_content_negotiation", 16, "bool"),
                ("rawBody", 17, "TypedData"), ("identities", 18, "repeated RpcClaimsIdentity"),
                ("cookies", 19, "repeated RpcHttpCookie"),
                ("nullable_headers", 20, "map<string,NullableString>"),
                ("nullable_params", 21, "map<string,NullableString>"),
                ("nullable_query", 22, "map<string,NullableString>")],
    "ModelBindingData": [("version", 1, "string"), ("source", 2, "string"), ("content_type", 3, "string"),
                         ("content", 4, "bytes")],
    "CollectionModelBindingData": [("model_binding_data", 1, "repeated ModelBindingData")],
    "RpcRetryOptions": [("max_retry_count", 2, "int32"), ("delay_interval", 3, "Duration"),
                        ("minimum_interval", 4, "Duration"), ("maximum_interval", 5, "Duration"),
                        ("retry_strategy", 6, "RpcRetryOptions.RetryStrategy")],
    # NullableTypes.proto
    "NullableString": [("oneof", "string", [("value", 1, "string")])],
    "NullableDouble": [("oneof", "double", [("value", 1, "double")])],
    "NullableBool": [("oneof", "bool", [("value", 1, "bool")])],
    "NullableTimestamp": [("oneof", "timestamp", [("value", 1, "Timestamp")])],
    # ClaimsIdentityRpc.proto
    "RpcClaimsIdentity": [("authentication_type", 1, "NullableString"), ("name_claim_type", 2, "NullableString"),
                          ("role_claim_type", 3, "NullableString"), ("claims", 4, "repeated RpcClaim")],
    "RpcClaim": [("value", 1, "string"), ("type", 2, "string")],
}


def _set_type(field: Any, type_name: str) -> None:
    if type_name in _SCALARS:
        field.type = _SCALARS[type_name]
    elif type_name in _WELL_KNOWN:
        field.type, field.type_name = _FDP.TYPE_MESSAGE, _WELL_KNOWN[type_name]
    elif type_name in _ENUMS:
        field.type, field.type_name = _FDP.TYPE_ENUM, f".{PACKAGE}.{type_name}"
    else:
        field.type, field.type_name = _FDP.TYPE_MESSAGE, f".{PACKAGE}.{type_name}"


def _add_field(message: Any, name: str, number: int, type_name: str, oneof: int | None = None) -> None:
    field = message.field.add(name=name, number=number, label=_FDP.LABEL_OPTIONAL)
    if oneof is not None:
        field.oneof_index = oneof
    if type_name.startswith("repeated "):
        field.label = _FDP.LABEL_REPEATED
        _set_type(field, type_name.removeprefix("repeated "))
    elif type_name.startswith("map<"):
        key, value = type_name[4:-1].split(",")
        # protoc's name for a map's entry message: trigger_metadata → TriggerMetadataEntry
        entry_name = "".join(part[:1].upper() + part[1:] for part in name.split("_")) + "Entry"
        entry = message.nested_type.add(name=entry_name)
        entry.options.map_entry = True
        _add_field(entry, "key", 1, key)
        _add_field(entry, "value", 2, value)
        field.label = _FDP.LABEL_REPEATED
        field.type, field.type_name = _FDP.TYPE_MESSAGE, f".{PACKAGE}.{message.name}.{entry_name}"
    else:
        _set_type(field, type_name)


def _file() -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto(name="FunctionRpc.proto", package=PACKAGE, syntax="proto3",
                                               dependency=["google/protobuf/duration.proto",
                                                           "google/protobuf/timestamp.proto"])
    for enum_name, values in _ENUMS.items():
        if "." not in enum_name:
            enum = proto.enum_type.add(name=enum_name)
            for value, number in values:
                enum.value.add(name=value, number=number)
    for name, fields in _MESSAGES.items():
        message = proto.message_type.add(name=name)
        for enum_name, values in _ENUMS.items():
            owner, _, short = enum_name.partition(".")
            if owner == name and short:
                enum = message.enum_type.add(name=short)
                for value, number in values:
                    enum.value.add(name=value, number=number)
        for spec in fields:
            if spec[0] == "oneof":
                index = len(message.oneof_decl)
                message.oneof_decl.add(name=spec[1])
                for field_name, number, type_name in spec[2]:
                    _add_field(message, field_name, number, type_name, oneof=index)
            else:
                _add_field(message, *spec)
    return proto


def _build() -> dict[str, Any]:
    pool = descriptor_pool.DescriptorPool()
    for well_known in (duration_pb2, timestamp_pb2):
        pool.AddSerializedFile(well_known.DESCRIPTOR.serialized_pb)
    file = pool.Add(_file())
    classes: dict[str, Any] = {name: message_factory.GetMessageClass(file.message_types_by_name[name])
                               for name in _MESSAGES}
    classes["RpcDataType"] = file.enum_types_by_name["RpcDataType"]
    return classes


_classes = _build()
StreamingMessage: Any = _classes["StreamingMessage"]
WorkerInitRequest: Any = _classes["WorkerInitRequest"]
WorkerInitResponse: Any = _classes["WorkerInitResponse"]
WorkerMetadata: Any = _classes["WorkerMetadata"]
StatusResult: Any = _classes["StatusResult"]
WorkerStatusRequest: Any = _classes["WorkerStatusRequest"]
WorkerStatusResponse: Any = _classes["WorkerStatusResponse"]
FunctionEnvironmentReloadRequest: Any = _classes["FunctionEnvironmentReloadRequest"]
FunctionEnvironmentReloadResponse: Any = _classes["FunctionEnvironmentReloadResponse"]
FunctionLoadRequest: Any = _classes["FunctionLoadRequest"]
FunctionLoadResponse: Any = _classes["FunctionLoadResponse"]
RpcFunctionMetadata: Any = _classes["RpcFunctionMetadata"]
FunctionsMetadataRequest: Any = _classes["FunctionsMetadataRequest"]
FunctionMetadataResponse: Any = _classes["FunctionMetadataResponse"]
InvocationRequest: Any = _classes["InvocationRequest"]
InvocationResponse: Any = _classes["InvocationResponse"]
RpcTraceContext: Any = _classes["RpcTraceContext"]
RetryContext: Any = _classes["RetryContext"]
TypedData: Any = _classes["TypedData"]
RpcSharedMemory: Any = _classes["RpcSharedMemory"]
CollectionString: Any = _classes["CollectionString"]
CollectionBytes: Any = _classes["CollectionBytes"]
CollectionDouble: Any = _classes["CollectionDouble"]
CollectionSInt64: Any = _classes["CollectionSInt64"]
ParameterBinding: Any = _classes["ParameterBinding"]
BindingInfo: Any = _classes["BindingInfo"]
RpcLog: Any = _classes["RpcLog"]
RpcException: Any = _classes["RpcException"]
RpcHttpCookie: Any = _classes["RpcHttpCookie"]
RpcHttp: Any = _classes["RpcHttp"]
ModelBindingData: Any = _classes["ModelBindingData"]
CollectionModelBindingData: Any = _classes["CollectionModelBindingData"]
RpcRetryOptions: Any = _classes["RpcRetryOptions"]
NullableString: Any = _classes["NullableString"]
NullableDouble: Any = _classes["NullableDouble"]
NullableBool: Any = _classes["NullableBool"]
NullableTimestamp: Any = _classes["NullableTimestamp"]
RpcClaimsIdentity: Any = _classes["RpcClaimsIdentity"]
RpcClaim: Any = _classes["RpcClaim"]
RpcDataType: Any = _classes["RpcDataType"]
