"""ASGI middleware: bearer-token auth and the request-size cap.

Both answer before the app runs, in the error format of the route asked for (`error_body`):
ours (`{"error": {"code": "unauthorized", "message", "details"}}`) everywhere but under the
A2A HTTP+JSON routes, which answer in A2A's (`{"error": {"code": 401, "status":
"UNAUTHENTICATED", "message"}}`).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import BodyTooLargeError, ExecutorError, ForbiddenError, UnauthorizedError
from .auth import CALLER_STATE, Authenticator

__all__ = ["BearerAuth", "BodyLimit", "error_body", "error_headers"]

_OPEN_PATHS = (
    "/healthz",
    "/readyz",
    "/metrics",
    "/docs",
    "/openapi.json",
    "/.well-known/",
    "/a2a/.well-known/",
)
A2A_REST_PREFIX = "/a2a/rest/"
# google.rpc status names of the errors answered here, for the A2A HTTP+JSON format.
_GRPC_STATUS = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 413: "INVALID_ARGUMENT"}


def error_body(path: str, error: ExecutorError) -> dict[str, Any]:
    """`error` as the body the route at `path` answers errors with."""
    if path.startswith(A2A_REST_PREFIX):
        status = _GRPC_STATUS.get(error.http_status, "INVALID_ARGUMENT")
        return {"error": {"code": error.http_status, "status": status, "message": error.message}}
    return {"error": {"code": error.code, "message": error.message, "details": error.details}}


def error_headers(error: ExecutorError) -> dict[str, str]:
    """RFC 6750's challenge on 401 and 403."""
    if isinstance(error, UnauthorizedError):
        return {"WWW-Authenticate": 'Bearer realm="temporal-executor"'}
    if isinstance(error, ForbiddenError):
        scope = error.details.get("scope", "") if isinstance(error.details, dict) else ""
        challenge = f'Bearer realm="temporal-executor", error="insufficient_scope", scope="{scope}"'
        return {"WWW-Authenticate": challenge}
    return {}


async def _send_error(send: Send, path: str, error: ExecutorError) -> None:
    body = json.dumps(error_body(path, error)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in error_headers(error).items()]
    await send({"type": "http.response.start", "status": error.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BearerAuth:
    """Requires `Authorization: Bearer <key>` when keys are configured (probes, docs and
    the agent card stay open), and stores the `Caller` on the request for the routes."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_OPEN_PATHS):
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"authorization")
        try:
            caller = self.authenticator.authenticate(header)
        except UnauthorizedError as exc:
            await _send_error(send, scope["path"], exc)
            return
        scope.setdefault("state", {})[CALLER_STATE] = caller
        await self.app(scope, receive, send)


class BodyLimit:
    """Answers 413 for a body over `max_bytes`, by Content-Length or while it streams in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await _send_error(send, scope["path"], self._error())
            return
        received = 0
        responded = False

        async def limited_receive() -> Message:
            nonlocal received, responded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes and not responded:
                    # Answer now: the app may turn the exception below into its own error.
                    responded = True
                    await _send_error(send, scope["path"], self._error())
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            if not responded:
                await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _TooLarge:
            pass

    def _error(self) -> BodyTooLargeError:
        return BodyTooLargeError(f"request body larger than {self.max_bytes} bytes")


class _TooLarge(Exception):
    pass
