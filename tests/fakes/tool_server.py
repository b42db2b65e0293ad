"""A local HTTP tool server for integration tests: records every call it gets."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

__all__ = ["make_tool_app"]


def make_tool_app() -> Starlette:
    calls: list[dict[str, Any]] = []

    async def record(request: Request) -> dict[str, Any]:
        body = await request.json() if await request.body() else {}
        call = {
            "path": request.url.path,
            "idempotency_key": request.headers.get("idempotency-key"),
            "api_key": request.headers.get("x-api-key"),
            "arguments": body,
            "time": time.time(),
        }
        calls.append(call)
        return call

    async def weather(request: Request) -> JSONResponse:
        call = await record(request)
        return JSONResponse({"forecast": "sunny", "query": call["arguments"].get("query")})

    async def slow(request: Request) -> JSONResponse:
        call = await record(request)
        await asyncio.sleep(float(request.query_params.get("delay", "3")))
        return JSONResponse({"done": True, "query": call["arguments"].get("query")})

    async def big(request: Request) -> PlainTextResponse:
        await record(request)
        size = int(request.query_params.get("size", "300000"))
        return PlainTextResponse("".join(chr(ord("a") + i % 26) for i in range(size)))

    async def list_calls(request: Request) -> JSONResponse:
        return JSONResponse(calls)

    async def reset(request: Request) -> JSONResponse:
        calls.clear()
        return JSONResponse({})

    return Starlette(
        routes=[
            Route("/weather", weather, methods=["POST"]),
            Route("/slow", slow, methods=["POST"]),
            Route("/big", big, methods=["POST"]),
            Route("/_tool/calls", list_calls, methods=["GET"]),
            Route("/_tool/reset", reset, methods=["POST"]),
        ]
    )
