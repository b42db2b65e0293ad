"""B4, streaming: the scripted LLM sends a token every 20 ms, each the time it was sent; the
time until a client sees it, over SSE (`GET /api/v1/tasks/{id}/events`) and over A2A streaming
(`message/stream`), from `dev` (the worker's own process serves the stream) and from `serve` +
`worker` (another process wrote the deltas, on the same SQLite file); then many streams at
once, and the events written per second."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from temporal_executor.loadtest.runner import ms, percentile

from .common import temporal_server, wait_http
from .systems import MODEL, config, dev, scripted, split

STREAM_MODEL = {**MODEL, "stream": True}
SKIP = 3  # the first tokens may be sent before the client is connected


def token_latencies(text: str, received: float) -> list[float]:
    """Seconds from each token's sending (its text is `time.time_ns()`) to `received`."""
    return [received - int(token) / 1e9 for token in text.split() if token.isdigit()]


async def sse(http: httpx.AsyncClient, path: str, **kwargs: Any) -> AsyncIterator[tuple[str, Any]]:
    """The (event, data) pairs of a Server-Sent Events stream."""
    method = "POST" if "json" in kwargs else "GET"
    async with http.stream(method, path, **kwargs) as response:
        event, data = "message", ""
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data += line[5:].strip()
            elif not line and data:
                yield event, json.loads(data)
                event, data = "message", ""


async def rest_stream(
    http: httpx.AsyncClient, tokens: int, arrivals: list[tuple[float, int]] | None = None
) -> tuple[list[float], int]:
    """Each token's latency over SSE, and how many `llm.delta` events carried them (and
    into `arrivals`, each such event's `time.perf_counter()` and how many tokens it had)."""
    body = {"user_message": f"stream {tokens}", "model_config": STREAM_MODEL}
    task = (await http.post("/api/v1/execute", json=body)).json()
    latencies: list[float] = []
    deltas = 0
    async for event, data in sse(http, f"/api/v1/tasks/{task['task_id']}/events"):
        if event == "llm.delta":
            deltas += 1
            these = token_latencies(data["text"], time.time())
            latencies += these
            if arrivals is not None:
                arrivals.append((time.perf_counter(), len(these)))
        if event.startswith("task."):
            if event != "task.started":
                break
    return latencies[SKIP:], deltas


async def a2a_stream(http: httpx.AsyncClient, tokens: int) -> list[float]:
    request = {
        "jsonrpc": "2.0",
        "id": uuid.uuid4().hex,
        "method": "message/stream",
        "params": {
            "message": {
                "kind": "message",
                "messageId": uuid.uuid4().hex,
                "role": "user",
                "parts": [{"kind": "text", "text": f"stream {tokens}"}],
                "metadata": {"model_config": STREAM_MODEL, "tools": []},
            }
        },
    }
    latencies: list[float] = []
    async for _, data in sse(http, "/a2a", json=request):
        result = data.get("result", {})
        if result.get("kind") == "artifact-update" and not result.get("lastChunk"):
            for part in result["artifact"]["parts"]:
                latencies += token_latencies(part.get("text", ""), time.time())
        if result.get("kind") == "status-update" and result.get("final"):
            break
    return latencies[SKIP:]


def stats(latencies: list[float]) -> dict[str, Any]:
    return {
        "tokens": len(latencies),
        "p50_ms": ms(percentile(latencies, 50)),
        "p95_ms": ms(percentile(latencies, 95)),
    }


def all_live(arrivals: list[list[tuple[float, int]]]) -> tuple[float, float, int]:
    """The span in which every stream was live (from the last one's first tokens to the first
    one's last), and how many tokens arrived in it (none, when a stream had no tokens)."""
    if not all(arrivals):
        return 0.0, 0.0, 0
    start = max(one[0][0] for one in arrivals)
    end = min(one[-1][0] for one in arrivals)
    return start, end, sum(n for one in arrivals for at, n in one if start < at <= end)


async def _measure(url: str, tokens: int, streams: int, stream_tokens: int) -> dict[str, Any]:
    result: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=url, timeout=300) as http:
        await rest_stream(http, 5)  # warm up
        result["sse"] = stats((await rest_stream(http, tokens))[0])
        result["a2a"] = stats(await a2a_stream(http, tokens))
        start = time.perf_counter()
        arrivals: list[list[tuple[float, int]]] = [[] for _ in range(streams)]
        many = await asyncio.gather(*(rest_stream(http, stream_tokens, a) for a in arrivals))
        elapsed = time.perf_counter() - start
        live_from, live_to, live_tokens = all_live(arrivals)
        result[f"sse_{streams}_streams"] = {
            **stats([x for one, _ in many for x in one]),
            # From the first request to the last token: starting the tasks is in it.
            "tokens_per_s": round(sum(len(one) + SKIP for one, _ in many) / elapsed, 1),
            # While all of them streamed, i.e. while the offered load was the whole of it.
            "all_live_tokens_per_s": (
                round(live_tokens / (live_to - live_from), 1) if live_to > live_from else None
            ),
            "all_live_s": round(max(live_to - live_from, 0), 2),
            "all_streaming_s": round(live_from - start, 2),
            "delta_events_per_s": round(sum(n for _, n in many) / elapsed, 1),
        }
    return result


async def streaming(workdir: Path, tokens: int, streams: int, stream_tokens: int) -> dict[str, Any]:
    """One stream of `tokens`, over SSE and A2A; then `streams` at once of `stream_tokens`
    each (long enough that all of them stream at the same time for a while)."""
    results: dict[str, Any] = {}
    with scripted(workdir, token_interval=0.02) as llm:
        home = workdir / "dev"
        home.mkdir()
        with dev(home, config(home, llm, "127.0.0.1:1")) as ours:
            await wait_http(ours.url + "/readyz", ours.procs[0])
            results["dev"] = await _measure(ours.url, tokens, streams, stream_tokens)
        home = workdir / "split"
        home.mkdir()
        with temporal_server(home) as (target, _), split(home, config(home, llm, target)) as ours:
            await wait_http(ours.url + "/readyz", ours.procs[0])
            results["serve+worker"] = await _measure(ours.url, tokens, streams, stream_tokens)
    return results
