"""What the A2A HTTP+JSON routes refuse before a2a-sdk sees it.

The SDK's parsers raise plain Python errors, which it answers as 500 "unknown exception",
for two kinds of bad input found by fuzzing: a body that is not UTF-8 (protobuf's JSON parser
decodes it first) and, on the 0.3 routes, an integer query parameter that is not an integer
(`?historyLength=false`). Both are the caller's mistake: 400 INVALID_ARGUMENT, naming it; so
is a boolean query parameter that is neither `true` nor `false`, which the SDK takes as false.
The SDK does not look at the request's Content-Type either: a body sent as anything but JSON
is a 415, as on our REST routes and the JSON-RPC endpoint (no Content-Type is taken as JSON).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ...errors import RequestError, UnsupportedMediaTypeError
from ..middleware import error_body

__all__ = ["checked_rest"]

Endpoint = Callable[[Request], Awaitable[Response]]
INTEGER_QUERY = ("historyLength", "pageSize")
BOOLEAN_QUERY = ("includeArtifacts",)  # the SDK takes anything but "true" as false
MAX_INTEGER = 2**31 - 1  # protobuf's int32


def checked_rest(endpoint: Endpoint) -> Endpoint:
    """`endpoint` (an HTTP+JSON route), answering 400 for the input the SDK cannot parse."""

    async def answer(request: Request) -> Response:
        body = await request.body()
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if body and media and media != "application/json" and not media.endswith("+json"):
            error: RequestError = UnsupportedMediaTypeError(
                f"send the body as application/json, not {media}"
            )
        elif (problem := _problem(request, body)) is not None:
            error = RequestError(problem)
        else:
            return await endpoint(request)
        payload = error_body(request.url.path, error)
        return JSONResponse(payload, status_code=error.http_status)

    return answer


def _problem(request: Request, body: bytes) -> str | None:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"the body is not UTF-8 JSON (byte {exc.start})"
    for name in INTEGER_QUERY:
        for value in request.query_params.getlist(name):
            if not (value.isascii() and value.isdigit() and int(value) <= MAX_INTEGER):
                return f"{name}: must be an integer from 0 to {MAX_INTEGER}, not {value[:32]!r}"
    for name in BOOLEAN_QUERY:
        for value in request.query_params.getlist(name):
            if value not in ("true", "false"):
                return f"{name}: must be true or false, not {value[:32]!r}"
    return None
