"""A2A streams answer their errors before they start.

a2a-sdk's 1.0 routes read a stream's first event before answering, so a call that fails at
once (an unknown task, bad params) is an error response rather than a 200 event stream. Its
0.3 adapters do not: over HTTP+JSON the stream starts and then breaks off mid-chunk; over
JSON-RPC the error is an event of a 200 stream. `started` gives the 0.3 streaming routes the
1.0 behaviour: it reads the first event of the response's stream and, when the call failed
there, answers that error in the transport's own error format instead.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from a2a.utils.error_handlers import build_rest_error_payload
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

__all__ = ["started_jsonrpc", "started_rest"]

Endpoint = Callable[[Request], Awaitable[Response]]


def started_rest(endpoint: Endpoint) -> Endpoint:
    """`endpoint` (an HTTP+JSON streaming route), answering a failed start with the HTTP+JSON
    error (e.g. 404 for an unknown task) instead of a stream that breaks off."""

    async def answer(request: Request) -> Response:
        response = await endpoint(request)
        try:
            peeked = await _peek(response)
        except Exception as exc:  # what the call raised: its A2A error, or any other
            payload = build_rest_error_payload(exc)
            return JSONResponse(payload, status_code=payload["error"]["code"])
        if peeked is not None:
            _put_back(response, *peeked)
        return response

    return answer


def started_jsonrpc(endpoint: Endpoint) -> Endpoint:
    """`endpoint` (the JSON-RPC route), answering a streaming call whose first event is a
    JSON-RPC error with that error as a plain JSON-RPC response."""

    async def answer(request: Request) -> Response:
        response = await endpoint(request)
        peeked = await _peek(response)
        if peeked is None:
            return response
        first, stream = peeked
        error = _jsonrpc_error(first)
        if error is not None:
            await _close(stream)
            return JSONResponse(error)
        _put_back(response, first, stream)
        return response

    return answer


async def _peek(response: Response) -> tuple[Any, AsyncIterator[Any]] | None:
    """The first event of a streaming response and the rest of its stream; None when the
    response is not a stream or an empty one. Raises what the stream raises."""
    stream: AsyncIterator[Any] | None = getattr(response, "body_iterator", None)
    if stream is None or response.media_type != "text/event-stream":
        return None
    if not hasattr(stream, "__anext__"):
        return None  # a synchronous iterator: no SDK stream
    try:
        return await anext(stream), stream
    except StopAsyncIteration:
        return None


def _put_back(response: Response, first: Any, rest: AsyncIterator[Any]) -> None:
    response.body_iterator = _prepend(first, rest)  # type: ignore[attr-defined]


def _jsonrpc_error(event: Any) -> dict[str, Any] | None:
    """The JSON-RPC error response an SSE event carries, if it carries one."""
    data = event.get("data") if isinstance(event, dict) else None
    if not isinstance(data, str):
        return None
    try:
        decoded = json.loads(data)
    except ValueError:
        return None
    if isinstance(decoded, dict) and "error" in decoded and "result" not in decoded:
        return decoded
    return None


async def _prepend(first: Any, rest: AsyncIterator[Any]) -> AsyncIterator[Any]:
    yield first
    async for item in rest:
        yield item


async def _close(stream: AsyncIterator[Any]) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()
