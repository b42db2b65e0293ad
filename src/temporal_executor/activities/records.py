"""`record`: what one workflow step leaves behind, in one local activity.

A step's events, the task's state and (at the start or the end of a turn) transcript entries
are written together, in this order: transcript, state, events. So a client that sees an event
finds the state that goes with it, and one that sees the terminal event finds the final state
and the whole transcript. Every write is idempotent (events by their key, transcript entries by
index, state by task), so a retried or replayed record changes nothing.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field
from temporalio import activity

from ..errors import TranscriptError
from ..llm.messages import Message
from ..payloads import resolve
from ..store import NewEvent, Store
from ..tasks import TaskState
from ..versioned import Payload, Versioned

__all__ = ["EventRecord", "RecordActivities", "RecordInput"]


class EventRecord(Payload):
    """One event of the step; `key` (from workflow state) makes its append idempotent."""

    key: str
    type: str
    data: dict[str, Any] = Field(default_factory=dict)


class RecordInput(Versioned):
    """A step's writes. `count_transcript` asks for the session's transcript length before
    anything is written (the first step of a turn); `seed` (with it) names the blob of a
    fork's seed, the messages written there first (`workflows/inputs.py`, `ForkStart`);
    `truncate_transcript` cuts the session's transcript back to where this task's turn
    started (a turn rolled back)."""

    task_id: str
    session_id: str
    state: TaskState
    events: list[EventRecord] = Field(default_factory=list)
    first_index: int = 0
    transcript: list[Message] = Field(default_factory=list)
    count_transcript: bool = False
    seed: str | None = None  # added in 0.2.0
    truncate_transcript: bool = False  # added in 0.2.0


class RecordActivities:
    def __init__(self, store: Store) -> None:
        self.store = store

    @activity.defn(name="record")
    async def record(self, input: RecordInput) -> int:
        """Write the step; return the session's transcript length when asked (else 0)."""
        count = (
            await self.turn_start(input.task_id, input.session_id) if input.count_transcript else 0
        )
        if input.seed is not None:
            await self.store.transcripts.put(input.session_id, count, await self.seed(input.seed))
        events = [NewEvent(e.key, e.type, await self.resolved(e.data)) for e in input.events]
        await self.write(
            input.state, input.first_index, input.transcript, events, undo=input.truncate_transcript
        )
        return count

    async def turn_start(self, task_id: str, session_id: str) -> int:
        """Where the task's turn starts in its session's transcript: counted once, and kept,
        so a step run again (a worker died before Temporal recorded it) gets the same."""
        key = _turn_start(task_id)
        kept = await self.store.blobs.get(key)
        if kept is None:
            counted = await self.store.transcripts.count(session_id)
            kept = await self.store.blobs.put_new(key, str(counted))
        return int(kept)

    async def seed(self, key: str) -> list[Message]:
        """The messages of a fork's seed (written by the API before the fork started)."""
        data = await self.store.blobs.get(key)
        if data is None:
            raise TranscriptError(f"the seed {key!r} of a fork is not in the store")
        return [Message.model_validate(m) for m in json.loads(data)]

    async def write(
        self,
        state: TaskState,
        first_index: int,
        transcript: list[Message],
        events: list[NewEvent] | None = None,
        *,
        undo: bool = False,
    ) -> None:
        """Transcript entries from `first_index` (or with `undo` the transcript cut back to
        where the task's turn started), the state, the events, in this order; the session is
        released once the state is final. A task's first recorded end stands (see
        `TaskRecords.save`): an end that comes after another writes no transcript."""
        store = self.store
        if not await self._ended_otherwise(state):
            if transcript:
                await store.transcripts.put(state.session_id, first_index, transcript)
            if undo:
                await self._roll_back(state)
        await store.tasks.save(await self._whole(state))
        if events:
            await store.events.append_all(state.task_id, events)
        if state.status.terminal:
            # A task that ended without having run hands the session back to the task it
            # waited for (still running, or the one the next message will queue behind).
            await store.sessions.release(state.session_id, state.task_id, to=state.queued_behind)

    async def _ended_otherwise(self, state: TaskState) -> bool:
        """Whether the task's record ended already, in another way than `state` says: a
        workflow task that ran the task to its end was replaced by one that went another
        way. That first end stands, with its transcript."""
        if not state.status.terminal:
            return False  # (only a turn's end writes the transcript or rolls it back)
        stored = await self.store.tasks.get(state.task_id)
        if stored is None or not stored.status.terminal:
            return False
        return (stored.status, stored.error) != (state.status, state.error)

    async def _roll_back(self, state: TaskState) -> None:
        """The session's transcript as it was before this task's turn (nothing to do for a
        turn that never started)."""
        start = await self.store.blobs.get(_turn_start(state.task_id))
        if start is not None:
            await self.store.transcripts.truncate(state.session_id, int(start))

    async def _whole(self, state: TaskState) -> TaskState:
        """The state with its answer whole (the workflow holds a preview of a long one)."""
        result = state.result
        if result is None or result.content_ref is None:
            return state
        whole = await resolve(self.store.blobs, result.content, result.content_ref)
        update = {"result": result.model_copy(update={"content": whole, "content_ref": None})}
        return state.model_copy(update=update)

    async def resolved(self, data: dict[str, Any]) -> dict[str, Any]:
        """Event data with its content whole (`content`, or a final `result`'s): clients
        read the whole answer or tool result."""
        data = dict(data)
        if isinstance(data.get("result"), dict):
            data["result"] = await self.resolved(data["result"])
        ref = data.pop("content_ref", None)
        if ref is not None:
            data["content"] = await resolve(self.store.blobs, data.get("content") or "", ref)
        return data


def _turn_start(task_id: str) -> str:
    """The blob that keeps where the task's turn starts in its session's transcript."""
    return f"{task_id}/turn-start"
