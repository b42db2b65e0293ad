"""What the A2A HTTP+JSON routes refuse before a2a-sdk sees it.

The SDK's parsers raise plain Python errors, which it answers as 500 "unknown exception",
for two kinds of bad input found by fuzzing: a body that is not UTF-8 (protobuf's JSON parser
decodes it first) and, on the 0.3 routes, an integer query parameter that is not an integer
(`?historyLength=false`). Both are the caller's mistake: 400 INVALID_ARGUMENT, naming it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ...errors import RequestError
from ..middleware import error_body

__all__ = ["checked_rest"]

Endpoint = Callable[[Request], Awaitable[Response]]
INTEGER_QUERY = ("historyLength", "pageSize")
MAX_INTEGER = 2**31 - 1  # protobuf's int32


def checked_rest(endpoint: Endpoint) -> Endpoint:
    """`endpoint` (an HTTP+JSON route), answering 400 for the input the SDK cannot parse."""

    async def answer(request: Request) -> Response:
        problem = _problem(request, await request.body())
        if problem is None:
            return await endpoint(request)
        return JSONResponse(error_body(request.url.path, RequestError(problem)), status_code=400)

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
    return None
