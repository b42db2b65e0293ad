"""Letting a task into its session: one task runs in a session at a time (its turns share one
transcript), and a new turn carries the tools a person approved for the session in the turns
before it. `TaskService.submit` and a schedule's run (`activities/schedules.py`) both go
through here, so a task that starts on its own waits its turn as a submitted one does."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from .errors import ConflictError
from .store import Store, TaskFilter
from .tasks import TaskState
from .tenants import name

__all__ = ["SessionGate"]


class SessionGate:
    """The sessions of `store`; `existing(task_id)` is a task as it stands (None: no such
    task), Temporal asked when its record has not ended."""

    def __init__(
        self, store: Store, existing: Callable[[str], Awaitable[TaskState | None]]
    ) -> None:
        self.store = store
        self.existing = existing

    async def admit(self, task_id: str, session_id: str) -> list[str]:
        """Let a task that is about to start into its session (`ConflictError` while
        another task of the session has not ended); return the tools a person approved for
        the session in its earlier turns."""
        await self._claim(session_id, task_id)
        return await self._approvals(session_id, task_id)

    async def _claim(self, session_id: str, task_id: str) -> None:
        sessions = self.store.sessions
        holder = await sessions.claim(session_id, task_id)
        if holder is None:
            return
        state = await self.existing(holder)
        if state is not None and not state.status.terminal:
            # (The ids as the session's tenant knows them: `tenants.py`.)
            raise ConflictError(
                f"session {name(session_id)!r} has a task that has not ended "
                f"({name(holder)!r}, {state.status.value}); a session runs one task at a time",
                details={"session_id": name(session_id), "task_id": name(holder)},
            )
        # The holder ended without releasing the session (e.g. terminated from the UI).
        if await sessions.claim(session_id, task_id, replace=holder) is not None:
            raise ConflictError(
                f"session {name(session_id)!r} was claimed by another task just now"
            )

    async def _approvals(self, session_id: str, task_id: str) -> list[str]:
        if session_id == task_id:
            return []  # a new session
        latest = await self.store.tasks.find(
            TaskFilter(session_id=session_id), recent_first=True, limit=2
        )
        return next((t.approved_tools for t in latest if t.task_id != task_id), [])
