"""The store: what outlives a workflow and its worker, in parts with one job each.

- `EventLog`: each task's append-only log of events, and following it live.
- `Transcripts`: each session's conversation, message by message.
- `Blobs`: large contents (and small records) by key; keys start with the task id and `/`.
- `TaskRecords`: each task's latest state, listed and counted.
- `Sessions`: which task runs in a session now; deleting a session and everything of it.

A backend (memory, SQLite, PostgreSQL) implements each part; `Store` holds one of each.

The append rules, written once here (`plan_append`, a pure function): a backend reads what
they need (`LogState`) and inserts what they decide, in one transaction holding the task's
append lock (`EventLog._append`):
- an append is idempotent on `(task_id, key)`: a retried activity that appends the same key
  again gets the event that is already there, so events are never duplicated. One exception:
  an event the workflow keyed (`wf:N`) that comes again with other data replaces the data
  under its seq. That happens only when a workflow task whose `record` had run was thrown
  away by Temporal (its history never took it: e.g. a signal and an update racing) and the
  workflow, run again from history, did something else at that step: the log then says what
  the workflow really did;
- each new event gets the task's next `seq` (1, 2, 3 … with no gaps). The key comes from
  workflow state (or, for token deltas, from the LLM call's key, its attempt and the delta's
  index), so the order of the log follows the workflow;
- an append that names a `stream` and `attempt` is dropped (None) when that stream already
  has events of a later attempt: a stale activity attempt that is still running after
  Temporal gave up on it cannot interleave its half answer with the retry's.

Followers (`EventLog.follow`) are woken at once by appends through the same instance (the API
and an in-process worker share one in `dev`), by the backend when another process appended
(PostgreSQL NOTIFY, SQLite's change counter), and otherwise poll every `poll_interval`.
`stop_following()` ends them all (an API that shuts down: its clients resume elsewhere).
"""

from __future__ import annotations

import asyncio
import json
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from ..llm.messages import Message
from ..observability import observe_appended
from ..tasks import Event, TaskState

__all__ = [
    "WORKFLOW_KEY_PREFIX",
    "AppendPlan",
    "Blobs",
    "EventLog",
    "LogState",
    "NewEvent",
    "Row",
    "Sessions",
    "Store",
    "TaskFilter",
    "TaskPage",
    "TaskRecords",
    "Transcripts",
    "asked",
    "contiguous",
    "encode_data",
    "plan_append",
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


@dataclass
class LogState:
    """What the append rules need to know of a task's log, read inside the append's
    transaction: the events already under the keys asked for, the last seq, and the latest
    attempt of each stream asked for."""

    existing: dict[str, Event]
    last_seq: int
    attempts: dict[str, int]


Row = tuple[Event, NewEvent, str]  # a new event, what was asked for, its encoded data


WORKFLOW_KEY_PREFIX = "wf:"  # the keys of the events the workflow itself numbers


@dataclass
class AppendPlan:
    """What an append does: for each event asked for, the event the log has under its key
    afterwards (None: dropped as a stale attempt's), the rows to insert for that, and the
    workflow-keyed events whose data to replace (key, event, encoded data)."""

    results: list[Event | None]
    rows: list[Row]
    replaced: list[tuple[str, Event, str]] = field(default_factory=list)


def plan_append(task_id: str, log: LogState, new: Sequence[NewEvent]) -> AppendPlan:
    """The append rules (module docstring), decided on what the log holds."""
    found = dict(log.existing)
    plan = AppendPlan([], [])
    seq = log.last_seq
    for item in new:
        if item.key in found:
            kept = found[item.key]
            if item.key.startswith(WORKFLOW_KEY_PREFIX) and item.type == kept.type:
                data = encode_data(item.data)
                if json.loads(data) != kept.data:
                    kept = kept.model_copy(update={"data": json.loads(data)})
                    found[item.key] = kept
                    plan.replaced.append((item.key, kept, data))
            plan.results.append(kept)
            continue
        if item.stream is not None and log.attempts.get(item.stream, -1) > item.attempt:
            plan.results.append(None)
            continue
        seq += 1
        data = encode_data(item.data)
        event = Event(
            task_id=task_id, seq=seq, type=item.type, data=json.loads(data), time=time.time()
        )
        found[item.key] = event
        plan.rows.append((event, item, data))
        plan.results.append(event)
    return plan


def asked(new: Sequence[NewEvent]) -> tuple[list[str], list[str]]:
    """The keys and the streams an append asks about."""
    return [item.key for item in new], sorted({item.stream for item in new if item.stream})


class _Follower:
    """One `follow`: the seq it yielded last, and events this process appended since."""

    def __init__(self, seen: int) -> None:
        self.seen = seen
        self.fresh: list[Event] = []

    def handed(self, after: int) -> list[Event]:
        """The appended events that follow on from `after` (none when there is a gap)."""
        fresh = [event for event in self.fresh if event.seq > after]
        self.fresh = []
        if (
            fresh
            and fresh[0].seq == after + 1
            and all(b.seq == a.seq + 1 for a, b in pairwise(fresh))
        ):
            return fresh
        return []


class EventLog(ABC):
    """Each task's event log: the append rules (module docstring) and following."""

    def __init__(self, *, poll_interval: float = 0.25) -> None:
        self.poll_interval = poll_interval
        self._waiters: dict[str, asyncio.Event] = {}
        # Each task's followers, by identity.
        self._positions: dict[str, dict[int, _Follower]] = {}
        self._pending: asyncio.Future[None] | None = None
        self._again = False
        self._stopped = False

    @abstractmethod
    async def _append(self, task_id: str, new: Sequence[NewEvent]) -> AppendPlan:
        """In one transaction holding the task's append lock (appends to a task take turns):
        read the `LogState`, `plan_append`, insert its rows; return the plan."""

    @abstractmethod
    async def read(self, task_id: str, after: int = 0, limit: int = 1000) -> list[Event]:
        """Events with `seq > after`, in order, at most `limit`."""

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
        """Append events in order, in one transaction, each by the rules above: for each, the
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

    async def follow(self, task_id: str, after: int = 0) -> AsyncIterator[Event]:
        """Yield the task's events after `after`, as they are appended, until
        `stop_following()`. Events this process appends are handed over as they are (no
        read), when they follow on from the last one yielded; anything else is read from the
        store."""
        me = _Follower(after)
        followers = self._positions.setdefault(task_id, {})
        followers[id(me)] = me
        try:
            while not self._stopped:
                waiter = self._waiters.setdefault(task_id, asyncio.Event())
                events = me.handed(after) or await self.read(task_id, after)
                for event in events:
                    yield event
                    after = me.seen = event.seq
                if not events:
                    try:
                        await asyncio.wait_for(waiter.wait(), self.poll_interval)
                    except TimeoutError:
                        pass
        finally:
            del followers[id(me)]
            if not followers:
                del self._positions[task_id]
                self._waiters.pop(task_id, None)

    def stop_following(self) -> None:
        """End every `follow`, now and from now on, after the events it has read."""
        self._stopped = True
        self.wake_all()

    def followed(self) -> bool:
        """Whether any task is followed (safe to ask from another thread)."""
        return bool(self._positions)

    def heads(self) -> dict[str, int]:
        """The tasks being followed, each with the lowest seq its followers have read."""
        return {
            task: min(f.seen for f in followers.values())
            for task, followers in self._positions.items()
            if followers
        }

    def spawn(self, check: Callable[[], Awaitable[None]]) -> None:
        """Run a backend's `check()` for new events in the background, one at a time; one
        asked for while another runs runs again after it (its query may have come too early)."""
        if self._pending is not None and not self._pending.done():
            self._again = True
            return

        async def run() -> None:
            self._again = True
            while self._again:
                self._again = False
                await check()

        self._pending = asyncio.ensure_future(run())

    def wake(self, task_id: str, appended: Sequence[Event] = ()) -> None:
        """Let the task's followers read again (something was appended: `appended`, when
        this process appended it)."""
        for follower in self._positions.get(task_id, {}).values():
            follower.fresh += appended
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

    @abstractmethod
    async def put_new(self, key: str, data: str) -> str:
        """Store `data` under `key` unless something is there already; return what is."""


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
