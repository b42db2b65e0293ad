"""The scripted provider as a rate-limited one (the benchmarks' B6): it answers 429, with a
Retry-After, to a completion over its concurrency or over its requests in the last minute,
and counts what it saw."""

from __future__ import annotations

import asyncio

import httpx

from temporal_executor.loadtest.scripted import Limits, make_app

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


async def test_over_its_limits_it_answers_429_with_retry_after() -> None:
    limits = Limits(concurrency=2, requests_per_minute=3, latency=0.3)
    transport = httpx.ASGITransport(app=make_app(0.0, limits))
    async with httpx.AsyncClient(transport=transport, base_url="http://scripted") as http:
        answers = await asyncio.gather(
            *(http.post("/v1/chat/completions", json=BODY) for _ in range(3))
        )
        assert sorted(a.status_code for a in answers) == [200, 200, 429]
        refused = next(a for a in answers if a.status_code == 429)
        assert refused.headers["retry-after"] == "1"  # a place frees soon

        assert (await http.post("/v1/chat/completions", json=BODY)).status_code == 200
        over = await http.post("/v1/chat/completions", json=BODY)  # a 4th in the minute
        assert over.status_code == 429 and 58 <= int(over.headers["retry-after"]) <= 60
        stats = (await http.get("/stats")).json()
    assert stats == {"requests": 5, "rate_limited": 2, "peak_in_flight": 2}
