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
    ValidationInfo,
    model_serializer,
    model_validator,
)

from ..spec import Sampling
from ..versioned import Payload, Versioned

__all__ = [
    "LLMRequest",
    "LLMResponse",
    "Message",
    "NativeTurn",
    "Part",
    "Reasoning",
    "StreamChunk",
    "Summary",
    "ToolCall",
    "ToolDefinition",
    "Usage",
    "UsageReport",
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


class Summary(Payload):
    """What a summary message of a session's transcript stands for (context compaction,
    `llm/compaction.py`): the messages from index `first` up to, not including, `end`,
    summarized by `model` ("provider/model"; None: they were dropped, and the message has no
    text). It supersedes the summaries before it."""

    first: int
    end: int
    model: str | None = None


class Message(Payload):
    """One message of a conversation, provider-neutral; providers convert at their edge.
    `content` is its text; `parts` what else it holds (images, files …), in order; an
    assistant message of a reasoning model carries its `reasoning`. A message with a
    `summary` stands for earlier ones (context compaction): it is sent in their place."""

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
    summary: Summary | None = None


class Usage(Payload):
    """Token counts; `cache_read_tokens` / `cache_creation_tokens` where the vendor reports
    prompt caching (they are part of, not added to, `prompt_tokens`).

    Summed over calls, it also counts what is not known: `unreported`, the calls whose server
    reported no usage (an OpenAI-compatible server that streams none: their tokens are not in
    the counts, which are then a lower bound), and `unpriced`, the calls whose cost is not in
    `cost` (no price configured for the model, or no usage reported). `cost` is in US dollars
    (`llm.prices`). `report()` is how the API shows it: unknown as null, never as 0."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    unreported: int = 0
    unpriced: int = 0
    cost: float = 0.0

    @model_validator(mode="before")
    @classmethod
    def _unpriced_before_costs(cls, data: Any, info: ValidationInfo) -> Any:
        # Usage written before costs were counted (release 0.1.0, or one of its workers in a
        # rolling upgrade) has no `cost`: what it counts had no price.
        written = info.mode == "json" or (info.context or {}).get("decoding", False)
        if written and isinstance(data, dict) and "cost" not in data:
            if any(data.get(key) for key in _TOKEN_FIELDS) and not data.get("unpriced"):
                return {**data, "unpriced": 1}
        return data

    @classmethod
    def unknown(cls) -> Usage:
        """One call's, when its server reported none."""
        return cls(unreported=1, unpriced=1)

    def __add__(self, other: Usage) -> Usage:
        return Usage(**{k: getattr(self, k) + getattr(other, k) for k in Usage.model_fields})

    def report(self) -> UsageReport:
        """As the API shows it: the token counts null when a call did not report its usage,
        the cost null when a call's cost is not known."""
        known = self.unreported == 0
        tokens = {key: getattr(self, key) if known else None for key in _TOKEN_FIELDS}
        cost = round(self.cost, 9) if self.unpriced == 0 else None
        return UsageReport(**tokens, unreported=self.unreported, cost=cost)


_TOKEN_FIELDS = (
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
)


class UsageReport(BaseModel):
    """Usage as the API shows it (REST, A2A, events): a token count is null ("unknown") when
    `unreported` calls reported no usage (the counts the others reported are not shown as if
    they were all); `cost` (US dollars) is null when a call had no price in `llm.prices` or
    reported no usage."""

    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None
    cache_read_tokens: int | None
    cache_creation_tokens: int | None
    unreported: int = 0
    cost: float | None = None

    @classmethod
    def of(cls, data: dict[str, Any]) -> UsageReport:
        """An event's `usage` (this version's report; a count an earlier release did not
        write is 0)."""
        return cls.model_validate({**dict.fromkeys(_TOKEN_FIELDS, 0), **data})


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
    session (a digest of its id), for vendors that route prompt caching by a key."""

    model_config = ConfigDict(protected_namespaces=())

    model: str
    messages: list[Message]
    tools: list[ToolDefinition] = Field(default_factory=list)
    sampling: Sampling = Field(default_factory=Sampling)
    reasoning: dict[str, NativeTurn] = Field(default_factory=dict)
    cache_key: str | None = None

    def native(self, message: Message, kind: str) -> list[dict[str, Any]] | None:
        """The native turn of `message` in the vendor format `kind`, if it is to be sent."""
        reasoning = message.reasoning
        turn = self.reasoning.get(reasoning.blob) if reasoning is not None else None
        return turn.items if turn is not None and turn.kind == kind else None


class LLMResponse(Versioned):
    """The model's answer. `native` (never serialized, so never in history) is the vendor's
    whole turn when it holds reasoning to send back, for `invoke_llm` to keep."""

    message: Message
    usage: Usage = Field(default_factory=Usage)
    finish_reason: str | None = None
    native: NativeTurn | None = Field(default=None, exclude=True)


class StreamChunk(BaseModel):
    """One item of `Provider.chat_stream`: a text delta, a reasoning summary delta
    (`reasoning`), and finally the whole response."""

    text: str = ""
    reasoning: str = ""
    response: LLMResponse | None = None
