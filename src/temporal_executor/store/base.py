"""The store: what outlives a workflow and its worker, in parts with one job each.

- `EventLog`: each task's append-only log of events, and following it live.
- `Transcripts`: each session's conversation, message by message.
- `Blobs`: large contents (and small records) by key; keys start with the task id and `/`.
- `TaskRecords`: each task's latest state, listed and counted.
- `Sessions`: which task runs in a session now; deleting a session and everything of it.

A backend (memory, SQLite, PostgreSQL) implements each part; `Store` holds one of each.

The append rules, written once here (`EventLog.append_all`) on top of four primitives that a
backend runs inside one transaction holding the task's append lock (`AppendTransaction`):
- an append is idempotent on `(task_id, key)`: a retried activity that appends the same key
  again gets the event that is already there, so events are never duplicated;
- each new event gets the task's next `seq` (1, 2, 3 … with no gaps). The key comes from
  workflow state (or, for token deltas, from the LLM call's key, its attempt and the delta's
  index), so the order of the log follows the workflow;
- an append that names a `stream` and `attempt` is dropped (None) when that stream already
  has events of a later attempt: a stale activity attempt that is still running after
  Temporal gave up on it cannot interleave its half answer with the retry's.

Followers (`EventLog.follow`) are woken at once by appends through the same instance (the API
and an in-process worker share one in `dev`), by the backend when another process appended
(PostgreSQL NOTIFY, SQLite's change counter), and otherwise poll every `poll_interval`.
"""

from __future__ import annotations

import asyncio
import json
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from ..llm.messages import Message
from ..tasks import Event, TaskState

__all__ = [
    "AppendTransaction",
    "Blobs",
    "EventLog",
    "NewEvent",
    "Sessions",
    "Store",
    "TaskFilter",
    "TaskPage",
    "TaskRecords",
    "Transcripts",
    "contiguous",
    "encode_data",
]


def encode_data(data: dict[str, Any]) -> str:
    """An event's data as every backend keeps it: compact JSON, UTF-8 as is."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class NewEvent:
    """An event to append: `key` makes the append idempotent; `stream` / `attempt` mark a
    token delta of one attempt of one LLM call."""

    key: str
    type: str
    data: dict[str, Any]
    stream: str | None = None
    attempt: int = 0


@dataclass(frozen=True)
class TaskFilter:
    """Which stored tasks: of one session, in one of `statuses`, changed after `updated_after`
    (a Unix time: saved, or given a workflow event other than a token delta); None for any."""

    session_id: str | None = None
    statuses: list[str] | None = None
    updated_after: float | None = None


class AppendTransaction(ABC):
    """What a backend does inside one append transaction on one task."""

    @abstractmethod
    async def existing(self, keys: Sequence[str]) -> dict[str, Event]:
        """The task's events already appended under any of `keys`."""

    @abstractmethod
    async def later_attempt(self, stream: str, attempt: int) -> bool:
        """Whether `stream` has events of an attempt after `attempt`."""

    @abstractmethod
    async def last_seq(self) -> int:
        """The task's highest seq (0 for an empty log)."""

    @abstractmethod
    async def insert(self, rows: Sequence[tuple[Event, NewEvent, str]]) -> None:
        """Insert the events (with their `NewEvent` and encoded data), in order."""


class EventLog(ABC):
    """Each task's event log: the append rules (module docstring) and following."""

    def __init__(self, *, poll_interval: float = 0.25) -> None:
        self.poll_interval = poll_interval
        self._waiters: dict[str, asyncio.Event] = {}
        self._followers: dict[str, int] = {}

    @abstractmethod
    def _transaction(self, task_id: str) -> AbstractAsyncContextManager[AppendTransaction]:
        """One transaction holding the task's append lock: appends to a task take turns."""

    @abstractmethod
    async def read(self, task_id: str, after: int = 0, limit: int = 1000) -> list[Event]:
        """Events with `seq > after`, in order, at most `limit`."""

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
        """Append one event once (None: dropped as a stale attempt's)."""
        (event,) = await self.append_all(task_id, [NewEvent(key, type, data, stream, attempt)])
        return event

    async def append_all(self, task_id: str, new: Sequence[NewEvent]) -> list[Event | None]:
        """Append events in order, in one transaction, each by the rules above: for each, the
        event now in the log under its key, or None when it was dropped."""
        if not new:
            return []
        encoded = [encode_data(item.data) for item in new]
        results: list[Event | None] = []
        async with self._transaction(task_id) as log:
            found = await log.existing([item.key for item in new])
            seq = None
            rows: list[tuple[Event, NewEvent, str]] = []
            for item, data in zip(new, encoded, strict=True):
                if item.key in found:
                    results.append(found[item.key])
                    continue
                if item.stream is not None and await log.later_attempt(item.stream, item.attempt):
                    results.append(None)
                    continue
                seq = (await log.last_seq() if seq is None else seq) + 1
                event = Event(
                    task_id=task_id,
                    seq=seq,
                    type=item.type,
                    data=json.loads(data),
                    time=time.time(),
                )
                found[item.key] = event
                rows.append((event, item, data))
                results.append(event)
            if rows:
                await log.insert(rows)
        self.wake(task_id)
        return results

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

    def wake(self, task_id: str) -> None:
        """Let the task's followers read again (something was appended)."""
        waiter = self._waiters.pop(task_id, None)
        if waiter is not None:
            waiter.set()

    def wake_all(self) -> None:
        """Let every follower read again (another process appended, to some task)."""
        for task_id in list(self._waiters):
            self.wake(task_id)


def contiguous(rows: Iterable[Any]) -> list[Message]:
    """Stored transcript rows `(index, JSON)` in index order, up to the first missing index:
    entries after a gap would shift into wrong places."""
    result: list[Message] = []
    for index, body in rows:
        if index != len(result):
            break
        result.append(Message.model_validate_json(body))
    return result


class Transcripts(ABC):
    """Each session's transcript: messages at fixed indexes 0 … n-1, written idempotently.
    A task sees the turns of the tasks before it in its session."""

    @abstractmethod
    async def put(self, conversation: str, first_index: int, messages: list[Message]) -> None:
        """Store messages at `first_index`, `first_index + 1`, … (idempotent)."""

    @abstractmethod
    async def get(self, conversation: str, count: int | None = None) -> list[Message]:
        """The first `count` messages (all when None); fewer only if fewer exist. Reading
        stops at the first missing index: entries after a gap would shift into wrong places."""

    @abstractmethod
    async def count(self, conversation: str) -> int:
        """How many messages the conversation has (writes are in order from index 0)."""


class Blobs(ABC):
    """Contents by key, for what workflow history only references."""

    @abstractmethod
    async def put(self, key: str, data: str) -> None:
        """Store `data` under `key` (idempotent; replaces what was there)."""

    @abstractmethod
    async def get(self, key: str) -> str | None:
        """The content stored under `key`, or None."""


@dataclass(frozen=True)
class TaskPage:
    """A page of the tasks that match `where`: oldest first, or the last updated first."""

    where: TaskFilter
    recent_first: bool
    limit: int
    offset: int


class TaskRecords(ABC):
    """Each task's latest state, and when it was last saved."""

    @abstractmethod
    async def save(self, state: TaskState) -> None:
        """Store the latest state of a task."""

    @abstractmethod
    async def get(self, task_id: str) -> TaskState | None:
        """The latest stored state of a task, or None."""

    async def find(
        self,
        where: TaskFilter | None = None,
        *,
        recent_first: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> list[TaskState]:
        """Tasks that match `where`: oldest first, or with `recent_first` the last updated
        first; at most `limit` of them, after skipping `offset`."""
        page = TaskPage(where or TaskFilter(), recent_first, max(limit, 0), max(offset, 0))
        return await self._page(page)

    async def count(self, where: TaskFilter | None = None) -> int:
        """How many tasks match `where`."""
        return await self._count(where or TaskFilter())

    @abstractmethod
    async def _page(self, page: TaskPage) -> list[TaskState]: ...

    @abstractmethod
    async def _count(self, where: TaskFilter) -> int: ...


class Sessions(ABC):
    """Which task runs in each session: one at a time, so that turns never interleave."""

    @abstractmethod
    async def claim(
        self, session_id: str, task_id: str, *, replace: str | None = None
    ) -> str | None:
        """Make `task_id` the session's running task. Returns the task that holds the session
        instead (and changes nothing), unless that holder is `replace` or `task_id` itself."""

    @abstractmethod
    async def release(self, session_id: str, task_id: str) -> None:
        """End `task_id`'s hold on the session (no-op when another task holds it)."""

    @abstractmethod
    async def delete(self, session_id: str) -> int:
        """Delete the session's tasks with their events and blobs, and its transcript; return
        how many tasks there were."""


@dataclass
class Store:
    """One backend's parts: `kind` is `memory`, `sqlite` or `postgresql`, `where` the file or
    the URL (its password hidden). `close()` releases its connections."""

    kind: str
    where: str
    events: EventLog
    transcripts: Transcripts
    blobs: Blobs
    tasks: TaskRecords
    sessions: Sessions
    closer: Callable[[], Awaitable[None]]

    async def close(self) -> None:
        await self.closer()
