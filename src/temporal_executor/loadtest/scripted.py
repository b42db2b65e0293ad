"""The scripted LLM and tool that `temporal-executor load` and the benchmarks call, in a
process of their own so that their CPU is not counted as the system's:
`python -m temporal_executor.loadtest.scripted --port P`.

- `POST /v1/chat/completions` (OpenAI Chat Completions, plain or streamed): a user message
  gets one call of the tool `get_weather` with `{"query": <the text>}` when the request offers
  that tool; a tool result gets the answer `Tool results: get_weather=<result>`; a user message
  `stream N` gets N tokens, one every `--token-interval` seconds, each the time it was sent
  (`time.time_ns()`), so a client can tell how long a token took to reach it. No think time.
- `POST /weather`: the tool, `{"weather": "sunny", "query": <the query it was given>}` (so a
  client can check that each task got its own call's answer).

As a rate-limited provider (`--concurrency N`, `--requests-per-minute R`, `--latency S`): each
completion takes S seconds; one that would make more than N in flight, or more than R
accepted in the last 60 s (a sliding window, the strictest reading of "per minute"), is
answered 429 with `Retry-After` (seconds until a place frees: 1 for concurrency, the window's
oldest call leaving for the rate). `GET /stats`: requests, 429s, the peak in flight.
"""

from __future__ import annotations

__all__ = ["Limits", "make_app", "reply"]

import argparse
import asyncio
import json
import math
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

USAGE = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}


def reply(body: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]], int]:
    """The answer's text, its tool calls, and how many timed tokens to stream instead."""
    last = body["messages"][-1]
    if last["role"] == "tool":
        return f"Tool results: get_weather={last['content']}", [], 0
    text = last.get("content") or ""
    if isinstance(text, list):  # content parts
        text = " ".join(p.get("text", "") for p in text if isinstance(p, dict))
    if text.startswith("stream "):
        return None, [], int(text.split()[1])
    tools = {t["function"]["name"] for t in body.get("tools") or []}
    if "get_weather" in tools:
        call = {
            "id": f"call_{uuid.uuid4().hex[:12]}",
            "type": "function",
            "function": {"name": "get_weather", "arguments": json.dumps({"query": text})},
        }
        return None, [call], 0
    return f"Echo: {text}", [], 0


def completion(model: str, text: str | None, calls: list[dict[str, Any]]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if calls:
        message["tool_calls"] = calls
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if calls else "stop",
            }
        ],
        "usage": USAGE,
    }


@dataclass
class Limits:
    """What the provider allows (None: no bound), and what it saw."""

    concurrency: int | None = None
    requests_per_minute: int | None = None
    latency: float = 0.0
    in_flight: int = 0
    peak_in_flight: int = 0
    requests: int = 0
    rate_limited: int = 0
    accepted: deque[float] = field(default_factory=deque)  # when, within the last minute

    def refusal(self) -> float | None:
        """Seconds to wait when this request is over a limit (counted), else None."""
        now = time.monotonic()
        self.requests += 1
        while self.accepted and self.accepted[0] <= now - 60:
            self.accepted.popleft()
        wait = None
        if self.concurrency is not None and self.in_flight >= self.concurrency:
            wait = 1.0
        rpm = self.requests_per_minute
        if rpm is not None and len(self.accepted) >= rpm:
            wait = max(wait or 0.0, self.accepted[0] + 60 - now)
        if wait is not None:
            self.rate_limited += 1
            return wait
        self.accepted.append(now)
        return None

    def stats(self) -> dict[str, int]:
        return {"requests": self.requests, "rate_limited": self.rate_limited,
                "peak_in_flight": self.peak_in_flight}  # fmt: skip


def too_many(wait: float) -> JSONResponse:
    error = {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}
    headers = {"retry-after": str(max(1, math.ceil(wait)))}
    return JSONResponse({"error": error}, status_code=429, headers=headers)


def make_app(token_interval: float, limits: Limits | None = None) -> Starlette:
    limits = limits or Limits()

    async def chat(request: Request) -> Response:
        body = await request.json()
        if (wait := limits.refusal()) is not None:
            return too_many(wait)
        limits.in_flight += 1
        limits.peak_in_flight = max(limits.peak_in_flight, limits.in_flight)
        try:
            await asyncio.sleep(limits.latency)
        finally:
            limits.in_flight -= 1
        model = body.get("model", "scripted")
        text, calls, timed = reply(body)
        if not body.get("stream"):
            if timed:
                text = " ".join(str(time.time_ns()) for _ in range(timed))
            return JSONResponse(completion(model, text, calls))
        return StreamingResponse(stream(model, text, calls, timed), media_type="text/event-stream")

    async def stream(
        model: str, text: str | None, calls: list[dict[str, Any]], timed: int
    ) -> AsyncIterator[str]:
        base = {"id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": model}  # fmt: skip

        def chunk(delta: dict[str, Any], finish: str | None = None, **more: Any) -> str:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            return f"data: {json.dumps({**base, 'choices': [choice], **more})}\n\n"

        yield chunk({"role": "assistant"})
        for n in range(timed):
            if n:
                await asyncio.sleep(token_interval)
            yield chunk({"content": f"{time.time_ns()} "})
        if text:
            yield chunk({"content": text})
        for index, call in enumerate(calls):
            yield chunk({"tool_calls": [{"index": index, **call}]})
        yield chunk({}, "tool_calls" if calls else "stop")
        yield f"data: {json.dumps({**base, 'choices': [], 'usage': USAGE})}\n\n"
        yield "data: [DONE]\n\n"

    async def weather(request: Request) -> Response:
        body = await request.body()
        query = json.loads(body).get("query") if body else None
        return JSONResponse({"weather": "sunny", "query": query})

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/weather", weather, methods=["POST"]),
            Route("/health", lambda request: JSONResponse({"ok": True})),
            Route("/stats", lambda request: JSONResponse(limits.stats())),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token-interval", type=float, default=0.02)
    parser.add_argument("--concurrency", type=int, help="completions in flight at once")
    parser.add_argument("--requests-per-minute", type=int, help="completions in any 60 s")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per completion")
    args = parser.parse_args()
    limits = Limits(args.concurrency, args.requests_per_minute, args.latency)
    uvicorn.run(
        make_app(args.token_interval, limits),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
