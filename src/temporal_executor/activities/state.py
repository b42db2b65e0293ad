"""`save_state`: persist the task's latest state and, at its end, the rest of its transcript,
so both outlive the workflow and its worker."""

from __future__ import annotations

from temporalio import activity

from ..events import EventStore
from ..models import SaveStateInput

__all__ = ["StateActivities"]


class StateActivities:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    @activity.defn(name="save_state")
    async def save_state(self, input: SaveStateInput) -> None:
        if input.messages:
            await self.store.put_messages(input.state.task_id, input.first_index, input.messages)
        await self.store.save_task(input.state)
