"""A local HTTP tool server for integration tests: records every call it gets.

Routes: `/weather`, `/slow?delay=S`, `/big?size=N` (text), `/files/chart.png`,
`/files/large.png` (a PNG of 4 KiB) and `/files/report.pdf` (a PDF; any other name: 404), and
for fault tests:

- `/effect?delay=S`: a side effect that honours `Idempotency-Key`, as a payment API does: the
  first request with a key applies the effect (a counter per key) and keeps its answer; a
  repeat of that key gets the kept answer and applies nothing. A request without a key is
  applied every time (under the key "" so that it shows). `GET /_tool/effects` says
  `{"applied": {key: times}, "deliveries": {key: requests}}`; `times` above 1 is a
  duplicated side effect.
- `/fault/hang` (answers after an hour), `/fault/status/{code}`, `/fault/garbage` (200 with
  bytes that are neither JSON nor text), `/fault/huge?mb=50` (a streamed body of that many
  MiB), `/fault/loop` (a redirect to itself).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from .samples import PDF, PNG

__all__ = ["make_tool_app"]

FILES = {
    "chart.png": (PNG, "image/png"),
    "large.png": (PNG + b"\0" * (4096 - len(PNG)), "image/png"),
    "report.pdf": (PDF, "application/pdf"),
}


def make_tool_app() -> Starlette:
    calls: list[dict[str, Any]] = []
    applied: dict[str, int] = {}
    deliveries: dict[str, int] = {}
    kept: dict[str, dict[str, Any]] = {}

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

    async def effect(request: Request) -> JSONResponse:
        call = await record(request)
        key = call["idempotency_key"] or ""
        deliveries[key] = deliveries.get(key, 0) + 1
        if key and key in kept:
            return JSONResponse(kept[key])
        applied[key] = applied.get(key, 0) + 1
        # Applied before the (slow) answer, as real side effects are: a caller that dies
        # while waiting has still caused it, and its retry must not cause it again.
        answer = {"applied": True, "number": sum(applied.values())}
        if key:
            kept[key] = answer
        await asyncio.sleep(float(request.query_params.get("delay", "0")))
        return JSONResponse(answer)

    async def files(request: Request) -> Response:
        await record(request)
        name = request.path_params["name"]
        if name not in FILES:
            return PlainTextResponse("no such file", status_code=404)
        content, media_type = FILES[name]
        return Response(content, media_type=media_type)

    async def effects(request: Request) -> JSONResponse:
        return JSONResponse({"applied": applied, "deliveries": deliveries})

    async def hang(request: Request) -> Response:
        await record(request)
        await asyncio.sleep(3600)
        return JSONResponse({"late": True})

    async def status(request: Request) -> Response:
        await record(request)
        code = int(request.path_params["code"])
        return PlainTextResponse(f"boom {code}", status_code=code)

    async def garbage(request: Request) -> Response:
        await record(request)
        return Response(b"\x00\xff{{not json\xfe" * 64, media_type="application/json")

    async def huge(request: Request) -> Response:
        await record(request)
        mib = int(request.query_params.get("mb", "50"))
        block = b"z" * (1 << 20)

        async def body() -> Any:
            for _ in range(mib):
                yield block

        return StreamingResponse(body(), media_type="text/plain")

    async def loop(request: Request) -> Response:
        await record(request)
        return RedirectResponse("/fault/loop", status_code=307)

    async def list_calls(request: Request) -> JSONResponse:
        return JSONResponse(calls)

    async def reset(request: Request) -> JSONResponse:
        calls.clear()
        applied.clear()
        deliveries.clear()
        kept.clear()
        return JSONResponse({})

    return Starlette(
        routes=[
            Route("/weather", weather, methods=["POST"]),
            Route("/slow", slow, methods=["POST"]),
            Route("/big", big, methods=["POST"]),
            Route("/effect", effect, methods=["POST"]),
            Route("/files/{name}", files, methods=["GET", "POST"]),
            Route("/fault/hang", hang, methods=["POST"]),
            Route("/fault/status/{code:int}", status, methods=["POST"]),
            Route("/fault/garbage", garbage, methods=["POST"]),
            Route("/fault/huge", huge, methods=["POST"]),
            Route("/fault/loop", loop, methods=["POST"]),
            Route("/_tool/effects", effects, methods=["GET"]),
            Route("/_tool/calls", list_calls, methods=["GET"]),
            Route("/_tool/reset", reset, methods=["POST"]),
        ]
    )
