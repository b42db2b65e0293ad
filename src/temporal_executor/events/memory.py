"""An event store in this process's memory, for tests and single-process development."""

from __future__ import annotations

import json
import time
from typing import Any

from ..models import Event, Message, TaskState
from .base import EventStore, TaskFilter, encode_data

__all__ = ["MemoryEventStore"]


class MemoryEventStore(EventStore):
    """Keeps everything in dicts; lost when the process exits.

    Event data goes through JSON as it would in a database, so a test fails here too when it
    appends something that is not JSON, and a caller mutating its dict cannot change the log.
    """

    def __init__(self, *, poll_interval: float = 0.25) -> None:
        super().__init__(poll_interval=poll_interval)
        self._events: dict[str, list[Event]] = {}
        self._by_key: dict[str, dict[str, Event]] = {}
        self._latest_attempt: dict[tuple[str, str], int] = {}
        self._messages: dict[str, dict[int, Message]] = {}
        self._tasks: dict[str, TaskState] = {}
        self._updated: dict[str, float] = {}
        self._changed: dict[str, float] = {}  # the time of each task's last workflow event
        self._holders: dict[str, str] = {}
        self._blobs: dict[str, str] = {}

    async def _append(
        self,
        task_id: str,
        key: str,
        type: str,
        data: dict[str, Any],
        stream: str | None,
        attempt: int,
    ) -> Event | None:
        # No await below: on one event loop the whole append is atomic.
        encoded = encode_data(data)
        by_key = self._by_key.setdefault(task_id, {})
        existing = by_key.get(key)
        if existing is not None:
            return existing.model_copy(deep=True)
        if stream is not None:
            latest = self._latest_attempt.get((task_id, stream))
            if latest is not None and latest > attempt:
                return None
        log = self._events.setdefault(task_id, [])
        event = Event(
            task_id=task_id,
            seq=len(log) + 1,
            type=type,
            data=json.loads(encoded),
            time=time.time(),
        )
        log.append(event)
        by_key[key] = event
        if stream is not None:
            self._latest_attempt[(task_id, stream)] = attempt
        else:
            self._changed[task_id] = event.time
        return event.model_copy(deep=True)

    async def read(self, task_id: str, after: int = 0, limit: int = 1000) -> list[Event]:
        start = max(after, 0)
        log = self._events.get(task_id, [])
        return [event.model_copy(deep=True) for event in log[start : start + max(limit, 0)]]

    async def put_messages(
        self, conversation: str, first_index: int, messages: list[Message]
    ) -> None:
        if first_index < 0:
            raise ValueError("first_index must be >= 0")
        stored = self._messages.setdefault(conversation, {})
        for offset, message in enumerate(messages):
            stored[first_index + offset] = message.model_copy(deep=True)

    async def get_messages(self, conversation: str, count: int | None = None) -> list[Message]:
        stored = self._messages.get(conversation, {})
        result: list[Message] = []
        # Stop at the first missing index: entries after a gap would shift into wrong places.
        for index in range(len(stored) if count is None else count):
            message = stored.get(index)
            if message is None:
                break
            result.append(message.model_copy(deep=True))
        return result

    async def put_blob(self, key: str, data: str) -> None:
        self._blobs[key] = data

    async def get_blob(self, key: str) -> str | None:
        return self._blobs.get(key)

    async def message_count(self, conversation: str) -> int:
        return len(await self.get_messages(conversation))

    async def save_task(self, state: TaskState) -> None:
        self._tasks[state.task_id] = state.model_copy(deep=True)
        self._updated[state.task_id] = time.time()

    async def get_task(self, task_id: str) -> TaskState | None:
        state = self._tasks.get(task_id)
        return None if state is None else state.model_copy(deep=True)

    async def list_tasks(
        self,
        where: TaskFilter | None = None,
        *,
        recent_first: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> list[TaskState]:
        found = self._matching(where or TaskFilter())
        if recent_first:
            found.sort(key=lambda s: (self._updated[s.task_id], s.task_id), reverse=True)
        start = max(offset, 0)
        return [s.model_copy(deep=True) for s in found[start : start + max(limit, 0)]]

    async def count_tasks(self, where: TaskFilter | None = None) -> int:
        return len(self._matching(where or TaskFilter()))

    def _last_change(self, task_id: str) -> float:
        return max(self._updated[task_id], self._changed.get(task_id, 0.0))

    def _matching(self, where: TaskFilter) -> list[TaskState]:
        return [
            state
            for state in self._tasks.values()  # dicts keep insertion order: oldest first
            if where.session_id in (None, state.session_id)
            and (where.statuses is None or state.status in where.statuses)
            and (
                where.updated_after is None
                or self._last_change(state.task_id) > where.updated_after
            )
        ]

    async def claim_session(
        self, session_id: str, task_id: str, *, replace: str | None = None
    ) -> str | None:
        holder = self._holders.get(session_id)
        if holder is not None and holder not in (task_id, replace):
            return holder
        self._holders[session_id] = task_id
        return None

    async def release_session(self, session_id: str, task_id: str) -> None:
        if self._holders.get(session_id) == task_id:
            del self._holders[session_id]

    async def delete_session(self, session_id: str) -> int:
        doomed = [t for t, s in self._tasks.items() if s.session_id == session_id]
        for task_id in doomed:
            del self._tasks[task_id]
            del self._updated[task_id]
            self._changed.pop(task_id, None)
            self._events.pop(task_id, None)
            self._by_key.pop(task_id, None)
            for key in [k for k in self._latest_attempt if k[0] == task_id]:
                del self._latest_attempt[key]
            for blob in [k for k in self._blobs if k.startswith(f"{task_id}/")]:
                del self._blobs[blob]
        self._messages.pop(session_id, None)
        self._holders.pop(session_id, None)
        return len(doomed)
