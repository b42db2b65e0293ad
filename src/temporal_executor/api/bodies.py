"""The REST API's request and response bodies (DESIGN.md's contract), and the one way a
message with metadata (A2A, the seed's `/a2a/message`) becomes an execute request."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from ..config import ConcurrentMessages, DefaultAgent
from ..errors import RequestError, describe_validation
from ..llm.messages import Message, Usage, UsageReport
from ..spec import (
    MAX_JSON_DEPTH,
    StrictCompaction,
    StrictModelSettings,
    StrictToolSpec,
    ToolSpec,
    json_bounds_problem,
)
from ..tasks import PendingCall, TaskState
from ..tenants import DEFAULT_TENANT
from ..travel import ForkOrigin, ReusedCall, Step
from ..workflows.approval import ApprovalDecision, ToolDecision
from .message_parts import (
    MAX_MESSAGE_CHARS,
    MAX_PARTS,
    InputPart,
    MediaInput,
    TextInput,
    UserMessage,
    has_content,
    message_media,
    message_text,
)

__all__ = [
    "ID_PATTERN",
    "MAX_PARTS",
    "OVERRIDES",
    "A2AContentPart",
    "A2AMessageBody",
    "AnswerRequest",
    "ApprovalPage",
    "ApprovalRequest",
    "ExecuteRequest",
    "ForkAccepted",
    "ForkRequest",
    "InputPart",
    "MediaInput",
    "RerunRequest",
    "Session",
    "TaskBody",
    "TaskPage",
    "TaskReadout",
    "TaskSteps",
    "TaskView",
    "TextInput",
    "bounded_metadata",
    "execute_request",
]

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
# Per-field caps of a request (the whole body is capped by `server.max_body_bytes`): small
# enough that a request cannot make the API, or every LLM call, walk megabytes of nesting.
MAX_TOOLS = 128
MAX_SCHEMA_BYTES = 65_536
MAX_TOOL_CONFIG_BYTES = 16_384
MAX_METADATA_BYTES = 65_536
# Execute fields a message's metadata may set for a new task.
OVERRIDES = frozenset(
    {
        "system_message",
        "model_config",
        "tools",
        "max_iterations",
        "require_approval",
        "approval_timeout",
        "timeout",
        "max_total_tokens",
        "priority",
        "concurrent_messages",
        "max_cost",
        "compaction",
    }
)


class AnswerRequest(BaseModel):
    """Body of `POST /api/v1/tasks/{task_id}/answer`: one list of answers per pending
    question, in order; `id` (optional) is `pending_input.id`, so that an answer meant for
    questions no longer pending is refused (409) rather than taken for the next ones."""

    model_config = ConfigDict(extra="forbid")

    answers: list[list[str]] = Field(min_length=1, max_length=32)
    id: str | None = Field(default=None, min_length=1, max_length=256)


class ToolDecisionRequest(ToolDecision):
    """A decision on one call, as a request gives it: unknown keys refused."""

    model_config = ConfigDict(extra="forbid")


class ApprovalRequest(ApprovalDecision):
    """Body of `POST /api/v1/approve/{workflow_id}`: the decision the task takes as is
    (`ApprovalDecision`), with unknown keys refused, so a typo is an error."""

    model_config = ConfigDict(extra="forbid")

    tool_calls: dict[str, ToolDecisionRequest] = Field(  # type: ignore[assignment]
        default_factory=dict, max_length=128
    )


class ExecuteRequest(BaseModel):
    """Body of `POST /api/v1/execute`, as in the seed. Unknown fields are refused, so a typo
    is an error rather than ignored."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=(), populate_by_name=True)

    task_id: str | None = Field(default=None, pattern=ID_PATTERN)
    session_id: str | None = Field(default=None, pattern=ID_PATTERN)
    # Text, or parts: text, images and files (`TextInput`, `MediaInput`).
    user_message: UserMessage
    system_message: str | None = Field(default=None, max_length=MAX_MESSAGE_CHARS)
    model: StrictModelSettings = Field(alias="model_config")
    tools: list[StrictToolSpec] = Field(default_factory=list, max_length=MAX_TOOLS)
    max_iterations: int | None = Field(default=None, ge=1)
    require_approval: bool | list[str] | None = None
    # Seconds a tool call waits for a decision (then `executor.approval_timeout_action`).
    approval_timeout: float | None = Field(default=None, gt=0, le=366 * 86400)
    # Budgets: the task's wall-clock seconds, and tokens in + out over its LLM calls.
    timeout: float | None = Field(default=None, gt=0, le=366 * 86400)
    max_total_tokens: int | None = Field(default=None, ge=1, le=10**12)
    # US dollars over its LLM calls, by the price table (`llm.prices`).
    max_cost: float | None = Field(default=None, gt=0, le=10**9)
    # How the session's conversation is compacted (None: `executor.compaction`; false: not).
    compaction: StrictCompaction | Literal[False] | None = None
    # The client's id of the user message (A2A's messageId): kept on the transcript's turn.
    message_id: str | None = Field(default=None, min_length=1, max_length=256)
    # 1 (least urgent) to 5 (most urgent); default `executor.priority`.
    priority: int | None = Field(default=None, ge=1, le=5)
    # What this message does when its session has a task that has not ended: refused (409),
    # queued behind it, or that task stops (`interrupt`) or is undone (`rollback`) for this
    # one; default `executor.concurrent_messages`.
    concurrent_messages: ConcurrentMessages | None = None

    @field_validator("user_message")
    @classmethod
    def _parts(cls, message: str | list[TextInput | MediaInput]) -> Any:
        return has_content(message)

    def text(self) -> str:
        """The message's text: its text parts, one per line."""
        return message_text(self.user_message)

    def media(self) -> list[tuple[int, MediaInput]]:
        """The message's images and files, in order, each with its place among the parts."""
        return message_media(self.user_message)

    @field_validator("tools")
    @classmethod
    def _unique_names(cls, tools: list[ToolSpec]) -> list[ToolSpec]:
        names = [t.name for t in tools]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate tool names: {', '.join(duplicates)}")
        for tool in tools:
            for what, value, size in (
                ("parameters", tool.parameters, MAX_SCHEMA_BYTES),
                ("config", tool.config, MAX_TOOL_CONFIG_BYTES),
            ):
                problem = json_bounds_problem(value, max_depth=MAX_JSON_DEPTH, max_bytes=size)
                if problem:
                    raise ValueError(f"tool {tool.name!r}: its {what} is {problem}")
        return tools


def execute_request(
    default: DefaultAgent,
    metadata: Mapping[str, Any],
    *,
    allowed: frozenset[str] | None = OVERRIDES,
    field_names: Callable[[str], str] | None = None,
    **fields: Any,
) -> ExecuteRequest:
    """The request a message stands for: `default` (`a2a.default_agent`), then the execute
    fields its `metadata` sets (those in `allowed`; None: any, unknown ones refused), then
    `fields` (ids and the text). A problem is a `RequestError` naming the field as the caller
    wrote it (`field_names`; default `metadata.<field>`)."""
    data: dict[str, Any] = {
        "system_message": default.system_message,
        "model_config": default.model.model_dump() if default.model else None,
        "tools": [t.model_dump() for t in default.tools],
        "require_approval": default.require_approval,
    }
    data.update({k: v for k, v in metadata.items() if allowed is None or k in allowed})
    data.update(fields)
    if data.get("model_config") is None:
        raise RequestError(
            "no model: set a2a.default_agent.model_config in the server config, or "
            "metadata.model_config in the request"
        )
    name = field_names or (lambda field: f"metadata.{field}")
    try:
        return ExecuteRequest.model_validate(data)
    except ValidationError as exc:
        summary, _ = describe_validation(exc, field=lambda loc: name(".".join(map(str, loc))))
        raise RequestError(summary) from None


A2AContentPart = InputPart


class A2AMessageBody(BaseModel):
    """Body of the seed's simplified `POST /a2a/message`; `metadata` holds the execute fields,
    `content` the message's parts (as `user_message`'s)."""

    model_config = ConfigDict(extra="forbid")

    task_id: str | None = Field(default=None, pattern=ID_PATTERN)
    session_id: str | None = Field(default=None, pattern=ID_PATTERN)
    content: list[InputPart] = Field(min_length=1, max_length=MAX_PARTS)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("metadata")
    @classmethod
    def _small_metadata(cls, metadata: dict[str, Any]) -> dict[str, Any]:
        return bounded_metadata(metadata)


def bounded_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """`metadata`, unless it is over the caps (ValueError)."""
    problem = json_bounds_problem(metadata, max_depth=MAX_JSON_DEPTH, max_bytes=MAX_METADATA_BYTES)
    if problem:
        raise ValueError(f"metadata is {problem}")
    return metadata


class TaskView(TaskState):
    """A task's state as the API shows it: its usage (in all and by model) with what is not
    known as null (`Usage.report`)."""

    usage: UsageReport  # type: ignore[assignment]
    usage_by_model: dict[str, UsageReport] = Field(default_factory=dict)  # type: ignore[assignment]

    @field_validator("usage", mode="before")
    @classmethod
    def _report(cls, usage: Any) -> Any:
        return usage.report() if isinstance(usage, Usage) else usage

    @field_validator("usage_by_model", mode="before")
    @classmethod
    def _report_each(cls, by_model: Any) -> Any:
        if not isinstance(by_model, dict):
            return by_model
        return {k: u.report() if isinstance(u, Usage) else u for k, u in by_model.items()}


class TaskBody(TaskView):
    """`GET /api/v1/tasks/{id}` (and `?wait=true`): the task's state, its workflow in the
    Temporal UI when the UI's address is known (`temporal.ui_url`, set by `dev`), and the
    tenant it belongs to."""

    temporal_ui_url: str | None = None
    tenant: str = DEFAULT_TENANT


class Session(BaseModel):
    """`GET /api/v1/sessions/{id}`: the session's tasks (its turns), transcript (a summary
    of earlier messages marked by its `summary`, see README "Context compaction") and usage."""

    session_id: str
    tasks: list[TaskView]
    messages: list[Message]
    usage: UsageReport


class TaskReadout(TaskBody):
    """`GET /api/v1/tasks/{task_id}`: the task, and whether it was read from the store alone
    while Temporal could not be reached (`stale`: it may be behind the workflow); the task
    it was forked from, if it was, and its own forks (their ids, oldest first)."""

    stale: bool = False
    forked_from: ForkOrigin | None = None
    forks: list[str] = Field(default_factory=list)


class TaskSteps(BaseModel):
    """`GET /api/v1/tasks/{task_id}/steps`: its LLM and tool calls, numbered as they ran."""

    task_id: str
    steps: list[Step]


class RerunRequest(BaseModel):
    """Body of `POST /api/v1/tasks/{task_id}/rerun` (optional): the new task's id and its
    session (default: a new one, named as the task)."""

    model_config = ConfigDict(extra="forbid")

    task_id: str | None = Field(default=None, pattern=ID_PATTERN)
    session_id: str | None = Field(default=None, pattern=ID_PATTERN)


class ForkRequest(RerunRequest):
    """Body of `POST /api/v1/tasks/{task_id}/fork`: the step to run anew (its steps before
    are reused as recorded), and the edits."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=(), populate_by_name=True)

    at_step: int = Field(ge=1, le=1_000_000)
    user_message: str | None = Field(default=None, min_length=1, max_length=MAX_MESSAGE_CHARS)
    model: StrictModelSettings | None = Field(default=None, alias="model_config")
    tool_result_overrides: dict[str, str] = Field(default_factory=dict, max_length=MAX_TOOLS)

    @field_validator("tool_result_overrides")
    @classmethod
    def _bounded(cls, overrides: dict[str, str]) -> dict[str, str]:
        for call, content in overrides.items():
            if len(call) > 256 or len(content) > MAX_MESSAGE_CHARS:
                raise ValueError(f"{call[:64]!r}: a call id or content over its bound")
        return overrides


class ForkAccepted(BaseModel):
    """A fork (or re-run) started: the new task, where it came from, and the recorded calls
    it reuses rather than makes again."""

    task_id: str
    workflow_id: str
    session_id: str
    status: str
    forked_from: ForkOrigin
    reused: list[ReusedCall]


class TaskPage(BaseModel):
    """`GET /api/v1/tasks`: one page of tasks, oldest first."""

    tasks: list[TaskBody]
    next_offset: int | None = None


class ApprovalPage(BaseModel):
    """`GET /api/v1/approvals`: one page of the tool calls waiting for a decision, newest
    first."""

    approvals: list[PendingCall]
    next_offset: int | None = None
