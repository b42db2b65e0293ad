"""`open_session` and `save_state`: where a task's turn starts in its session's transcript, and
the task's latest state plus, at its end, the rest of its transcript — so both outlive the
workflow and its worker."""

from __future__ import annotations

from temporalio import activity

from ..events import EventStore
from ..models import OpenSessionInput, SaveStateInput
from ..payloads import resolve

__all__ = ["StateActivities"]


class StateActivities:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    @activity.defn(name="open_session")
    async def open_session(self, input: OpenSessionInput) -> int:
        """The number of transcript messages the session has before this task's turn."""
        return await self.store.message_count(input.session_id)

    @activity.defn(name="save_state")
    async def save_state(self, input: SaveStateInput) -> None:
        state = input.state
        result = state.result
        if result is not None and result.content_ref is not None:
            whole = await resolve(self.store, result.content, result.content_ref)
            state = state.model_copy(
                update={"result": result.model_copy(update={"content": whole, "content_ref": None})}
            )
        if input.messages:
            await self.store.put_messages(state.session_id, input.first_index, input.messages)
        await self.store.save_task(state)
        if state.status.terminal:
            await self.store.release_session(state.session_id, state.task_id)
