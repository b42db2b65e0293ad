"""Which scope each A2A call needs, and the checks that refuse a key without it (403).

The scope of a call follows from its method (JSON-RPC and gRPC share the 1.0 names; 0.3
JSON-RPC has its own) or its HTTP+JSON route; a message that names a task (`taskId`) answers
that paused task (an approval, or the next turn after one), so it needs `approve` rather than
`write`. `method_scope` is the table the gRPC transport uses too.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ...config import Scope
from ...errors import ForbiddenError
from ..auth import caller_from_scope
from ..middleware import error_body, error_headers

__all__ = ["method_scope", "rest_scope", "scoped_jsonrpc", "scoped_rest"]

_READ_METHODS = frozenset(
    {
        "GetTask",
        "ListTasks",
        "SubscribeToTask",
        "GetTaskPushNotificationConfig",
        "ListTaskPushNotificationConfigs",
        "GetExtendedAgentCard",
        "tasks/get",
        "tasks/resubscribe",
        "tasks/pushNotificationConfig/get",
        "tasks/pushNotificationConfig/list",
        "agent/getAuthenticatedExtendedCard",
    }
)
_MESSAGE_METHODS = frozenset(
    {"SendMessage", "SendStreamingMessage", "message/send", "message/stream"}
)

Endpoint = Callable[[Request], Awaitable[Response]]


def method_scope(method: str, params: Any = None) -> Scope:
    """The scope an A2A call of `method` with `params` (its JSON, if known) needs."""
    if method in _READ_METHODS:
        return Scope.READ
    if method in _MESSAGE_METHODS and _names_a_task(params):
        return Scope.APPROVE
    return Scope.WRITE


def rest_scope(method: str, path: str, body: Any = None) -> Scope:
    """The scope of the HTTP+JSON route `method path` (`body`: its JSON, if any)."""
    if method == "GET" or path.endswith(":subscribe"):
        return Scope.READ
    if path.endswith(("/message:send", "/message:stream")) and _names_a_task(body):
        return Scope.APPROVE
    return Scope.WRITE


def _names_a_task(params: Any) -> bool:
    message = params.get("message") if isinstance(params, dict) else None
    return isinstance(message, dict) and bool(message.get("taskId") or message.get("task_id"))


def _refusal(request: Request, scope: Scope) -> Response | None:
    """The 403 answer when the caller may not use `scope`, else None."""
    caller = caller_from_scope(request.scope)
    if caller is None:
        return None
    try:
        caller.require(scope)
    except ForbiddenError as exc:
        return JSONResponse(
            error_body(request.url.path, exc), status_code=403, headers=error_headers(exc)
        )
    return None


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        return None  # the SDK answers what is wrong with it


def scoped_rest(endpoint: Endpoint) -> Endpoint:
    """`endpoint` (an HTTP+JSON route), refusing a key without the route's scope."""

    async def answer(request: Request) -> Response:
        body = await _json(request) if request.method == "POST" else None
        refusal = _refusal(request, rest_scope(request.method, request.url.path, body))
        return refusal or await endpoint(request)

    return answer


def scoped_jsonrpc(endpoint: Endpoint) -> Endpoint:
    """`endpoint` (the JSON-RPC route), refusing a key without the called method's scope."""

    async def answer(request: Request) -> Response:
        body = await _json(request)
        method = body.get("method") if isinstance(body, dict) else None
        if isinstance(method, str):
            refusal = _refusal(request, method_scope(method, body.get("params")))
            if refusal is not None:
                return refusal
        return await endpoint(request)

    return answer
