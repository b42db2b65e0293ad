"""The event store: per task, an append-only event log, the transcript, and the task record.

Contract of every implementation:
- `append` is idempotent on `(task_id, key)`: a retried activity that appends the same key
  again gets the event that is already there, so events are never duplicated. Each new event
  gets the task's next `seq` (1, 2, 3 … with no gaps) inside one transaction. The key comes
  from workflow state (or, for token deltas, from the LLM call's key, its attempt and the
  delta's index), so the order of the log follows the workflow.
- An append that names a `stream` and `attempt` is dropped (returns None) when that stream
  already has events of a later attempt: a stale activity attempt that is still running after
  Temporal gave up on it cannot interleave its half answer with the retry's.
- `put_messages` writes transcript entries at fixed indexes, idempotently; `get_messages`
  reads the first `count` of them. A transcript belongs to a conversation (a session), so a
  task sees the turns of the tasks before it in its session.
- `save_task` / `get_task` keep the latest `TaskState` of each task (and when it was last
  saved); `list_tasks` pages them, `count_tasks` counts them.
- `put_blob` / `get_blob` keep large contents (keys start with the task id and a slash)
  that workflow history only references.
- `claim_session` makes a task the one running task of its session, atomically, and
  `release_session` ends that; `delete_session` removes a session's tasks, events and
  transcript.

Subscribers (`follow`) are woken at once by appends through the same store instance (the
API and an in-process worker share one in `dev`) and otherwise
find new events by polling every `poll_interval` seconds, so an API process sees events a
worker on another host wrote.
"""

from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from ..models import Event, Message, TaskState

__all__ = ["EventStore", "TaskFilter", "encode_data"]


def encode_data(data: dict[str, Any]) -> str:
    """An event's data as every store keeps it: compact JSON, UTF-8 as is."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class TaskFilter:
    """Which stored tasks: of one session, in one of `statuses`, changed after `updated_after`
    (a Unix time: saved, or given a workflow event other than a token delta); None for any."""

    session_id: str | None = None
    statuses: list[str] | None = None
    updated_after: float | None = None


class EventStore(ABC):
    """Base class of event stores; subclasses implement the storage, this class the waiting."""

    def __init__(self, *, poll_interval: float = 0.25) -> None:
        self.poll_interval = poll_interval
        self._waiters: dict[str, asyncio.Event] = {}
        self._followers: dict[str, int] = {}

    async def append(
        self,
        task_id: str,
        key: str,
        type: str,
        data: dict[str, Any],
        *,
        stream: str | None = None,
        attempt: int = 0,
    ) -> Event | None:
        """Append one event once; see the module docstring for the idempotency rules."""
        event = await self._append(task_id, key, type, data, stream, attempt)
        waiter = self._waiters.pop(task_id, None)
        if waiter is not None:
            waiter.set()
        return event

    async def follow(self, task_id: str, after: int = 0) -> AsyncIterator[Event]:
        """Yield the task's events after `after`, forever, as they are appended."""
        self._followers[task_id] = self._followers.get(task_id, 0) + 1
        try:
            while True:
                waiter = self._waiters.setdefault(task_id, asyncio.Event())
                events = await self.read(task_id, after)
                for event in events:
                    yield event
                    after = event.seq
                if not events:
                    try:
                        await asyncio.wait_for(waiter.wait(), self.poll_interval)
                    except TimeoutError:
                        pass
        finally:
            self._followers[task_id] -= 1
            if not self._followers[task_id]:
                del self._followers[task_id]
                self._waiters.pop(task_id, None)

    @abstractmethod
    async def _append(
        self,
        task_id: str,
        key: str,
        type: str,
        data: dict[str, Any],
        stream: str | None,
        attempt: int,
    ) -> Event | None: ...

    @abstractmethod
    async def read(self, task_id: str, after: int = 0, limit: int = 1000) -> list[Event]:
        """Events with `seq > after`, in order, at most `limit`."""

    @abstractmethod
    async def put_messages(
        self, conversation: str, first_index: int, messages: list[Message]
    ) -> None:
        """Store transcript entries at `first_index`, `first_index + 1`, … (idempotent)."""

    @abstractmethod
    async def get_messages(self, conversation: str, count: int | None = None) -> list[Message]:
        """The first `count` transcript entries (all when None); fewer only if fewer exist."""

    @abstractmethod
    async def put_blob(self, key: str, data: str) -> None:
        """Store a large content under `key` (idempotent)."""

    @abstractmethod
    async def get_blob(self, key: str) -> str | None:
        """The content stored under `key`, or None."""

    @abstractmethod
    async def message_count(self, conversation: str) -> int:
        """How many transcript entries the conversation has (no gaps: indexes 0 … n-1)."""

    @abstractmethod
    async def save_task(self, state: TaskState) -> None:
        """Store the latest state of a task."""

    @abstractmethod
    async def get_task(self, task_id: str) -> TaskState | None:
        """The latest stored state of a task, or None."""

    @abstractmethod
    async def list_tasks(
        self,
        where: TaskFilter | None = None,
        *,
        recent_first: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> list[TaskState]:
        """Stored tasks that match `where`: oldest first, or with `recent_first` the last
        updated first."""

    @abstractmethod
    async def count_tasks(self, where: TaskFilter | None = None) -> int:
        """How many tasks match `where`."""

    @abstractmethod
    async def claim_session(
        self, session_id: str, task_id: str, *, replace: str | None = None
    ) -> str | None:
        """Make `task_id` the session's running task. Returns the task that holds the session
        instead (and changes nothing), unless that holder is `replace` or `task_id` itself."""

    @abstractmethod
    async def release_session(self, session_id: str, task_id: str) -> None:
        """End `task_id`'s hold on the session (no-op when another task holds it)."""

    @abstractmethod
    async def delete_session(self, session_id: str) -> int:
        """Delete the session's tasks, their events, and its transcript; return the task count."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
