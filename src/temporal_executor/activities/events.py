"""`publish_event`: append one event to the task's log, exactly once."""

from __future__ import annotations

from temporalio import activity

from ..events import EventStore
from ..models import PublishEventInput
from ..payloads import resolve

__all__ = ["EventActivities"]


class EventActivities:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    @activity.defn(name="publish_event")
    async def publish_event(self, input: PublishEventInput) -> int:
        """Append the event (idempotent on its key) and return its seq."""
        data = input.data
        if data.get("content_ref") is not None:
            whole = await resolve(self.store, data.get("content") or "", data["content_ref"])
            data = {**data, "content": whole}
        data.pop("content_ref", None)
        event = await self.store.append(input.task_id, input.key, input.type, data)
        return event.seq if event else 0
