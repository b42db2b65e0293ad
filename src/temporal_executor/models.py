"""The data that crosses a boundary: request bodies, the internal message format, activity and
workflow inputs and results, task state and events.

Everything here is a pydantic model so that the API validates it and Temporal's pydantic data
converter carries it through workflow history unchanged.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

__all__ = [
    "A2AContentPart",
    "A2AMessageBody",
    "AgentCarry",
    "AgentInput",
    "ApprovalDecision",
    "ApproveBody",
    "Event",
    "EventType",
    "ExecuteRequest",
    "ExpandToolsInput",
    "LLMCallInput",
    "LLMRequest",
    "LLMResponse",
    "Message",
    "ModelSettings",
    "OpenSessionInput",
    "PendingApproval",
    "PublishEventInput",
    "RetrySettings",
    "SaveStateInput",
    "Session",
    "StreamChunk",
    "TaskError",
    "TaskPage",
    "TaskPolicies",
    "TaskResult",
    "TaskState",
    "TaskStatus",
    "ToolCall",
    "ToolCallInput",
    "ToolDecision",
    "ToolDefinition",
    "ToolResult",
    "ToolSpec",
    "Usage",
]

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
TOOL_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class _Strict(BaseModel):
    """Rejects unknown fields, so a typo in a request is an error rather than ignored."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())


# --- request bodies ------------------------------------------------------------------------


class ModelSettings(_Strict):
    """`model_config` of a request: which provider and model, and sampling parameters.

    There is deliberately no `base_url` or key here: endpoints and secrets come from server
    config only, so a caller cannot send our API keys elsewhere.
    """

    provider: str = Field(min_length=1, max_length=64)
    model: str = Field(min_length=1, max_length=256)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    top_p: float | None = Field(default=None, gt=0, le=1)
    stop: list[str] | None = Field(default=None, max_length=4)
    response_format: dict[str, Any] | None = None
    stream: bool = True


class ToolSpec(_Strict):
    """A tool the LLM may call; `type` picks the implementation, `config` is its settings."""

    name: str = Field(pattern=TOOL_NAME_PATTERN)
    description: str = Field(default="", max_length=8192)
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    type: str = Field(default="http", min_length=1, max_length=64)
    config: dict[str, Any] = Field(default_factory=dict)

    @field_validator("parameters")
    @classmethod
    def _object_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("type", "object") != "object":
            raise ValueError('must be a JSON Schema with "type": "object"')
        if "properties" in value and not isinstance(value["properties"], dict):
            raise ValueError('"properties" must be an object')
        return value


class ExecuteRequest(_Strict):
    """Body of `POST /api/v1/execute`, as in the seed."""

    task_id: str | None = Field(default=None, pattern=ID_PATTERN)
    session_id: str | None = Field(default=None, pattern=ID_PATTERN)
    user_message: str = Field(min_length=1, max_length=1_000_000)
    system_message: str | None = Field(default=None, max_length=1_000_000)
    model: ModelSettings = Field(alias="model_config")
    tools: list[ToolSpec] = Field(default_factory=list, max_length=128)
    max_iterations: int | None = Field(default=None, ge=1)
    require_approval: bool | list[str] | None = None
    # The client's id of the user message (A2A's messageId): kept on the transcript's turn.
    message_id: str | None = Field(default=None, min_length=1, max_length=256)

    model_config = ConfigDict(extra="forbid", protected_namespaces=(), populate_by_name=True)

    @field_validator("tools")
    @classmethod
    def _unique_names(cls, tools: list[ToolSpec]) -> list[ToolSpec]:
        names = [t.name for t in tools]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate tool names: {', '.join(duplicates)}")
        return tools


class ToolDecision(_Strict):
    approved: bool
    reason: str | None = Field(default=None, max_length=8192)


class ApproveBody(_Strict):
    """Body of `POST /api/v1/approve/{workflow_id}`: `approved` decides every pending call;
    `tool_calls` (by call id) decides calls one by one and overrides `approved` for them."""

    approved: bool | None = None
    reason: str | None = Field(default=None, max_length=8192)
    tool_calls: dict[str, ToolDecision] = Field(default_factory=dict, max_length=128)

    @model_validator(mode="after")
    def _something_decided(self) -> ApproveBody:
        if self.approved is None and not self.tool_calls:
            raise ValueError('give "approved", or a decision per call in "tool_calls"')
        return self


# --- the internal message format -----------------------------------------------------------


class ToolCall(BaseModel):
    """A call the LLM asked for. `arguments_error` is set when the LLM sent unparsable JSON."""

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    arguments_error: str | None = None

    @model_serializer(mode="wrap")
    def _omit_no_error(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("arguments_error") is None:
            data.pop("arguments_error", None)
        return data


class Message(BaseModel):
    """One message of a conversation, provider-neutral; providers convert at their edge."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False
    content_ref: str | None = None
    id: str | None = None  # a user turn's client-given id (A2A messageId); never sent to LLMs


class Usage(BaseModel):
    """Token counts; `cache_read_tokens` / `cache_creation_tokens` where the vendor reports
    prompt caching (they are part of, not added to, `prompt_tokens`)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(**{k: getattr(self, k) + getattr(other, k) for k in Usage.model_fields})


class ToolDefinition(BaseModel):
    """What the LLM sees of a tool."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)


class LLMRequest(BaseModel):
    model: str
    messages: list[Message]
    tools: list[ToolDefinition] = Field(default_factory=list)
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    stop: list[str] | None = None
    response_format: dict[str, Any] | None = None

    model_config = ConfigDict(protected_namespaces=())


class LLMResponse(BaseModel):
    message: Message
    usage: Usage = Field(default_factory=Usage)
    finish_reason: str | None = None


class StreamChunk(BaseModel):
    """One item of `Provider.chat_stream`: a text delta, and finally the whole response."""

    text: str = ""
    response: LLMResponse | None = None


# --- workflow and activity inputs ----------------------------------------------------------


class RetrySettings(BaseModel):
    max_attempts: int = Field(default=5, ge=1)
    initial_interval: float = Field(default=1.0, gt=0)
    backoff_coefficient: float = Field(default=2.0, ge=1)
    maximum_interval: float = Field(default=60.0, gt=0)


class TaskPolicies(BaseModel):
    """Timeouts (seconds) and retries, fixed at submission so that replays see the same."""

    llm_timeout: float = 120.0
    tool_timeout: float = 60.0
    heartbeat_timeout: float = 30.0
    task_timeout: float = 3600.0
    history_limit: int = 10_000
    inline_bytes: int = 65_536
    max_content_bytes: int = 1_048_576
    llm_retry: RetrySettings = Field(default_factory=RetrySettings)
    tool_retry: RetrySettings = Field(default_factory=lambda: RetrySettings(max_attempts=3))


class AgentCarry(BaseModel):
    """What a run hands to the next when it continues as new: the loop's whole state."""

    state: TaskState
    seq: int
    stored_messages: int
    unsaved: list[Message]
    tools: list[ToolSpec]
    started: float


class AgentInput(BaseModel):
    """Input of `AgentExecutionWorkflow`: the request with every default resolved.
    `expand_tools` is set when a spec stands for several tools (a whole MCP server)."""

    task_id: str
    session_id: str
    user_message: str
    user_message_id: str | None = None
    system_message: str | None = None
    model: ModelSettings
    tools: list[ToolSpec] = Field(default_factory=list)
    max_iterations: int
    require_approval: bool | list[str] = False
    expand_tools: bool = False
    policies: TaskPolicies = Field(default_factory=TaskPolicies)
    carry: AgentCarry | None = None

    model_config = ConfigDict(protected_namespaces=())


class LLMCallInput(BaseModel):
    """Input of `invoke_llm`. Only the messages that are new since the previous call travel
    through history; the activity appends them to the stored transcript and reads it whole."""

    task_id: str
    conversation: str
    call_key: str
    first_index: int
    new_messages: list[Message]
    inline_bytes: int = 65_536
    max_content_bytes: int = 1_048_576
    model: ModelSettings
    tools: list[ToolDefinition] = Field(default_factory=list)

    model_config = ConfigDict(protected_namespaces=())


class ToolCallInput(BaseModel):
    task_id: str
    call: ToolCall
    spec: ToolSpec
    inline_bytes: int = 65_536


class ExpandToolsInput(BaseModel):
    task_id: str
    tools: list[ToolSpec]


class ToolResult(BaseModel):
    """A tool call's result; a large `content` is a preview and `content_ref` names the whole,
    kept in the event store."""

    tool_call_id: str
    name: str
    content: str
    is_error: bool = False
    content_ref: str | None = None

    def message(self) -> Message:
        """The result as the `tool` message the LLM gets next."""
        return Message(role="tool", **self.model_dump())


class PublishEventInput(BaseModel):
    task_id: str
    key: str
    type: str
    data: dict[str, Any] = Field(default_factory=dict)


class ApprovalDecision(BaseModel):
    """Update / signal argument: `approved` for every pending call, `tool_calls` per call id.

    `message` is what the user said instead of (or with) deciding: the model reads it as a
    user turn after the tool results; `message_id` is the client's id of that message."""

    approved: bool | None = None
    reason: str | None = None
    tool_calls: dict[str, ToolDecision] = Field(default_factory=dict)
    message: str | None = None
    message_id: str | None = None

    def problem(self, pending: list[ToolCall]) -> str | None:
        """Why this decision cannot settle `pending`, or None when it can."""
        ids = {call.id for call in pending}
        unknown = sorted(set(self.tool_calls) - ids)
        if unknown:
            return f"no pending tool call with id {', '.join(unknown)}"
        if self.approved is None and ids - set(self.tool_calls):
            missing = ", ".join(sorted(ids - set(self.tool_calls)))
            return f"no decision for pending tool call {missing}"
        return None

    def for_call(self, call_id: str) -> ToolDecision:
        decided = self.tool_calls.get(call_id)
        if decided is not None:
            return decided
        return ToolDecision(approved=bool(self.approved), reason=self.reason)


# --- task state and events -----------------------------------------------------------------


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
    """What `GET /api/v1/tasks/{id}` returns, and what the workflow's `state` query answers."""

    task_id: str
    session_id: str
    status: TaskStatus = TaskStatus.RUNNING
    result: TaskResult | None = None
    usage: Usage = Field(default_factory=Usage)
    iterations: int = 0
    pending_approval: PendingApproval | None = None
    error: TaskError | None = None


class OpenSessionInput(BaseModel):
    session_id: str
    task_id: str


class SaveStateInput(BaseModel):
    """Input of `save_state`: the task's state and transcript messages not yet stored."""

    state: TaskState
    first_index: int = 0
    messages: list[Message] = Field(default_factory=list)


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


class A2AContentPart(BaseModel):
    type: Literal["text"]
    text: str = Field(max_length=1_000_000)


class A2AMessageBody(_Strict):
    """Body of the seed's simplified `POST /a2a/message`; `metadata` holds the execute fields."""

    task_id: str | None = Field(default=None, pattern=ID_PATTERN)
    session_id: str | None = Field(default=None, pattern=ID_PATTERN)
    content: list[A2AContentPart] = Field(min_length=1, max_length=64)
    metadata: dict[str, Any] = Field(default_factory=dict)


class Session(BaseModel):
    """`GET /api/v1/sessions/{id}`: the session's tasks (its turns), transcript and usage."""

    session_id: str
    tasks: list[TaskState]
    messages: list[Message]
    usage: Usage


class TaskPage(BaseModel):
    """`GET /api/v1/tasks`: one page of tasks, oldest first."""

    tasks: list[TaskState]
    next_offset: int | None = None
