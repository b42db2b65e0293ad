"""Server-Sent Events framing of a task's event log, with heartbeats, and a reconnect hint
when the stream ends before the task does (this API is shutting down)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

from ..observability import subscribed
from ..tasks import Event

__all__ = ["RECONNECT_HINT", "RETRY_MS", "sse_stream"]

RETRY_MS = 1000
# A stream that ends before its terminal event: the client reconnects after `retry` ms with
# Last-Event-ID, to another replica behind the same Service.
RECONNECT_HINT = f": shutting down, reconnect with Last-Event-ID\nretry: {RETRY_MS}\n\n"


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
    (e.g. terminated from the Temporal UI) so the stream does not wait forever. `events`
    ending before the terminal event ends the stream with `RECONNECT_HINT`."""
    queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=1000)

    async def pump() -> None:
        try:
            async for event in events:
                await queue.put(event)
        finally:
            await queue.put(None)

    producer = asyncio.create_task(pump())
    terminal = False
    try:
        with subscribed("sse"):
            yield f"retry: {RETRY_MS}\n\n"
            while True:
                if queue.empty():
                    try:
                        event = await asyncio.wait_for(queue.get(), heartbeat)
                    except TimeoutError:
                        if await ended():
                            return
                        yield ": keep-alive\n\n"
                        continue
                else:
                    event = queue.get_nowait()
                # What is queued goes out as one write: a busy stream costs one send (and
                # one wait) per batch of events, not per event.
                frames = []
                while event is not None:
                    terminal = event.terminal
                    frames.append(_frame(event))
                    if queue.empty():
                        break
                    event = queue.get_nowait()
                if frames:
                    yield "".join(frames)
                if event is None:
                    await producer  # re-raise what ended the pump, if anything
                    if not terminal:
                        yield RECONNECT_HINT
                    return
    finally:
        producer.cancel()
