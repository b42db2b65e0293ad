"""Our LLM format and the Anthropic Messages API's: request messages and tools, a streamed
reply assembled from its events, usage counts, finish reasons (see `anthropic.py` for what the
conversion does beyond renaming fields)."""

from __future__ import annotations

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
    ToolParam,
    ToolResultBlockParam,
)

from .messages import Message, Usage

__all__ = [
    "FINISH_REASONS",
    "Block",
    "StreamReply",
    "counts",
    "output_format",
    "request_messages",
    "tool_param",
    "usage",
]

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
    kind: str
    id: str = ""
    name: str = ""
    parts: list[str] = field(default_factory=list)


@dataclass
class StreamReply:
    """The streamed reply so far: content blocks by index, stop reason, usage counts."""

    blocks: dict[int, Block] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=dict)
    stop_reason: str | None = None
    refusal: object = None
    stopped: bool = False

    def add(self, event: RawMessageStreamEvent) -> str:
        """Take one stream event; return its text delta ("" if none)."""
        # The SDK builds unknown event types as the first model of its union, so test `type`.
        if event.type == "message_start" and isinstance(event, RawMessageStartEvent):
            self._count(getattr(event.message, "usage", None))
        elif event.type == "content_block_start" and isinstance(event, RawContentBlockStartEvent):
            block = event.content_block
            self.blocks[event.index] = Block(
                kind=block.type, id=getattr(block, "id", ""), name=getattr(block, "name", "")
            )
            text = getattr(block, "text", None) if block.type == "text" else None
            if isinstance(text, str) and text:
                self.blocks[event.index].parts.append(text)
                return text
        elif event.type == "content_block_delta" and isinstance(event, RawContentBlockDeltaEvent):
            delta = event.delta
            if delta.type == "text_delta":
                text = getattr(delta, "text", None) or ""
                self.blocks.setdefault(event.index, Block("text")).parts.append(text)
                return text
            if delta.type == "input_json_delta":
                piece = getattr(delta, "partial_json", None) or ""
                self.blocks.setdefault(event.index, Block("tool_use")).parts.append(piece)
        elif event.type == "message_delta" and isinstance(event, RawMessageDeltaEvent):
            self.stop_reason = event.delta.stop_reason or self.stop_reason
            self.refusal = event.delta.stop_details or self.refusal
            self._count(event.usage)
        elif event.type == "message_stop":
            self.stopped = True
        return ""

    def _count(self, usage: object) -> None:
        # Counts are cumulative: a later event's count replaces an earlier one.
        self.usage |= counts(usage)


def request_messages(messages: list[Message]) -> tuple[str, list[MessageParam]]:
    """The `system` text and the `messages` list for the request."""
    system: list[str] = []
    out: list[MessageParam] = []
    results: list[ToolResultBlockParam] = []
    for message in messages:
        if message.role == "tool":
            results.append(_tool_result(message))
            continue
        if results:
            out.append({"role": "user", "content": results})
            results = []
        text = message.content if message.content and message.content.strip() else None
        if message.role == "system" and text:
            system.append(text)
        elif message.role == "user" and text:
            out.append({"role": "user", "content": text})
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


def _tool_result(message: Message) -> ToolResultBlockParam:
    block: ToolResultBlockParam = {"type": "tool_result", "tool_use_id": message.tool_call_id or ""}
    if message.content and message.content.strip():
        block["content"] = message.content
    if message.is_error:
        block["is_error"] = True
    return block


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
    cache; our `prompt_tokens` count them all."""
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
