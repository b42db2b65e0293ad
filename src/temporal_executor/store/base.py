"""The store: what outlives a workflow and its worker, in parts with one job each.

- `EventLog`: each task's append-only log of events, and following it live.
- `Transcripts`: each session's conversation, message by message.
- `Blobs`: large contents (and small records) by key; keys start with the task id and `/`.
- `TaskRecords`: each task's latest state, listed and counted.
- `Sessions`: which task runs in a session now; deleting a session and everything of it.
- `Limiter`: the provider and tool limits every worker shares (its rules: `limits.py`).
- `Definitions`: what users define to start tasks without a person (schedules, webhook
  triggers), by kind and name.

A backend (memory, SQLite, PostgreSQL) implements each part; `Store` holds one of each.

The append rules are `appends.py`; following a log live, `followers.py`.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..llm.messages import Message
from ..observability import observe_appended
from ..tasks import Event, TaskState, TaskStatus
from ..tenants import split
from .appends import AppendPlan, NewEvent
from .followers import FollowedLog
from .limits import Ask, Refusal
from .rekey import SealedColumns

__all__ = [
    "ENDED",
    "Blobs",
    "Definitions",
    "EventLog",
    "Limiter",
    "Sessions",
    "Store",
    "TaskFilter",
    "TaskPage",
    "TaskRecords",
    "Transcripts",
    "contiguous",
]


class EventLog(FollowedLog):
    """Each task's event log: appends by the append rules (`appends.py`); reading and
    following (`FollowedLog`)."""

    @abstractmethod
    async def _append(self, task_id: str, new: Sequence[NewEvent]) -> AppendPlan:
        """In one transaction holding the task's append lock (appends to a task take turns):
        read the `LogState`, `plan_append`, insert its rows; return the plan."""

    @abstractmethod
    async def last_attempt(self, task_id: str, stream: str) -> int:
        """The latest attempt that appended to `stream` (0: none has)."""

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
        """Append events in order, in one transaction, each by the append rules: for each, the
        event now in the log under its key, or None when it was dropped."""
        if not new:
            return []
        started = time.perf_counter()
        plan = await self._append(task_id, new)
        elapsed = time.perf_counter() - started
        appended = [event for event, _, _ in plan.rows]
        self.wake(task_id, appended)
        await observe_appended(appended, elapsed, self._first_event)
        return plan.results

    async def _first_event(self, task_id: str) -> Event | None:
        events = await self.read(task_id, 0, 1)
        return events[0] if events else None


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

    async def put(self, conversation: str, first_index: int, messages: list[Message]) -> None:
        """Store messages at `first_index`, `first_index + 1`, … (idempotent)."""
        if first_index < 0:
            raise ValueError("first_index must be >= 0")
        if messages:
            await self._put(conversation, first_index, messages)

    @abstractmethod
    async def get(self, conversation: str, count: int | None = None) -> list[Message]:
        """The first `count` messages (all when None); fewer only if fewer exist. Reading
        stops at the first missing index: entries after a gap would shift into wrong places."""

    @abstractmethod
    async def count(self, conversation: str) -> int:
        """How many messages the conversation has (writes are in order from index 0)."""

    @abstractmethod
    async def truncate(self, conversation: str, count: int) -> None:
        """Keep the first `count` messages only: a turn rolled back leaves no trace."""

    @abstractmethod
    async def _put(self, conversation: str, first_index: int, messages: list[Message]) -> None:
        """`put`, with `first_index` >= 0 and at least one message."""


class Blobs(ABC):
    """Contents by key, for what workflow history only references."""

    @abstractmethod
    async def put(self, key: str, data: str) -> None:
        """Store `data` under `key` (idempotent; replaces what was there)."""

    @abstractmethod
    async def get(self, key: str) -> str | None:
        """The content stored under `key`, or None."""

    @abstractmethod
    async def put_new(self, key: str, data: str) -> str:
        """Store `data` under `key` unless something is there already; return what is."""


@dataclass(frozen=True)
class TaskFilter:
    """Which stored tasks: of one tenant (`tenants.py`: by their keys), of one session, in one
    of `statuses`, changed after `updated_after` (a Unix time: saved, or given a workflow
    event other than a token delta); None for any."""

    session_id: str | None = None
    statuses: list[str] | None = None
    updated_after: float | None = None
    tenant: str | None = None

    def owned(self, task_id: str) -> bool:
        """Whether the task with this key is of the tenant asked for (any, when None)."""
        return self.tenant is None or split(task_id)[0] == self.tenant


@dataclass(frozen=True)
class TaskPage:
    """A page of the tasks that match `where`: oldest first, or the last updated first."""

    where: TaskFilter
    recent_first: bool
    limit: int
    offset: int


# The statuses a task ends in, as the stores' SQL lists them.
ENDED = ", ".join(f"'{status.value}'" for status in TaskStatus if status.terminal)


class TaskRecords(ABC):
    """Each task's latest state, and when it was last saved."""

    @abstractmethod
    async def save(self, state: TaskState) -> None:
        """Store the latest state of a task, unless the stored one has ended: a task's first
        recorded end stands. (A workflow task that ran a task to its end can be replaced, when
        a signal came meanwhile, by one that takes another way, e.g. stopped by that signal:
        the calls the first one made happened, and its end is what the log shows.)"""

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
    """Which task runs in each session: one at a time, so that turns never interleave. With
    tasks queued behind it (`executor.concurrent_messages`), the holder is the last of them,
    which the next message's task queues behind (`TaskService.submit`)."""

    @abstractmethod
    async def claim(
        self, session_id: str, task_id: str, *, replace: str | None = None
    ) -> str | None:
        """Make `task_id` the session's running task. Returns the task that holds the session
        instead (and changes nothing), unless that holder is `replace` or `task_id` itself."""

    @abstractmethod
    async def release(self, session_id: str, task_id: str, *, to: str | None = None) -> None:
        """End `task_id`'s hold on the session, handing it to `to` (None: nobody); a no-op
        when another task holds it."""

    @abstractmethod
    async def delete(self, session_id: str) -> int:
        """Delete the session's tasks with their events and blobs, and its transcript; return
        how many tasks there were."""


class Limiter(ABC):
    """Shared limits (`limits.py`): a call asks to start (`acquire`) and, granted, holds a
    lease while it runs (`renew` it within its time to live, `release` it when done)."""

    @abstractmethod
    async def acquire(self, ask: Ask) -> Refusal | None:
        """In one transaction: grant the call (None; lease `ask.lease` under each limit that
        counts calls, and it is no longer a waiter), or refuse it (the binding refusal; it
        waits, under each of its limits, as `ask.key`, keeping its place if it did)."""

    @abstractmethod
    async def renew(self, lease: str, ttl: float) -> None:
        """Keep the lease for `ttl` more seconds."""

    @abstractmethod
    async def release(self, lease: str, tokens: int | None = None) -> None:
        """End the lease (its calls stay in the window), with the tokens the call used."""

    @abstractmethod
    async def block(self, name: str, seconds: float) -> None:
        """Refuse calls under limit `name` for `seconds` (a provider's Retry-After)."""

    @abstractmethod
    async def waiting(self) -> dict[str, int]:
        """How many calls wait now, by limit (waiters that have not given up)."""


class Definitions(ABC):
    """Named definitions users make through the API to start tasks without a person
    (`kind`: `schedule`, `trigger`): a JSON object each, under a name unique in its kind."""

    @abstractmethod
    async def add(self, kind: str, name: str, data: dict[str, Any]) -> bool:
        """Store `data` under `name`; False, changing nothing, when the name is taken."""

    @abstractmethod
    async def get(self, kind: str, name: str) -> dict[str, Any] | None:
        """The definition stored under `name`, or None."""

    @abstractmethod
    async def every(self, kind: str) -> list[dict[str, Any]]:
        """Every definition of `kind`, oldest first."""

    @abstractmethod
    async def delete(self, kind: str, name: str) -> bool:
        """Delete the definition; False when there was none."""


@dataclass
class Store:
    """One backend's parts: `kind` is `memory`, `sqlite` or `postgresql`, `where` the file or
    the URL (its password hidden). `close()` releases its connections. `sealed`: its
    encrypted content columns row by row, for `rekey` (None: it keeps nothing at rest)."""

    kind: str
    where: str
    events: EventLog
    transcripts: Transcripts
    blobs: Blobs
    tasks: TaskRecords
    sessions: Sessions
    limiter: Limiter
    definitions: Definitions
    closer: Callable[[], Awaitable[None]]
    sealed: SealedColumns | None = None

    async def close(self) -> None:
        await self.closer()
