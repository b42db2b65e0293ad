"""Server-Sent Events framing of a task's event log, with heartbeats."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

from ..tasks import Event

__all__ = ["sse_stream"]


def _frame(event: Event) -> str:
    data = json.dumps(event.data, separators=(",", ":"), ensure_ascii=False)
    return f"id: {event.seq}\nevent: {event.type}\ndata: {data}\n\n"


async def sse_stream(
    events: AsyncIterator[Event],
    *,
    heartbeat: float,
    ended: Callable[[], Awaitable[bool]],
) -> AsyncIterator[str]:
    """Frame `events`; a comment line every `heartbeat` seconds of silence keeps proxies from
    closing the connection, and `ended()` is asked then whether the task closed some other way
    (e.g. terminated from the Temporal UI) so the stream does not wait forever."""
    queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=1000)

    async def pump() -> None:
        try:
            async for event in events:
                await queue.put(event)
        finally:
            await queue.put(None)

    producer = asyncio.create_task(pump())
    try:
        yield "retry: 1000\n\n"
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), heartbeat)
            except TimeoutError:
                if await ended():
                    return
                yield ": keep-alive\n\n"
                continue
            if event is None:
                await producer  # re-raise what ended the pump, if anything
                return
            yield _frame(event)
    finally:
        producer.cancel()
