"""`save_state`: persist the task's latest state, so it outlives the workflow and its worker."""

from __future__ import annotations

from temporalio import activity

from ..events import EventStore
from ..models import TaskState

__all__ = ["StateActivities"]


class StateActivities:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    @activity.defn(name="save_state")
    async def save_state(self, state: TaskState) -> None:
        await self.store.save_task(state)
