"""The three local activities of release 0.1.0+254ae33, for the tasks it started.

That release wrote a step's events one by one (`publish_event`), counted the session's
transcript at the start of a turn (`open_session`) and saved the task's state, with its
transcript at the end (`save_state`), each as a local activity of its own. A history it
recorded holds their markers, so the loop that replays such a task (`workflows/legacy.py`)
calls them by these names; they write what they wrote then, into this release's store, as
idempotently as `record` does (events by key, the turn's start counted once).

Delete this module with `workflows/legacy.py`: when `tests/replay/releases/0.1.0+254ae33/`
is dropped, as the CHANGELOG says.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from temporalio import activity

from ..llm.messages import Message
from ..tasks import TaskState
from ..versioned import Versioned
from .records import RecordActivities

__all__ = ["LegacyActivities", "OpenSessionInput", "PublishEventInput", "SaveStateInput"]


class PublishEventInput(Versioned):
    """One event; `key` (`wf:N` from the workflow's counter) makes the append idempotent."""

    task_id: str
    key: str
    type: str
    data: dict[str, Any] = Field(default_factory=dict)


class OpenSessionInput(Versioned):
    session_id: str
    task_id: str


class SaveStateInput(Versioned):
    """The task's state, and at its end the transcript entries from `first_index`."""

    state: TaskState
    first_index: int = 0
    messages: list[Message] = Field(default_factory=list)


class LegacyActivities:
    """`publish_event`, `open_session`, `save_state` on `record`'s writes."""

    def __init__(self, records: RecordActivities) -> None:
        self.records = records

    @activity.defn(name="publish_event")
    async def publish_event(self, input: PublishEventInput) -> int:
        """Append the event (its content whole) once; its seq."""
        data = await self.records.resolved(input.data)
        event = await self.records.store.events.append(input.task_id, input.key, input.type, data)
        return event.seq if event else 0

    @activity.defn(name="open_session")
    async def open_session(self, input: OpenSessionInput) -> int:
        """The number of transcript messages the session had before this task's turn."""
        return await self.records.turn_start(input.task_id, input.session_id)

    @activity.defn(name="save_state")
    async def save_state(self, input: SaveStateInput) -> None:
        await self.records.write(input.state, input.first_index, input.messages)
