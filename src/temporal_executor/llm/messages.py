"""The provider-neutral LLM format: messages, tool calls, usage, and a request (with its
`Sampling`, from `spec.py`) and its response. Every provider converts to and from its vendor's
wire format at its own edge; nothing else knows a vendor's format.

Messages, calls, usage and responses are part of what a running task carries (history, the
stored transcript): `Payload`s, see `versioned.py`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from ..spec import Sampling
from ..versioned import Payload, Versioned

__all__ = [
    "Artifact",
    "LLMRequest",
    "LLMResponse",
    "Message",
    "NativeTurn",
    "Part",
    "Reasoning",
    "StreamChunk",
    "ToolCall",
    "ToolDefinition",
    "Usage",
]


class ToolCall(Payload):
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


class Part(Payload):
    """A part of a message that is not its text: an image, a file (a PDF …), audio, or
    structured data. Its bytes live in the store's blobs under `blob` (never in workflow
    history); `url` says where it came from, when it came from one; `data` holds the value of a
    `data` part (small JSON)."""

    type: Literal["image", "file", "audio", "data"]
    media_type: str
    name: str | None = None
    blob: str | None = None
    url: str | None = None
    size: int | None = None
    data: Any = None

    def label(self) -> str:
        """How a text names it: `image chart.png (image/png, 1234 bytes)`."""
        name = f" {self.name}" if self.name else ""
        size = f", {self.size} bytes" if self.size is not None else ""
        return f"{self.type}{name} ({self.media_type}{size})"


class Artifact(Part):
    """Something a task made for its client: a tool's image or file (`tool_call_id` says
    which call's), a link a tool gave (`url`, no content), or structured data (a tool's
    structured result, an answer under a JSON-schema `response_format`). Its content is in
    the store's blobs under `blob` (for `data`, its JSON), downloaded from
    `GET /api/v1/tasks/{task_id}/artifacts/{artifact_id}`; the task's state lists it without
    the content, the `artifact.created` event carries small contents whole."""

    artifact_id: str
    tool_call_id: str | None = None


class Reasoning(Payload):
    """What a reasoning model must get back, verbatim, to go on reasoning across tool calls
    (Anthropic's thinking blocks with their signatures, Gemini's thought signatures, OpenAI
    Responses' reasoning items): the vendor's whole assistant turn, kept in the store's blobs
    under `blob`. Sent back only to the model that wrote it (`source`, "provider/model"), and
    not when a person edited the turn's tool calls (`edited`)."""

    source: str
    kind: str  # the vendor format of the blob: "anthropic", "gemini", "openai-responses"
    blob: str
    edited: bool = False


class Message(Payload):
    """One message of a conversation, provider-neutral; providers convert at their edge.
    `content` is its text; `parts` what else it holds (images, files …), in order; an
    assistant message of a reasoning model carries its `reasoning`."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False
    content_ref: str | None = None
    parts: list[Part] = Field(default_factory=list)
    reasoning: Reasoning | None = None
    id: str | None = None  # a user turn's client-given id (A2A messageId); never sent to LLMs


class Usage(Payload):
    """Token counts; `cache_read_tokens` / `cache_creation_tokens` where the vendor reports
    prompt caching (they are part of, not added to, `prompt_tokens`)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(**{k: getattr(self, k) + getattr(other, k) for k in Usage.model_fields})


class ToolDefinition(Payload):
    """What the LLM sees of a tool."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)


class NativeTurn(Payload):
    """A vendor's whole assistant turn as it came, in its own JSON (`kind`: "anthropic" content
    blocks, "gemini" parts, "openai-responses" output items), when it holds what the vendor
    needs back to go on reasoning. Never in workflow history: `invoke_llm` keeps it in the
    store's blobs, and the message gets a `Reasoning` naming it. (A `Payload` all the same,
    as everything an `LLMResponse` holds.)"""

    kind: str
    items: list[dict[str, Any]]


class LLMRequest(BaseModel):
    """One call: the model's name, the whole conversation, the tools, the sampling.

    `reasoning` holds the native turns behind the messages' `Reasoning` (by its `blob`), as
    `invoke_llm` loaded them: only those written by this very model, unedited; an adapter
    sends a turn back in its own form only when it is here. `cache_key` is stable for a
    session (a digest of its id), for vendors that route prompt caching by a key. `media`
    holds the content of the messages' parts (base64, by `Part.blob`), read from the store
    before the call, so that adapters never touch the store."""

    model_config = ConfigDict(protected_namespaces=())

    model: str
    messages: list[Message]
    tools: list[ToolDefinition] = Field(default_factory=list)
    sampling: Sampling = Field(default_factory=Sampling)
    reasoning: dict[str, NativeTurn] = Field(default_factory=dict)
    cache_key: str | None = None
    media: dict[str, str] = Field(default_factory=dict, repr=False)

    def native(self, message: Message, kind: str) -> list[dict[str, Any]] | None:
        """The native turn of `message` in the vendor format `kind`, if it is to be sent."""
        reasoning = message.reasoning
        turn = self.reasoning.get(reasoning.blob) if reasoning is not None else None
        return turn.items if turn is not None and turn.kind == kind else None

    def content_of(self, part: Part) -> str:
        """The base64 content of `part` (`media` holds every part a message sends)."""
        return self.media[part.blob or ""]


class LLMResponse(Versioned):
    """The model's answer. `native` (never serialized, so never in history) is the vendor's
    whole turn when it holds reasoning to send back, for `invoke_llm` to keep; `artifacts` is
    what `invoke_llm` made of it for the task (a structured answer's data), never set by a
    provider."""

    message: Message
    usage: Usage = Field(default_factory=Usage)
    finish_reason: str | None = None
    native: NativeTurn | None = Field(default=None, exclude=True)
    artifacts: list[Artifact] = Field(default_factory=list)


class StreamChunk(BaseModel):
    """One item of `Provider.chat_stream`: a text delta, a reasoning summary delta
    (`reasoning`), and finally the whole response."""

    text: str = ""
    reasoning: str = ""
    response: LLMResponse | None = None
