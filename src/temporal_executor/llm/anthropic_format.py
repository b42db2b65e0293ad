"""Our LLM format and the Anthropic Messages API's: request messages and tools, a streamed
reply assembled from its events, the whole turn kept for thinking, usage counts, finish
reasons (see `anthropic.py` for what the conversion does beyond renaming fields)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from anthropic.types import (
    MessageParam,
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStreamEvent,
    TextBlockParam,
    ToolParam,
    ToolResultBlockParam,
)

from ..spec import Sampling, ToolChoiceName
from .messages import LLMRequest, Message, Usage

__all__ = [
    "FINISH_REASONS",
    "KIND",
    "THINKING_BLOCKS",
    "Block",
    "StreamReply",
    "counts",
    "knob_params",
    "mark_cache",
    "native_blocks",
    "output_format",
    "replays_thinking",
    "request_messages",
    "tool_param",
    "usage",
]

KIND = "anthropic"  # `NativeTurn.kind` of a Messages API turn: its content blocks
THINKING_BLOCKS = frozenset({"thinking", "redacted_thinking"})
_EPHEMERAL = {"type": "ephemeral"}

logger = logging.getLogger(__name__)

_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
}
_USAGE_KEYS = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)


@dataclass
class Block:
    """A content block of a streamed reply: its text, thinking or tool input in `parts`; a
    thinking block's `signature`, a redacted one's `data`."""

    kind: str
    id: str = ""
    name: str = ""
    parts: list[str] = field(default_factory=list)
    signature: str = ""
    data: str = ""

    def param(self) -> dict[str, Any] | None:
        """The block as it goes back to the API (None: a block we do not send back)."""
        text = "".join(self.parts)
        if self.kind == "thinking":
            return {"type": "thinking", "thinking": text, "signature": self.signature}
        if self.kind == "redacted_thinking":
            return {"type": "redacted_thinking", "data": self.data}
        if self.kind == "text":
            return {"type": "text", "text": text} if text else None
        if self.kind == "tool_use":
            try:
                arguments = json.loads(text) if text.strip() else {}
            except ValueError:
                arguments = {}
            return {"type": "tool_use", "id": self.id, "name": self.name, "input": arguments}
        return None


@dataclass
class StreamReply:
    """The streamed reply so far: content blocks by index, stop reason, usage counts."""

    blocks: dict[int, Block] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=dict)
    stop_reason: str | None = None
    refusal: object = None
    stopped: bool = False

    def add(self, event: RawMessageStreamEvent) -> tuple[str, str]:
        """Take one stream event; return its text delta and its thinking delta ("" if none)."""
        # The SDK builds unknown event types as the first model of its union, so test `type`.
        if event.type == "message_start" and isinstance(event, RawMessageStartEvent):
            self._count(getattr(event.message, "usage", None))
        elif event.type == "content_block_start" and isinstance(event, RawContentBlockStartEvent):
            return self._start(event)
        elif event.type == "content_block_delta" and isinstance(event, RawContentBlockDeltaEvent):
            delta = event.delta
            if delta.type == "text_delta":
                text = getattr(delta, "text", None) or ""
                self.blocks.setdefault(event.index, Block("text")).parts.append(text)
                return text, ""
            if delta.type == "input_json_delta":
                piece = getattr(delta, "partial_json", None) or ""
                self.blocks.setdefault(event.index, Block("tool_use")).parts.append(piece)
            elif delta.type == "thinking_delta":
                thought = getattr(delta, "thinking", None) or ""
                self.blocks.setdefault(event.index, Block("thinking")).parts.append(thought)
                return "", thought
            elif delta.type == "signature_delta":
                block = self.blocks.setdefault(event.index, Block("thinking"))
                block.signature += getattr(delta, "signature", None) or ""
        elif event.type == "message_delta" and isinstance(event, RawMessageDeltaEvent):
            self.stop_reason = event.delta.stop_reason or self.stop_reason
            self.refusal = event.delta.stop_details or self.refusal
            self._count(event.usage)
        elif event.type == "message_stop":
            self.stopped = True
        return "", ""

    def _start(self, event: RawContentBlockStartEvent) -> tuple[str, str]:
        block = event.content_block
        started = Block(
            kind=block.type,
            id=getattr(block, "id", ""),
            name=getattr(block, "name", ""),
            signature=getattr(block, "signature", None) or "",
            data=getattr(block, "data", None) or "",
        )
        self.blocks[event.index] = started
        field_name = {"text": "text", "thinking": "thinking"}.get(block.type)
        text = getattr(block, field_name, None) if field_name else None
        if not isinstance(text, str) or not text:
            return "", ""
        started.parts.append(text)
        return (text, "") if block.type == "text" else ("", text)

    def native(self) -> list[dict[str, Any]] | None:
        """The whole turn, when it holds thinking to send back."""
        blocks = [self.blocks[i] for i in sorted(self.blocks)]
        return native_blocks([b.param() for b in blocks], [b.kind for b in blocks])

    def _count(self, usage: object) -> None:
        # Counts are cumulative: a later event's count replaces an earlier one.
        self.usage |= counts(usage)


def request_messages(request: LLMRequest) -> tuple[str, list[MessageParam]]:
    """The `system` text and the `messages` list for the request. An assistant message
    whose turn this model wrote (with its thinking) goes back as that turn, verbatim."""
    system: list[str] = []
    out: list[MessageParam] = []
    results: list[ToolResultBlockParam] = []
    for message in request.messages:
        if message.role == "tool":
            results.append(_tool_result(message))
            continue
        if results:
            out.append({"role": "user", "content": results})
            results = []
        text = message.content if message.content and message.content.strip() else None
        native = request.native(message, KIND) if message.role == "assistant" else None
        if message.role == "system" and text:
            system.append(text)
        elif message.role == "user" and text:
            out.append({"role": "user", "content": text})
        elif native:
            turn: list[Any] = list(native)
            out.append({"role": "assistant", "content": turn})
        elif message.role == "assistant" and (text or message.tool_calls):
            blocks: list[Any] = [{"type": "text", "text": text}] if text else []
            blocks += [
                {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
                for c in message.tool_calls
            ]
            out.append({"role": "assistant", "content": blocks})
    if results:
        out.append({"role": "user", "content": results})
    return "\n\n".join(system), out


def replays_thinking(messages: list[MessageParam]) -> bool:
    """Whether the request meets the API's rule for thinking with tools: when it ends with
    tool results, the assistant turn they answer starts with its thinking (not so when that
    turn came from another model, or a person edited its calls: its thinking is not sent)."""
    for message in reversed(messages):
        content = message["content"]
        if message["role"] == "assistant":
            first = content[0] if isinstance(content, list) and content else None
            return isinstance(first, dict) and first.get("type") in THINKING_BLOCKS
        if not isinstance(content, list) or not any(
            isinstance(b, dict) and b.get("type") == "tool_result" for b in content
        ):
            return True  # the conversation goes on from a user's words: no rule
    return True


def mark_cache(
    system: list[TextBlockParam], tools: list[ToolParam], messages: list[MessageParam]
) -> None:
    """Place prompt-cache breakpoints (`cache_control`, at most 4) on the stable prefix: the
    end of the system prompt (or of the tools: the API caches tools, system, messages in that
    order); the end of the request's last message (written for the next call); and the end
    of the user message before it, the previous call's last (read back even when this call
    added more than the API's 20-block lookback). Never on thinking blocks."""
    if system:
        system[-1]["cache_control"] = _EPHEMERAL  # type: ignore[typeddict-item]
    elif tools:
        tools[-1]["cache_control"] = _EPHEMERAL  # type: ignore[typeddict-item]
    users = [message for message in messages if message["role"] == "user"]
    for message in users[-2:]:
        content = message["content"]
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
            message["content"] = content
        blocks: list[Any] = list(content)
        blocks[-1] = {**blocks[-1], "cache_control": _EPHEMERAL}
        message["content"] = blocks


def native_blocks(
    params: list[dict[str, Any] | None], kinds: list[str]
) -> list[dict[str, Any]] | None:
    """A reply's blocks as they go back (`params`, None for a block not sent back), when the
    reply holds thinking (`kinds`); None when it has none: there is nothing to keep."""
    if not THINKING_BLOCKS.intersection(kinds):
        return None
    return [param for param in params if param is not None]


def _tool_result(message: Message) -> ToolResultBlockParam:
    block: ToolResultBlockParam = {"type": "tool_result", "tool_use_id": message.tool_call_id or ""}
    if message.content and message.content.strip():
        block["content"] = message.content
    if message.is_error:
        block["is_error"] = True
    return block


def knob_params(sampling: Sampling, default_max_tokens: int, tools: bool) -> dict[str, Any]:
    """`thinking`, `max_tokens`, `output_config.effort` and `tool_choice` for the request's
    knobs (which the API checked at submission, `knobs.py`): a budget is manual thinking
    (`max_tokens` then leaves `default_max_tokens` for the answer), an effort adaptive
    thinking; `parallel_tool_calls: false` is `disable_parallel_tool_use`."""
    params: dict[str, Any] = {"max_tokens": sampling.max_tokens or default_max_tokens}
    reasoning = sampling.reasoning
    thinking: dict[str, Any] | None = None
    if reasoning is not None and reasoning.budget_tokens:
        thinking = {"type": "enabled", "budget_tokens": reasoning.budget_tokens}
        if sampling.max_tokens is None:
            params["max_tokens"] = reasoning.budget_tokens + default_max_tokens
    elif reasoning is not None and reasoning.effort:
        thinking = {"type": "adaptive"}
        params["output_config"] = {"effort": reasoning.effort}
    if thinking is not None:
        if reasoning is not None and reasoning.summary:
            thinking["display"] = "summarized"
        params["thinking"] = thinking
    choice, parallel = sampling.tool_choice, sampling.parallel_tool_calls
    if tools and choice == "none":
        params["tool_choice"] = {"type": "none"}
    elif tools and (choice is not None or parallel is False):
        kind: dict[str, Any] = {"type": "auto"}
        if choice == "required":
            kind = {"type": "any"}
        elif isinstance(choice, ToolChoiceName):
            kind = {"type": "tool", "name": choice.name}
        if parallel is False:
            kind["disable_parallel_tool_use"] = True
        params["tool_choice"] = kind
    return params


def tool_param(name: str, description: str, parameters: dict[str, Any]) -> ToolParam:
    tool: ToolParam = {"name": name, "input_schema": parameters or _EMPTY_SCHEMA}
    if description:
        tool["description"] = description
    return tool


def output_format(response_format: dict[str, Any] | None) -> dict[str, Any] | None:
    kind = (response_format or {}).get("type")
    if response_format is None or kind in (None, "text"):
        return None
    if kind == "json_schema":
        inner = response_format.get("json_schema")
        schema = inner.get("schema") if isinstance(inner, dict) else response_format.get("schema")
        if isinstance(schema, dict):
            return {"type": "json_schema", "schema": schema}
    logger.debug("anthropic: response_format %r has no Messages API equivalent; ignored", kind)
    return None


def counts(usage: object) -> dict[str, int]:
    """The token counts an SDK usage object has."""
    values = {key: getattr(usage, key, None) for key in _USAGE_KEYS}
    return {key: value for key, value in values.items() if isinstance(value, int)}


def usage(counts: dict[str, int]) -> Usage:
    """Anthropic's `input_tokens` leave out the prompt tokens read from or written to the
    cache; our `prompt_tokens` count them all. No counts at all: the usage is unknown."""
    if not counts:
        return Usage.unknown()
    cache_read = counts.get("cache_read_input_tokens") or 0
    cache_creation = counts.get("cache_creation_input_tokens") or 0
    prompt = (counts.get("input_tokens") or 0) + cache_read + cache_creation
    completion = counts.get("output_tokens") or 0
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        cache_read_tokens=cache_read,
        cache_creation_tokens=cache_creation,
    )
