"""Letting a task into its session: one task runs in a session at a time (its turns share one
transcript), and a new turn carries the tools a person approved for the session in the turns
before it. `TaskService.submit` and a schedule's run (`activities/schedules.py`) both go
through here, so a task that starts on its own waits its turn as a submitted one does.

While the session's task has not ended, a new one is refused, or (a submission's
`concurrent_messages`, `turns.py`) queued behind it: the session's holder in the store is its
last task, and a task that waits is recorded `queued` behind the holder, then takes its place
as holder (compare and swap: a message sent at the same moment takes its turn in between),
then its workflow starts. So the store alone describes a session's queue (each record names
the task ahead of it), and a task whose workflow never started (the API stopped in between)
is passed by the ones behind it."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from .config import ConcurrentMessages
from .errors import ConflictError
from .store import Store, TaskFilter
from .tasks import TaskState, TaskStatus, workflow_id
from .tenants import name
from .turns import STOP, StopInput
from .workflows import AgentInput

__all__ = ["SessionGate", "submitted"]

CLAIM_TRIES = 3  # a message that keeps losing its place to simultaneous ones is refused
MAX_AHEAD = 1000  # tasks stopped at most by one message (a queue is never this long)


class SessionGate:
    """The sessions of `store` (their tasks' workflows on `client`); `existing(task_id)` is a
    task as it stands (None: no such task), Temporal asked when its record has not ended."""

    def __init__(
        self,
        client: Client,
        store: Store,
        existing: Callable[[str], Awaitable[TaskState | None]],
    ) -> None:
        self.client = client
        self.store = store
        self.existing = existing

    async def admit(self, task_id: str, session_id: str) -> list[str]:
        """Let a task that is about to start into its session (`ConflictError` while
        another task of the session has not ended); return the tools a person approved for
        the session in its earlier turns."""
        await self._claim(session_id, task_id, "reject", None)
        return await self._approvals(session_id, task_id)

    async def enter(
        self, input: AgentInput, concurrent: ConcurrentMessages
    ) -> tuple[str | None, list[str]]:
        """`admit`, for a submitted task that may wait (`concurrent`): the task it is queued
        behind (None: it runs now), and the session's approved tools."""
        ahead = await self._claim(input.session_id, input.task_id, concurrent, input)
        return ahead, await self._approvals(input.session_id, input.task_id)

    async def stop_ahead(self, last: str, stop: StopInput) -> None:
        """Stop `last` and every task ahead of it in its session (as their records say);
        for a rollback, cancel them too (at once, not at their next step)."""
        task_id: str | None = last
        for _ in range(MAX_AHEAD):
            if task_id is None:
                return
            handle = self.client.get_workflow_handle(workflow_id(task_id))
            try:
                await handle.signal(STOP, stop)
                if stop.mode == "rollback":
                    await handle.cancel()
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise  # (not found: it has ended)
            record = await self.store.tasks.get(task_id)
            task_id = record.queued_behind if record is not None else None

    async def _claim(
        self,
        session_id: str,
        task_id: str,
        concurrent: ConcurrentMessages,
        input: AgentInput | None,
    ) -> str | None:
        """Make the task its session's holder; the task it is queued behind, if any (only
        with an `input` to record it queued by)."""
        sessions = self.store.sessions
        holder = await sessions.claim(session_id, task_id)
        recorded = False
        for _ in range(CLAIM_TRIES):
            if holder is None:
                return None
            state = await self.existing(holder)
            if state is None or state.status.terminal:
                # The holder ended without releasing the session (terminated from the UI).
                holder = await sessions.claim(session_id, task_id, replace=holder)
                continue
            if concurrent == "reject" or input is None:
                # (The ids as the session's tenant knows them: `tenants.py`.)
                raise ConflictError(
                    f"session {name(session_id)!r} has a task that has not ended "
                    f"({name(holder)!r}, {state.status.value}); a session runs one task at "
                    "a time (a message sent with concurrent_messages enqueue, interrupt or "
                    "rollback waits its turn instead)",
                    details={"session_id": name(session_id), "task_id": name(holder)},
                )
            await self.store.tasks.save(submitted(input, behind=holder))
            recorded = True
            replaced = await sessions.claim(session_id, task_id, replace=holder)
            if replaced is None:
                return holder
            holder = replaced
        if recorded and input is not None:  # never queued after all
            ended = submitted(input).model_copy(update={"status": TaskStatus.CANCELLED})
            await self.store.tasks.save(ended)
        raise ConflictError(
            f"session {name(session_id)!r} took other messages at the same moment; send again",
            details={"session_id": name(session_id)},
        )

    async def _approvals(self, session_id: str, task_id: str) -> list[str]:
        if session_id == task_id:
            return []  # a new session
        latest = await self.store.tasks.find(
            TaskFilter(session_id=session_id), recent_first=True, limit=2
        )
        return next((t.approved_tools for t in latest if t.task_id != task_id), [])


def submitted(input: AgentInput, behind: str | None = None) -> TaskState:
    """The state of a task just submitted: running, or queued `behind` a task."""
    behind = behind or input.queued_behind
    return TaskState(
        task_id=input.task_id,
        session_id=input.session_id,
        status=TaskStatus.QUEUED if behind else TaskStatus.RUNNING,
        queued_behind=behind,
        model=f"{input.model.provider}/{input.model.model}",
        created_at=time.time(),
        priority=input.dispatch.priority,
    )
