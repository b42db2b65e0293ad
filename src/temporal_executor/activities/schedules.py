"""`open_scheduled_run`: what a schedule's run checks and claims before its task starts.

A run's task id comes from the time it was scheduled for, so a tick that ran already (a
backfill over it) names a task that exists: that run starts nothing. Otherwise the task is let
into its session as a submitted one is (`TaskService.admit`, handed in by the worker: this
package does not import the service), which also gives it the tools a person approved for
the session in its earlier turns.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pydantic import Field
from temporalio import activity

from ..errors import ExecutorError, to_failure
from ..store import TaskRecords
from ..versioned import Versioned

__all__ = ["Admit", "OpenRunInput", "OpenRunResult", "ScheduleActivities"]

# (task id, session id) -> the session's approved tools; `ConflictError` while it is busy.
Admit = Callable[[str, str], Awaitable[list[str]]]


class OpenRunInput(Versioned):
    """The task a run would start, and its session."""

    task_id: str
    session_id: str


class OpenRunResult(Versioned):
    """Whether the run starts its task (False: that task exists, from an earlier run of the
    same time), with the session's approved tools."""

    start: bool
    approved_tools: list[str] = Field(default_factory=list)


class ScheduleActivities:
    def __init__(self, tasks: TaskRecords, admit: Admit) -> None:
        self.tasks = tasks
        self.admit = admit

    @activity.defn(name="open_scheduled_run")
    async def open_scheduled_run(self, input: OpenRunInput) -> OpenRunResult:
        if await self.tasks.get(input.task_id) is not None:
            return OpenRunResult(start=False)
        try:
            approved = await self.admit(input.task_id, input.session_id)
        except ExecutorError as exc:  # a busy session is not retried: the run fails, saying so
            raise to_failure(exc) from exc
        return OpenRunResult(start=True, approved_tools=approved)
