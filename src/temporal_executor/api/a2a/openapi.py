"""What `/openapi.json` says about the A2A routes, beyond the request bodies a2a-sdk gives
them: their path and query parameters, the optional `A2A-Version` header each version takes,
and every status each can answer with its body (A2A's HTTP+JSON error, a JSON-RPC response,
or our error body for what the HTTP layer refuses under `/a2a`)."""

from __future__ import annotations

import re
from typing import Any

from a2a.utils.constants import PROTOCOL_VERSION_0_3, PROTOCOL_VERSION_1_0, VERSION_HEADER

from ...tenants import TENANT_PATTERN
from ..bodies import ID_PATTERN
from ..openapi import SSE_EVENT
from .card import JSONRPC_PATH, REST_PATH

__all__ = ["describe_a2a"]

_REF = "#/components/schemas/"
_SCHEMAS: dict[str, Any] = {
    "A2AErrorBody": {
        "title": "A2AErrorBody",
        "description": "An A2A HTTP+JSON error (google.rpc.Status with ErrorInfo details).",
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "status", "message"],
                "properties": {
                    "code": {"type": "integer", "description": "the HTTP status"},
                    "status": {"type": "string", "description": "e.g. NOT_FOUND"},
                    "message": {"type": "string"},
                    "details": {"type": "array", "items": {"type": "object"}},
                },
            }
        },
    },
    "JSONRPCResponse": {
        "title": "JSONRPCResponse",
        "description": "A JSON-RPC 2.0 response: `result`, or `error` with an A2A code "
        "(-32001 task not found, -32602 invalid params, -32601 unknown method, …).",
        "type": "object",
        "required": ["jsonrpc"],
        "oneOf": [{"required": ["result"]}, {"required": ["error"]}],
        "properties": {
            "jsonrpc": {"type": "string", "enum": ["2.0"]},
            "id": {"type": ["string", "integer", "null"]},
            "result": {},
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
            },
        },
    },
}
_A2A_ERRORS = {
    400: "invalid params, an unsupported operation, a task that cannot be canceled, a body "
    "nested too deeply",
    401: "auth is on and the bearer token is missing or unknown",
    403: "the key lacks the scope this call needs",
    404: "no such task or push notification config (of the caller's tenant), or a tenant "
    "the key may not act in",
    413: "the body is over `server.max_body_bytes`",
    415: "the body is not JSON",
    500: "Temporal did not answer, or the agent failed unexpectedly",
}
_OUR_ERRORS = {
    401: "auth is on and the bearer token is missing or unknown (our error body)",
    403: "the key lacks the scope the method needs (our error body)",
    413: "the body is over `server.max_body_bytes` (our error body)",
}
_LIST_TASKS_QUERY: dict[str, Any] = {
    "contextId": {"type": "string"},
    "status": {"type": "string", "description": "a TaskState name, e.g. TASK_STATE_WORKING"},
    "pageSize": {"type": "integer", "minimum": 1, "maximum": 100},
    "pageToken": {"type": "string", "maxLength": 64},
    "historyLength": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
    "statusTimestampAfter": {"type": "string", "format": "date-time"},
    "includeArtifacts": {"type": "boolean"},
}
_QUERY: dict[tuple[str, str], dict[str, Any]] = {
    ("/tasks", "get"): _LIST_TASKS_QUERY,
    ("/tasks/{id}", "get"): {
        "historyLength": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
    },
}


def describe_a2a(spec: dict[str, Any]) -> None:
    """Complete `spec`'s A2A operations in place."""
    spec.setdefault("components", {}).setdefault("schemas", {}).update(_SCHEMAS)
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if path.startswith(REST_PATH + "/"):
                _rest(path, method, operation)
            elif path.rstrip("/") == JSONRPC_PATH:
                _jsonrpc(operation)
            elif path.endswith("agent-card.json") or path.endswith("agent.json"):
                operation["responses"]["304"] = {"description": "unchanged (If-None-Match)"}


def _rest(path: str, method: str, operation: dict[str, Any]) -> None:
    legacy = path.startswith(REST_PATH + "/v1/")
    route = path.removeprefix(REST_PATH).removeprefix("/v1").removeprefix("/{tenant}")
    version = PROTOCOL_VERSION_0_3 if legacy else PROTOCOL_VERSION_1_0
    parameters = [
        {
            "in": "header",
            "name": VERSION_HEADER,
            "required": False,
            # a2a-sdk takes any version of the same major (0.3.1, 0); another is a 400.
            "schema": {"type": "string", "examples": [version]},
            "description": f"the A2A protocol version: {version} (the default) on this path, or "
            "another of the same major version",
        }
    ]
    for name in re.findall(r"{(\w+)}", path):
        schema: dict[str, Any] = {"type": "string", "minLength": 1}
        if name == "id":
            schema = {"type": "string", "pattern": ID_PATTERN, "maxLength": 128}
        elif name == "tenant":
            schema = {"type": "string", "pattern": TENANT_PATTERN, "maxLength": 64}
        parameters.append({"in": "path", "name": name, "required": True, "schema": schema})
    for name, schema in _QUERY.get((route, method), {}).items():
        parameters.append({"in": "query", "name": name, "required": False, "schema": schema})
    operation["parameters"] = parameters
    streams = route.endswith((":subscribe", ":stream"))
    content = "text/event-stream" if streams else "application/json"
    statuses = [400, 401, 403, 404, 500]
    if method in ("post", "put", "patch") and "requestBody" in operation:
        statuses += [413, 415]
    operation["responses"] = {
        "200": {
            "description": "the A2A answer" + (" as Server-Sent Events" if streams else ""),
            "content": {content: {"schema": SSE_EVENT if streams else {}}},
        },
        **{
            str(status): {
                "description": _A2A_ERRORS[status],
                "content": {"application/json": {"schema": {"$ref": _REF + "A2AErrorBody"}}},
            }
            for status in sorted(statuses)
        },
    }
    if route == "/tasks/{id}/pushNotificationConfigs/{push_id}" and method == "delete":
        operation["responses"]["200"]["content"] = {"application/json": {"schema": {}}}


def _jsonrpc(operation: dict[str, Any]) -> None:
    parameters = operation.get("parameters", [])
    for parameter in parameters:
        if parameter.get("name") == VERSION_HEADER:
            parameter["required"] = False
            parameter["schema"] = {
                "type": "string",
                "examples": [PROTOCOL_VERSION_1_0, PROTOCOL_VERSION_0_3],
            }
    operation["responses"] = {
        "200": {
            "description": "a JSON-RPC response (errors too), or Server-Sent Events of JSON-RPC "
            "responses for SendStreamingMessage / SubscribeToTask",
            "content": {
                "application/json": {"schema": {"$ref": _REF + "JSONRPCResponse"}},
                "text/event-stream": {"schema": SSE_EVENT},
            },
        },
        **{
            str(status): {
                "description": text,
                "content": {"application/json": {"schema": {"$ref": _REF + "ErrorBody"}}},
            }
            for status, text in _OUR_ERRORS.items()
        },
    }
