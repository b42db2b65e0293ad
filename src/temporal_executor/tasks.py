"""A task as everyone sees it: its state (what `GET /api/v1/tasks/{id}` returns, what the
workflow records), the events of its log (what `GET /api/v1/tasks/{id}/events` streams), and
the id of its workflow (`workflow_id`).

The state is part of what a running task carries (`Payload`s: see `versioned.py`)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from .llm.messages import Artifact, ToolCall, Usage
from .tenants import DEFAULT_TENANT
from .versioned import Payload

__all__ = [
    "SCHEDULE_PREFIX",
    "SESSION_MEMO",
    "WORKFLOW_ID_PREFIX",
    "Artifact",
    "CapacityWaiting",
    "Event",
    "EventType",
    "Nested",
    "NestedApproval",
    "NestedInput",
    "NestedTool",
    "PendingApproval",
    "PendingCall",
    "PendingInput",
    "Question",
    "TaskError",
    "TaskResult",
    "TaskState",
    "TaskStatus",
    "schedule_workflow_id",
    "scheduled_task_id",
    "task_id_of",
    "terminal_event",
    "workflow_id",
]

WORKFLOW_ID_PREFIX = "agent-execution-"
# The memo key of a task's workflow that names its session (set when it starts).
SESSION_MEMO = "session_id"


def workflow_id(task_id: str) -> str:
    """The id of the task's workflow (all its runs)."""
    return f"{WORKFLOW_ID_PREFIX}{task_id}"


def task_id_of(workflow_id: str) -> str | None:
    """The task whose workflow has this id; None for an id that is no task's workflow's."""
    if not workflow_id.startswith(WORKFLOW_ID_PREFIX):
        return None
    return workflow_id.removeprefix(WORKFLOW_ID_PREFIX)


# A schedule's id in Temporal, and its action's workflow id: `agent-schedule-{schedule_id}`.
# Temporal names each run's workflow that id, a dash and the time the run was scheduled for
# (`…-2026-12-07T15:56:15Z`); the task the run starts is that name without the prefix.
SCHEDULE_PREFIX = "agent-schedule-"


def schedule_workflow_id(schedule_id: str) -> str:
    """The schedule's id in Temporal, which is also the stem of its runs' workflow ids."""
    return f"{SCHEDULE_PREFIX}{schedule_id}"


def scheduled_task_id(run_workflow_id: str) -> str:
    """The task a schedule's run starts: `{schedule_id}-{scheduled time}`, from the run's
    workflow id (so every run of one time, a backfill's too, names the same task)."""
    return run_workflow_id.removeprefix(SCHEDULE_PREFIX)


class TaskStatus(StrEnum):
    QUEUED = "queued"  # behind another task of its session (`queued_behind`)
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


class TaskResult(Payload):
    content: str
    content_ref: str | None = None


class Question(Payload):
    """One question of an `ask_user` call (kagent-adk's shape): free text, or one of
    `choices` (several when `multiple`)."""

    question: str = Field(min_length=1, max_length=4096)
    choices: list[str] = Field(default_factory=list, max_length=64)
    multiple: bool = False


class NestedTool(Payload):
    """A tool call another agent waits to have decided, as kagent's HITL extension names it
    (its `HitlTool`): `id` is what a decision names, `call_id` that agent's own call id."""

    id: str
    call_id: str
    name: str
    args: dict[str, Any] = Field(default_factory=dict)


class Nested(Payload):
    """Another agent, called by this task as a tool (`tool_call`), paused for a person: its
    name (the tool's), its task and context. The person decides here; the task passes the
    decision on to that agent's task (kagent's HITL extension's `nested` block)."""

    subagent_name: str
    task_id: str
    context_id: str
    tool_call: ToolCall


class NestedApproval(Nested):
    """The other agent waits for a decision on `tools`."""

    tools: list[NestedTool]


class NestedInput(Nested):
    """The other agent asks `questions` (its `ask_user` call `id`)."""

    id: str
    questions: list[Question]


class PendingApproval(Payload):
    """The tool calls a task waits to have decided: since `requested_at` (epoch seconds),
    decided by `expires_at` when an approval timeout applies; `parameters` is each pending
    tool's JSON Schema (by name), which edited arguments must match. With `nested`, the calls
    are another agent's (its `tools`), which that agent called while this task called it."""

    tool_calls: list[ToolCall]
    requested_at: float | None = None
    expires_at: float | None = None
    parameters: dict[str, dict[str, Any]] = Field(default_factory=dict)
    nested: NestedApproval | None = None

    def event(self) -> dict[str, Any]:
        """The data of its `approval.required` event (`nested` only when there is one)."""
        data = self.model_dump(mode="json", include={"tool_calls", "requested_at", "expires_at"})
        if self.nested is not None:
            data["nested"] = self.nested.model_dump(mode="json")
        return data


class PendingCall(BaseModel):
    """One tool call waiting for a decision, as the approvals inbox lists it (`tenant`: whose
    task it is; its ids are that tenant's)."""

    task_id: str
    session_id: str
    tool_call_id: str
    tool_name: str
    arguments: dict[str, Any]
    parameters: dict[str, Any] | None = None  # the tool's JSON Schema
    requested_at: float | None = None
    expires_at: float | None = None
    tenant: str = DEFAULT_TENANT
    # Another agent's call, when it is one (see `PendingApproval.nested`).
    nested: NestedApproval | None = None


class PendingInput(Payload):
    """The questions a task waits to have answered; `id` is the `ask_user` call's id. With
    `nested`, another agent asks them (the id is its call's)."""

    id: str
    questions: list[Question]
    nested: NestedInput | None = None

    def event(self) -> dict[str, Any]:
        """The data of its `input.required` event (`nested` only when there is one)."""
        return self.model_dump(mode="json", exclude_none=True)


class TaskError(Payload):
    code: str
    message: str


class CapacityWaiting(Payload):
    """A call of the task waiting for capacity under a shared limit (`config/limits.py`):
    which call (`llm:<n>`, `tool:<call id>`), the limit's name, why (`concurrency`,
    `requests_per_minute`, `tokens_per_minute`, `rate_limited`) and since when (epoch s)."""

    call: str
    limit: str
    reason: str
    since: float


class TaskState(Payload):
    """A task's state: recorded by its workflow at every step, read by the API."""

    task_id: str
    session_id: str
    status: TaskStatus = TaskStatus.RUNNING
    result: TaskResult | None = None
    usage: Usage = Field(default_factory=Usage)
    # Usage by "provider/model", when a fallback model answered some of the calls.
    usage_by_model: dict[str, Usage] = Field(default_factory=dict)
    iterations: int = 0
    # Tools a person approved "for the session": later calls (this task and the session's
    # next ones) run without asking.
    approved_tools: list[str] = Field(default_factory=list)
    pending_approval: PendingApproval | None = None
    pending_input: PendingInput | None = None
    error: TaskError | None = None
    # What the task runs on ("provider/model") and when its workflow started (seconds since
    # the epoch): for listings (the web console's Tasks page); None before the first record.
    model: str | None = None
    created_at: float | None = None
    # Its calls that wait for capacity now (added in 0.2.0: none, before).
    waiting_for_capacity: list[CapacityWaiting] = Field(default_factory=list)
    # What the task made, in the order it was made.
    artifacts: list[Artifact] = Field(default_factory=list)
    # Its priority, 1 (least urgent) to 5 (most urgent); None: recorded before there were.
    priority: int | None = None
    # The task of its session it waits for, while `queued` (kept if it ended without having
    # run: the task after it then waits for that one).
    queued_behind: str | None = None

    def pending_calls(self) -> list[PendingCall]:
        """The tool calls this task waits to have decided."""
        pending = self.pending_approval
        if pending is None:
            return []
        return [
            PendingCall(
                task_id=self.task_id,
                session_id=self.session_id,
                tool_call_id=call.id,
                tool_name=call.name,
                arguments=call.arguments,
                parameters=pending.parameters.get(call.name),
                requested_at=pending.requested_at,
                expires_at=pending.expires_at,
                nested=pending.nested,
            )
            for call in pending.tool_calls
        ]

    def counted(self, model: str, usage: Usage) -> TaskState:
        """This state with one LLM call's `usage` added, in total and for `model`."""
        by_model = {**self.usage_by_model, model: self.usage_by_model.get(model, Usage()) + usage}
        return self.model_copy(update={"usage": self.usage + usage, "usage_by_model": by_model})


class EventType(StrEnum):
    TASK_QUEUED = "task.queued"
    TASK_STARTED = "task.started"
    LLM_DELTA = "llm.delta"
    LLM_REASONING = "llm.reasoning"
    LLM_RESTART = "llm.restart"
    LLM_MESSAGE = "llm.message"
    LLM_FALLBACK = "llm.fallback"
    TOOL_CALL = "tool.call"
    TOOL_RESULT = "tool.result"
    ARTIFACT_CREATED = "artifact.created"
    TOOL_PROGRESS = "tool.progress"
    APPROVAL_REQUIRED = "approval.required"
    APPROVAL_DECIDED = "approval.decided"
    INPUT_REQUIRED = "input.required"
    INPUT_ANSWERED = "input.answered"
    WAITING_FOR_CAPACITY = "task.waiting_for_capacity"
    CONTEXT_COMPACTED = "context.compacted"
    TASK_COMPLETED = "task.completed"
    TASK_FAILED = "task.failed"
    TASK_CANCELLED = "task.cancelled"

    @property
    def terminal(self) -> bool:
        """Whether a task ends with an event of this type."""
        return self in _ENDS_AS


# The events that end a task, each with the status the task ends in.
_ENDS_AS: dict[str, TaskStatus] = {
    EventType.TASK_COMPLETED: TaskStatus.COMPLETED,
    EventType.TASK_FAILED: TaskStatus.FAILED,
    EventType.TASK_CANCELLED: TaskStatus.CANCELLED,
}


def terminal_event(status: TaskStatus) -> EventType:
    """The event that ends a task in `status` (one of the terminal ones)."""
    return next(EventType(event) for event, ends in _ENDS_AS.items() if ends == status)


class Event(BaseModel):
    """One entry of a task's event log; `seq` is 1, 2, 3 … per task with no gaps."""

    task_id: str
    seq: int
    type: str
    data: dict[str, Any]
    time: float

    @property
    def ends_as(self) -> TaskStatus | None:
        """The status its task ends in, when this event ends it (None: it does not)."""
        return _ENDS_AS.get(self.type)

    @property
    def terminal(self) -> bool:
        """Whether its task ends with this event (`EventType.terminal`, for a stored event's
        type, which may be one this release does not know)."""
        return self.ends_as is not None
