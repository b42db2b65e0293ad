"""The store in this process's memory, for tests and single-process development.

Everything is kept in dicts and lost when the process exits. Event data goes through JSON as
it would in a database, so a test fails here too when it appends something that is not JSON,
and a caller mutating its dict cannot change the log. No method awaits while it changes
anything, so on one event loop every change is atomic.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..llm.messages import Message
from ..tasks import Event, TaskState
from . import appends, base
from .memory_limits import MemoryLimiter

__all__ = ["memory_store"]


@dataclass
class _Data:
    events: dict[str, list[Event]] = field(default_factory=dict)
    keys: dict[str, dict[str, Event]] = field(default_factory=dict)
    latest_attempt: dict[tuple[str, str], int] = field(default_factory=dict)
    changed: dict[str, float] = field(default_factory=dict)  # each task's last workflow event
    messages: dict[str, dict[int, Message]] = field(default_factory=dict)
    blobs: dict[str, str] = field(default_factory=dict)
    tasks: dict[str, TaskState] = field(default_factory=dict)
    updated: dict[str, float] = field(default_factory=dict)
    holders: dict[str, str] = field(default_factory=dict)
    definitions: dict[tuple[str, str], str] = field(default_factory=dict)


class _Events(base.EventLog):
    def __init__(self, data: _Data, poll_interval: float) -> None:
        super().__init__(poll_interval=poll_interval)
        self.data = data

    async def _append(self, task_id: str, new: Sequence[appends.NewEvent]) -> appends.AppendPlan:
        data = self.data
        keys, streams = appends.asked(new)
        stored = data.keys.get(task_id, {})
        log = appends.LogState(
            existing={k: stored[k].model_copy(deep=True) for k in keys if k in stored},
            last_seq=len(data.events.get(task_id, [])),
            attempts={
                s: data.latest_attempt[(task_id, s)]
                for s in streams
                if (task_id, s) in data.latest_attempt
            },
        )
        plan = appends.plan_append(task_id, log, new)
        rows = plan.rows
        events = data.events.setdefault(task_id, [])
        by_key = data.keys.setdefault(task_id, {})
        for event, item, _ in rows:
            kept = event.model_copy(deep=True)
            events.append(kept)
            by_key[item.key] = kept
            if item.stream is not None:
                data.latest_attempt[(task_id, item.stream)] = item.attempt
            else:
                data.changed[task_id] = event.time
        for key, event, _ in plan.replaced:
            kept = event.model_copy(deep=True)
            events[event.seq - 1] = by_key[key] = kept
        return plan

    async def last_attempt(self, task_id: str, stream: str) -> int:
        return self.data.latest_attempt.get((task_id, stream), 0)

    async def read(self, task_id: str, after: int = 0, limit: int = 1000) -> list[Event]:
        start = max(after, 0)
        log = self.data.events.get(task_id, [])
        return [event.model_copy(deep=True) for event in log[start : start + max(limit, 0)]]


class _Transcripts(base.Transcripts):
    def __init__(self, data: _Data) -> None:
        self.data = data

    async def _put(self, conversation: str, first_index: int, messages: list[Message]) -> None:
        stored = self.data.messages.setdefault(conversation, {})
        for offset, message in enumerate(messages):
            stored[first_index + offset] = message.model_copy(deep=True)

    async def get(self, conversation: str, count: int | None = None) -> list[Message]:
        stored = self.data.messages.get(conversation, {})
        result: list[Message] = []
        for index in range(len(stored) if count is None else count):
            message = stored.get(index)
            if message is None:
                break
            result.append(message.model_copy(deep=True))
        return result

    async def count(self, conversation: str) -> int:
        return len(await self.get(conversation))

    async def truncate(self, conversation: str, count: int) -> None:
        stored = self.data.messages.get(conversation, {})
        for index in [i for i in stored if i >= count]:
            del stored[index]


class _Blobs(base.Blobs):
    def __init__(self, data: _Data) -> None:
        self.data = data

    async def put(self, key: str, data: str) -> None:
        self.data.blobs[key] = data

    async def get(self, key: str) -> str | None:
        return self.data.blobs.get(key)

    async def put_new(self, key: str, data: str) -> str:
        return self.data.blobs.setdefault(key, data)


class _Tasks(base.TaskRecords):
    def __init__(self, data: _Data) -> None:
        self.data = data

    async def save(self, state: TaskState) -> None:
        stored = self.data.tasks.get(state.task_id)
        if stored is not None and stored.status.terminal:
            return
        self.data.tasks[state.task_id] = state.model_copy(deep=True)
        self.data.updated[state.task_id] = time.time()

    async def get(self, task_id: str) -> TaskState | None:
        state = self.data.tasks.get(task_id)
        return None if state is None else state.model_copy(deep=True)

    async def _page(self, page: base.TaskPage) -> list[TaskState]:
        found = self._matching(page.where)
        if page.recent_first:
            found.sort(key=lambda s: (self.data.updated[s.task_id], s.task_id), reverse=True)
        chosen = found[page.offset : page.offset + page.limit]
        return [s.model_copy(deep=True) for s in chosen]

    async def _count(self, where: base.TaskFilter) -> int:
        return len(self._matching(where))

    def _matching(self, where: base.TaskFilter) -> list[TaskState]:
        def changed(task_id: str) -> float:
            return max(self.data.updated[task_id], self.data.changed.get(task_id, 0.0))

        return [
            state
            for state in self.data.tasks.values()  # dicts keep insertion order: oldest first
            if where.session_id in (None, state.session_id)
            and where.owned(state.task_id)
            and (where.statuses is None or state.status in where.statuses)
            and (where.updated_after is None or changed(state.task_id) > where.updated_after)
        ]


class _Sessions(base.Sessions):
    def __init__(self, data: _Data) -> None:
        self.data = data

    async def claim(
        self, session_id: str, task_id: str, *, replace: str | None = None
    ) -> str | None:
        holder = self.data.holders.get(session_id)
        if holder is not None and holder not in (task_id, replace):
            return holder
        self.data.holders[session_id] = task_id
        return None

    async def release(self, session_id: str, task_id: str, *, to: str | None = None) -> None:
        if self.data.holders.get(session_id) != task_id:
            return
        if to is None:
            del self.data.holders[session_id]
        else:
            self.data.holders[session_id] = to

    async def delete(self, session_id: str) -> int:
        data = self.data
        doomed = [t for t, s in data.tasks.items() if s.session_id == session_id]
        for task_id in doomed:
            for table in (data.tasks, data.updated, data.changed, data.events, data.keys):
                table.pop(task_id, None)
            for attempt in [k for k in data.latest_attempt if k[0] == task_id]:
                del data.latest_attempt[attempt]
            for blob in [k for k in data.blobs if k.startswith(f"{task_id}/")]:
                del data.blobs[blob]
        data.messages.pop(session_id, None)
        data.holders.pop(session_id, None)
        return len(doomed)


class _Definitions(base.Definitions):
    # Kept as JSON, as a database keeps them: a caller's later change to its dict is not seen.

    def __init__(self, data: _Data) -> None:
        self.data = data

    async def add(self, kind: str, name: str, data: dict[str, Any]) -> bool:
        if (kind, name) in self.data.definitions:
            return False
        self.data.definitions[(kind, name)] = json.dumps(data)
        return True

    async def get(self, kind: str, name: str) -> dict[str, Any] | None:
        stored = self.data.definitions.get((kind, name))
        return None if stored is None else dict(json.loads(stored))

    async def every(self, kind: str) -> list[dict[str, Any]]:
        return [json.loads(v) for (k, _), v in self.data.definitions.items() if k == kind]

    async def delete(self, kind: str, name: str) -> bool:
        return self.data.definitions.pop((kind, name), None) is not None


def memory_store(*, poll_interval: float = 0.25) -> base.Store:
    """A new, empty store in this process's memory."""
    data = _Data()

    async def close() -> None:
        pass

    return base.Store(
        kind="memory",
        where="memory://",
        events=_Events(data, poll_interval),
        transcripts=_Transcripts(data),
        blobs=_Blobs(data),
        tasks=_Tasks(data),
        sessions=_Sessions(data),
        limiter=MemoryLimiter(),
        definitions=_Definitions(data),
        closer=close,
    )
