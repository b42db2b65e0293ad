"""Token deltas of a streaming LLM call, as few, ordered `llm.delta` events (and, when a task
asks for reasoning summaries, `llm.reasoning` events, the same way); and the same for the text
another agent writes while one of our tool calls waits on it (`tool.progress`).

A delta that follows a quiet spell is written at once; what the model writes within
`DELTA_WINDOW` after a write is coalesced into the next event (or `DELTA_MAX_CHARS` of it), so
a client sees a slow model's tokens as they come and a fast model is not one write per token.
When many streams run in this process at once the window widens, up to `BUSY_WINDOW` at
`BUSY_STREAMS`: every event costs the store, the API and the client the same whatever its
length, and a busy process that writes a token an event falls behind by more than it saves.
A retried attempt first publishes `llm.restart` (with the attempt number): a client drops the
partial text it has for this call and renders the new stream.
Deltas of an older attempt that is still running are dropped by the store, so two half
answers never interleave (`superseded` tells the activity so).
An agent's text may also start over (its own next LLM call): `replace` writes the whole
text in one event marked `replace: true`, and a client shows that instead of what it had.
"""

from __future__ import annotations

import asyncio

from temporalio import activity

from ..store import EventLog
from ..tasks import EventType

__all__ = ["DELTA_MAX_CHARS", "DELTA_WINDOW", "DeltaPublisher"]

DELTA_WINDOW = 0.02
DELTA_MAX_CHARS = 2048
# The window widens from `DELTA_WINDOW` past `CALM_STREAMS` streams at once (in this
# process) to `BUSY_WINDOW` at `BUSY_STREAMS`.
CALM_STREAMS = 5
BUSY_STREAMS = 25
BUSY_WINDOW = 0.05


def _window(streams: int) -> float:
    busy = min(max(streams - CALM_STREAMS, 0) / (BUSY_STREAMS - CALM_STREAMS), 1.0)
    return DELTA_WINDOW + (BUSY_WINDOW - DELTA_WINDOW) * busy


class DeltaPublisher:
    """Buffers text deltas and appends them as few, ordered events of `type` (`llm.delta`,
    `llm.reasoning` for reasoning summaries, `tool.progress` for another agent's text), each
    with `extra` in its data."""

    # Publishers of this process that have had text and are not closed.
    streaming = 0

    def __init__(
        self,
        events: EventLog,
        task_id: str,
        call_key: str,
        attempt: int,
        type: EventType = EventType.LLM_DELTA,
        *,
        extra: dict[str, object] | None = None,
    ) -> None:
        self.events, self.task_id, self.call_key, self.attempt = events, task_id, call_key, attempt
        self.type, self.extra = type, extra or {}
        # An answer's deltas are keyed `{attempt}:{n}` (as they always were), its reasoning's
        # `{attempt}:reasoning:{n}`.
        self._prefix = "reasoning:" if type == EventType.LLM_REASONING else ""
        self._buffer: list[str] = []
        self._buffered = 0
        self._count = 0
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None
        self._written = float("-inf")  # when the last delta was written (loop time)
        self._streaming = False
        self.superseded = False

    async def restart(self) -> None:
        await self._append(EventType.LLM_RESTART, f"restart:{self.attempt}", {})

    async def add(self, text: str) -> None:
        if not self._streaming:
            self._streaming = True
            DeltaPublisher.streaming += 1
        self._buffer.append(text)
        self._buffered += len(text)
        if self._buffered >= DELTA_MAX_CHARS:
            await self.flush()
            return
        if self._timer is not None:
            return  # a write is due anyway
        window = _window(DeltaPublisher.streaming)
        wait = self._written + window - asyncio.get_running_loop().time()
        if wait <= 0 and not self._lock.locked():
            await self.flush()
        else:
            self._timer = asyncio.create_task(self._flush_later(max(wait, 0.0)))

    async def _flush_later(self, wait: float) -> None:
        await asyncio.sleep(wait)
        self._timer = None
        await self.flush()

    async def flush(self) -> None:
        await self._write(None)

    async def replace(self, text: str) -> None:
        """The whole text from here on is `text` (what is buffered is dropped)."""
        await self._write(text)

    async def _write(self, replacement: str | None) -> None:
        async with self._lock:
            if replacement is not None:
                self._buffer, self._buffered = [], 0
                data: dict[str, object] = {"text": replacement, "replace": True}
            elif not self._buffer:
                return
            else:
                data = {"text": "".join(self._buffer)}
                self._buffer.clear()
                self._buffered = 0
            self._count += 1
            self._written = asyncio.get_running_loop().time()
            suffix = f"{self.attempt}:{self._prefix}{self._count}"
            await self._append(self.type, suffix, data)
        if not activity.info().is_local:  # local activities do not heartbeat
            activity.heartbeat()

    async def close(self) -> None:
        if self._streaming:
            self._streaming = False
            DeltaPublisher.streaming -= 1
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self.flush()

    async def _append(self, type: EventType, suffix: str, data: dict[str, object]) -> None:
        event = await self.events.append(
            self.task_id,
            f"{self.call_key}:{suffix}",
            type,
            {"call": self.call_key, "attempt": self.attempt, **self.extra, **data},
            stream=self.call_key,
            attempt=self.attempt,
        )
        self.superseded = self.superseded or event is None
