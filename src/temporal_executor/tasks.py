"""A task as everyone sees it: its state (what `GET /api/v1/tasks/{id}` returns, what the
workflow records) and the events of its log (what `GET /api/v1/tasks/{id}/events` streams)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .llm.messages import ToolCall, Usage

__all__ = [
    "Event",
    "EventType",
    "PendingApproval",
    "PendingInput",
    "Question",
    "TaskError",
    "TaskResult",
    "TaskState",
    "TaskStatus",
]


class TaskStatus(StrEnum):
    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting_approval"
    AWAITING_INPUT = "awaiting_input"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED)

    @property
    def parked(self) -> bool:
        """Waiting for a person: a decision on tool calls, or answers to questions."""
        return self in (TaskStatus.AWAITING_APPROVAL, TaskStatus.AWAITING_INPUT)


class TaskResult(BaseModel):
    content: str
    content_ref: str | None = None


class PendingApproval(BaseModel):
    tool_calls: list[ToolCall]


class Question(BaseModel):
    """One question of an `ask_user` call (kagent-adk's shape): free text, or one of
    `choices` (several when `multiple`)."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=4096)
    choices: list[str] = Field(default_factory=list, max_length=64)
    multiple: bool = False


class PendingInput(BaseModel):
    """The questions a task waits to have answered; `id` is the `ask_user` call's id."""

    id: str
    questions: list[Question]


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
    pending_input: PendingInput | None = None
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
    INPUT_REQUIRED = "input.required"
    INPUT_ANSWERED = "input.answered"
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
