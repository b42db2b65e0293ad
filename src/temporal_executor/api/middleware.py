"""ASGI middleware: bearer-token auth, the request-size cap, and CORS for the codec server.

The first two answer before the app runs, in the error format of the route asked for
(`error_body`): ours (`{"error": {"code": "unauthorized", "message", "details"}}`) everywhere
but under the A2A HTTP+JSON routes, which answer in A2A's (`{"error": {"code": 401, "status":
"UNAUTHENTICATED", "message"}}`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import (
    BodyTooLargeError,
    ExecutorError,
    ForbiddenError,
    RequestError,
    UnauthorizedError,
)
from .auth import CALLER_STATE, SESSION_COOKIE, Authenticator

__all__ = [
    "CODEC_PREFIX",
    "BearerAuth",
    "BodyLimit",
    "CodecCors",
    "NestingLimit",
    "error_body",
    "error_headers",
]

_OPEN_PATHS = (
    "/healthz",
    "/readyz",
    "/metrics",
    "/docs",
    "/openapi.json",
    "/.well-known/",
    "/a2a/.well-known/",
    "/ui",  # the web console's pages and assets hold no data; they call /api with the token
)
# Routes open to one method only: a webhook, whose signature is its auth (routes/triggers.py);
# the same path's DELETE (deleting the trigger) takes a bearer token as every route does.
_OPEN_ROUTES = ((b"POST", re.compile(r"^/api/v1/triggers/[^/]+$")),)
A2A_REST_PREFIX = "/a2a/rest/"
CODEC_PREFIX = "/codec/"  # the codec server (`routes/codec.py`)
JSONRPC_PATHS = ("/a2a", "/a2a/")
MAX_BODY_DEPTH = 64  # JSON nesting of a request body; deeper would exhaust the parsers' stack
# google.rpc status names of the errors answered here, for the A2A HTTP+JSON format.
_GRPC_STATUS = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 413: "INVALID_ARGUMENT"}


def error_body(path: str, error: ExecutorError) -> dict[str, Any]:
    """`error` as the body the route at `path` answers errors with (for JSON-RPC: an
    invalid-request error object, for the errors that are not the HTTP layer's)."""
    if path in JSONRPC_PATHS and error.http_status in (400, 422):
        return {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": error.message}}
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
    payload = error_body(path, error)
    status = 200 if "jsonrpc" in payload else error.http_status
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in error_headers(error).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BearerAuth:
    """Requires `Authorization: Bearer <key>` when keys are configured (probes, docs, the
    agent card and webhooks stay open; the codec server takes its session cookie instead),
    and stores the `Caller` on the request for the routes."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _open(scope):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        header = headers.get(b"authorization")
        try:
            if header is None and scope["path"].startswith(CODEC_PREFIX):
                cookies = cookie_parser(headers.get(b"cookie", b"").decode("latin-1"))
                caller = self.authenticator.authenticate_session(cookies.get(SESSION_COOKIE))
            else:
                caller = self.authenticator.authenticate(header)
        except UnauthorizedError as exc:
            await _send_error(send, scope["path"], exc)
            return
        scope.setdefault("state", {})[CALLER_STATE] = caller
        await self.app(scope, receive, send)


def _open(scope: Scope) -> bool:
    path: str = scope["path"]
    if path.startswith(_OPEN_PATHS):
        return True
    method = scope["method"].encode()
    return any(method == m and route.match(path) for m, route in _OPEN_ROUTES)


class CodecCors:
    """CORS for the codec server, for one origin (the Temporal UI's) and no other: preflights
    are answered here, before auth (browsers send no credentials with them), and the
    server's answers may be read by that origin's pages, with credentials (the session
    cookie). Nothing else is cross-origin readable."""

    _PREFLIGHT = [
        (b"access-control-allow-methods", b"POST, DELETE, OPTIONS"),
        (
            b"access-control-allow-headers",
            b"Content-Type, X-Namespace, Authorization, Authorization-Extras",
        ),
        (b"access-control-max-age", b"600"),
    ]

    def __init__(self, app: ASGIApp, origin: str | None) -> None:
        self.app = app
        self.origin = origin.encode("latin-1") if origin else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(CODEC_PREFIX):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        origin = headers.get(b"origin")
        allowed = [
            (b"access-control-allow-origin", origin or b""),
            (b"access-control-allow-credentials", b"true"),
        ]
        if origin is None or origin != self.origin:
            allowed = []
        vary = [(b"vary", b"Origin")] if origin is not None else []
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            extra = allowed + self._PREFLIGHT if allowed else []
            await send(
                {
                    "type": "http.response.start",
                    "status": 204 if allowed else 403,
                    "headers": extra + vary,
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *allowed, *vary]
            await send(message)

        await self.app(scope, receive, with_cors)


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


class NestingLimit:
    """Answers a body nested deeper than `max_depth` (`[[[[…`) with 422 (400 on A2A routes,
    an invalid-request error on JSON-RPC) before any JSON parser sees it: Python's parsers
    recurse, and a megabyte of brackets would exhaust their stack."""

    def __init__(self, app: ASGIApp, max_depth: int = MAX_BODY_DEPTH) -> None:
        self.app = app
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before sending its body
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if _nesting(body, self.max_depth) > self.max_depth:
            problem = f"the JSON body is nested deeper than {self.max_depth} levels"
            error = RequestError(problem)
            error.http_status = 400 if scope["path"].startswith(A2A_REST_PREFIX) else 422
            await _send_error(send, scope["path"], error)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _nesting(body: bytes, limit: int) -> int:
    """How deep `body`'s JSON nests (strings skipped), counting up to just past `limit`."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return 0  # too few brackets to go deeper: the usual case, no scan
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest
