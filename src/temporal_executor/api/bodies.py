"""The REST API's request and response bodies (DESIGN.md's contract), and the one way a
message with metadata (A2A, the seed's `/a2a/message`) becomes an execute request."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from ..config import DefaultAgent
from ..config.section import MEDIA_TYPE_PATTERN
from ..errors import RequestError, describe_validation
from ..llm.messages import Message, Usage
from ..spec import (
    MAX_JSON_DEPTH,
    StrictModelSettings,
    StrictToolSpec,
    ToolSpec,
    json_bounds_problem,
)
from ..tasks import PendingCall, TaskState
from ..tenants import DEFAULT_TENANT
from ..workflows.approval import ApprovalDecision, ToolDecision

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
    "InputPart",
    "MediaInput",
    "Session",
    "TaskBody",
    "TaskPage",
    "TaskReadout",
    "TextInput",
    "bounded_metadata",
    "execute_request",
]

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
# Per-field caps of a request (the whole body is capped by `server.max_body_bytes`): small
# enough that a request cannot make the API, or every LLM call, walk megabytes of nesting.
MAX_MESSAGE_CHARS = 1_000_000
MAX_TOOLS = 128
MAX_SCHEMA_BYTES = 65_536
MAX_TOOL_CONFIG_BYTES = 16_384
MAX_METADATA_BYTES = 65_536
MAX_PARTS = 64
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


class TextInput(BaseModel):
    """A text part of a user message (the seed's content style)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["text"]
    text: str = Field(max_length=MAX_MESSAGE_CHARS)


class MediaInput(BaseModel):
    """An image or a file of a user message: its content inline (`data`, base64, with its
    `media_type`) or at an http(s) `url`, fetched when the task is submitted."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["image", "file"]
    data: str | None = Field(default=None, min_length=1, repr=False)
    url: str | None = Field(default=None, min_length=1, max_length=8192, pattern=r"^https?://")
    media_type: str | None = Field(default=None, pattern=MEDIA_TYPE_PATTERN)
    name: str | None = Field(default=None, min_length=1, max_length=255)

    @model_validator(mode="after")
    def _one_source(self) -> MediaInput:
        if (self.data is None) == (self.url is None):
            raise ValueError("give the content as data (base64) or url, one of them")
        if self.data is not None and self.media_type is None:
            raise ValueError("media_type is required with data")
        if self.type == "image" and self.media_type and not self.media_type.startswith("image/"):
            raise ValueError(f"an image's media_type is image/..., not {self.media_type}")
        if self.data is not None:
            try:
                base64.b64decode(self.data, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("data is not base64") from None
        return self

    def content(self) -> bytes | None:
        """The inline content, decoded (None: it is at `url`)."""
        return None if self.data is None else base64.b64decode(self.data)


InputPart = Annotated[TextInput | MediaInput, Field(discriminator="type")]
# A user message: text, or a list of parts (errors then name the part: `user_message.0.url`).
UserMessage = Annotated[
    Annotated[str, Tag("text"), Field(min_length=1, max_length=MAX_MESSAGE_CHARS)]
    | Annotated[list[InputPart], Tag("parts"), Field(min_length=1, max_length=MAX_PARTS)],
    Discriminator(lambda value: "text" if isinstance(value, str) else "parts"),
]


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
    # The client's id of the user message (A2A's messageId): kept on the transcript's turn.
    message_id: str | None = Field(default=None, min_length=1, max_length=256)

    @field_validator("user_message")
    @classmethod
    def _parts(cls, message: str | list[TextInput | MediaInput]) -> Any:
        if isinstance(message, list):
            if not any(isinstance(p, MediaInput) or p.text.strip() for p in message):
                raise ValueError("the message has no content")
        return message

    def text(self) -> str:
        """The message's text: its text parts, one per line."""
        if isinstance(self.user_message, str):
            return self.user_message
        return "\n".join(p.text for p in self.user_message if isinstance(p, TextInput))

    def media(self) -> list[tuple[int, MediaInput]]:
        """The message's images and files, in order, each with its place among the parts."""
        if isinstance(self.user_message, str):
            return []
        return [(n, p) for n, p in enumerate(self.user_message) if isinstance(p, MediaInput)]

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


class TaskBody(TaskState):
    """`GET /api/v1/tasks/{id}` (and `?wait=true`): the task's state, its workflow in the
    Temporal UI when the UI's address is known (`temporal.ui_url`, set by `dev`), and the
    tenant it belongs to."""

    temporal_ui_url: str | None = None
    tenant: str = DEFAULT_TENANT


class Session(BaseModel):
    """`GET /api/v1/sessions/{id}`: the session's tasks (its turns), transcript and usage."""

    session_id: str
    tasks: list[TaskState]
    messages: list[Message]
    usage: Usage


class TaskReadout(TaskBody):
    """`GET /api/v1/tasks/{task_id}`: the task, and whether it was read from the store alone
    while Temporal could not be reached (`stale`: it may be behind the workflow)."""

    stale: bool = False


class TaskPage(BaseModel):
    """`GET /api/v1/tasks`: one page of tasks, oldest first."""

    tasks: list[TaskBody]
    next_offset: int | None = None


class ApprovalPage(BaseModel):
    """`GET /api/v1/approvals`: one page of the tool calls waiting for a decision, newest
    first."""

    approvals: list[PendingCall]
    next_offset: int | None = None
