"""A task as everyone sees it: its state (what `GET /api/v1/tasks/{id}` returns, what the
workflow records) and the events of its log (what `GET /api/v1/tasks/{id}/events` streams)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from .llm.messages import ToolCall, Usage

__all__ = [
    "Event",
    "EventType",
    "PendingApproval",
    "TaskError",
    "TaskResult",
    "TaskState",
    "TaskStatus",
]


class TaskStatus(StrEnum):
    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting_approval"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED)


class TaskResult(BaseModel):
    content: str
    content_ref: str | None = None


class PendingApproval(BaseModel):
    tool_calls: list[ToolCall]


class TaskError(BaseModel):
    code: str
    message: str


class TaskState(BaseModel):
    """A task's state: recorded by its workflow at every step, read by the API."""

    task_id: str
    session_id: str
    status: TaskStatus = TaskStatus.RUNNING
    result: TaskResult | None = None
    usage: Usage = Field(default_factory=Usage)
    iterations: int = 0
    pending_approval: PendingApproval | None = None
    error: TaskError | None = None


class EventType(StrEnum):
    TASK_STARTED = "task.started"
    LLM_DELTA = "llm.delta"
    LLM_RESTART = "llm.restart"
    LLM_MESSAGE = "llm.message"
    TOOL_CALL = "tool.call"
    TOOL_RESULT = "tool.result"
    APPROVAL_REQUIRED = "approval.required"
    APPROVAL_DECIDED = "approval.decided"
    TASK_COMPLETED = "task.completed"
    TASK_FAILED = "task.failed"
    TASK_CANCELLED = "task.cancelled"

    @property
    def terminal(self) -> bool:
        return self in (
            EventType.TASK_COMPLETED,
            EventType.TASK_FAILED,
            EventType.TASK_CANCELLED,
        )


class Event(BaseModel):
    """One entry of a task's event log; `seq` is 1, 2, 3 … per task with no gaps."""

    task_id: str
    seq: int
    type: str
    data: dict[str, Any]
    time: float
