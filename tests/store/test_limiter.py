"""The shared limiter (`store/limits.py`), against the in-memory, the SQLite and the PostgreSQL
store: two store instances stand for two workers (one file or one database; the in-memory
store is one process's, so both are the same instance there)."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from temporal_executor.store import Ask, LimitSpec, Refusal, Store
from temporal_executor.store.limits import MIN_WAIT, PRECEDENCE, WINDOW
from tests.store.conftest import MakeStore


async def two_workers(make_store: MakeStore) -> tuple[Store, Store]:
    first = await make_store()
    return first, first if first.kind == "memory" else await make_store()


def ask(*specs: LimitSpec, key: str | None = None, tokens: int = 0, ttl: float = 30) -> Ask:
    key = key or uuid.uuid4().hex
    return Ask(specs=specs, key=key, lease=f"{key}-{uuid.uuid4().hex[:6]}", tokens=tokens, ttl=ttl)


async def test_concurrency_is_shared_and_freed_by_release(make_store: MakeStore) -> None:
    a, b = await two_workers(make_store)
    spec = LimitSpec("llm:openai", concurrency=2)
    first, second, third = ask(spec), ask(spec), ask(spec, key="third")
    assert await a.limiter.acquire(first) is None
    assert await b.limiter.acquire(second) is None
    refused = await a.limiter.acquire(third)
    assert isinstance(refused, Refusal)
    assert (refused.limit, refused.reason) == ("llm:openai", "concurrency")
    assert MIN_WAIT <= refused.wait <= WINDOW
    assert await b.limiter.waiting() == {"llm:openai": 1}

    await b.limiter.release(first.lease)
    assert await b.limiter.acquire(third) is None  # the waiter, back: granted
    assert await a.limiter.waiting() == {}
    refused = await b.limiter.acquire(ask(spec))
    assert refused is not None and refused.reason == "concurrency"


async def test_requests_per_minute_is_a_sliding_window(make_store: MakeStore) -> None:
    a, b = await two_workers(make_store)
    spec = LimitSpec("tool:lookup", requests_per_minute=3)
    started = time.time()
    for store in (a, b, a):
        grant = ask(spec)
        assert await store.limiter.acquire(grant) is None
        await store.limiter.release(grant.lease)  # ended calls still count in the window
    refused = await b.limiter.acquire(ask(spec))
    assert refused is not None and refused.reason == "requests_per_minute"
    # Until the first call leaves the window, a minute after it started.
    assert WINDOW - (time.time() - started) - 1 <= refused.wait <= WINDOW


async def test_tokens_per_minute_counts_what_calls_used(make_store: MakeStore) -> None:
    a, b = await two_workers(make_store)
    spec = LimitSpec("llm:openai/gpt-4o", tokens_per_minute=100)
    first = ask(spec, tokens=60)
    assert await a.limiter.acquire(first) is None
    refused = await b.limiter.acquire(ask(spec, key="next", tokens=60))
    assert refused is not None and refused.reason == "tokens_per_minute"
    await a.limiter.release(first.lease, tokens=20)  # the provider counted 20
    assert await b.limiter.acquire(ask(spec, key="next", tokens=60)) is None
    # A call bigger than the whole budget is not refused for ever: it goes into an empty window.
    assert await a.limiter.acquire(ask(LimitSpec("llm:x", tokens_per_minute=10), tokens=50)) is None


async def test_a_lease_not_renewed_lapses(make_store: MakeStore) -> None:
    a, b = await two_workers(make_store)
    spec = LimitSpec("llm:anthropic", concurrency=1)
    renewed = ask(spec, ttl=0.6)
    assert await a.limiter.acquire(renewed) is None
    for _ in range(3):  # renewed: held past its first time to live
        await asyncio.sleep(0.3)
        await a.limiter.renew(renewed.lease, 0.6)
        assert await b.limiter.acquire(ask(spec, key="b")) is not None
    await asyncio.sleep(0.7)  # its worker died: nobody renews it
    await a.limiter.renew(renewed.lease, 0.6)  # too late: a lapsed lease stays lapsed
    assert await b.limiter.acquire(ask(spec, key="b")) is None


async def test_a_block_refuses_every_worker_until_it_passes(make_store: MakeStore) -> None:
    a, b = await two_workers(make_store)
    spec = LimitSpec("llm:openai")  # no bound: it only shares 429s
    assert await a.limiter.acquire(ask(spec)) is None
    await a.limiter.block("llm:openai", 0.8)
    await a.limiter.block("llm:openai", 0.1)  # a shorter block does not shorten it
    refused = await b.limiter.acquire(ask(spec))
    assert refused is not None and refused.reason == "rate_limited"
    assert 0.5 <= refused.wait <= 0.8
    await asyncio.sleep(refused.wait + 0.05)
    assert await b.limiter.acquire(ask(spec)) is None


async def test_waiters_whose_time_came_go_first_for_a_while(make_store: MakeStore) -> None:
    a, b = await two_workers(make_store)
    spec = LimitSpec("mcp:github", concurrency=1)
    holder = ask(spec)
    assert await a.limiter.acquire(holder) is None
    early = await a.limiter.acquire(ask(spec, key="early"))
    late = await b.limiter.acquire(ask(spec, key="late"))
    assert early is not None and late is not None
    assert late.wait > early.wait  # spread: the later waiter comes back later
    await a.limiter.release(holder.lease)
    await asyncio.sleep(early.wait + 0.05)
    # "early" is due and not back yet: its place is kept from a newcomer and from "late".
    assert await b.limiter.acquire(ask(spec, key="newcomer")) is not None
    assert await b.limiter.acquire(ask(spec, key="late")) is not None
    served = ask(spec, key="early")
    assert await a.limiter.acquire(served) is None
    again = await b.limiter.acquire(ask(spec, key="late"))
    assert again is not None
    late_wake = time.time() + again.wait
    await a.limiter.release(served.lease)
    # "late" does not come back in time: its place is kept only `PRECEDENCE` seconds after
    # its time, then anyone may take it.
    await asyncio.sleep(max(late_wake + PRECEDENCE + 0.1 - time.time(), 0))
    assert await b.limiter.acquire(ask(spec, key="newcomer")) is None


async def test_a_call_under_two_limits_takes_both_or_neither(make_store: MakeStore) -> None:
    a, b = await two_workers(make_store)
    provider = LimitSpec("llm:openai", concurrency=2)
    model = LimitSpec("llm:openai/gpt-4o", concurrency=1)
    assert await a.limiter.acquire(ask(provider, model)) is None
    refused = await b.limiter.acquire(ask(provider, model))
    assert refused is not None and refused.limit == "llm:openai/gpt-4o"
    # The refused call took no place under the provider: another model's call fits.
    assert await b.limiter.acquire(ask(provider, LimitSpec("llm:openai/gpt-4o-mini"))) is None


@pytest.mark.parametrize("make_store", ["sqlite", "postgres"], indirect=True)
async def test_concurrent_acquires_never_exceed_the_limit(make_store: MakeStore) -> None:
    stores = [await make_store() for _ in range(3)]
    spec = LimitSpec("llm:openai", concurrency=3)
    in_flight = peak = 0

    async def call(n: int) -> None:
        nonlocal in_flight, peak
        store = stores[n % len(stores)]
        grant = ask(spec, key=f"call-{n}")
        while await store.limiter.acquire(grant) is not None:  # noqa: ASYNC110 - polls the store
            await asyncio.sleep(0.02)
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        await store.limiter.release(grant.lease)

    await asyncio.gather(*(call(n) for n in range(24)))
    assert peak == 3
