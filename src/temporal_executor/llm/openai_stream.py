"""A Chat Completions stream as it arrives: each chunk the JSON object the server sent (read
through the SDK's own stream, `openai.py`), gathered into the reply. A chunk of the wrong shape
raises `MalformedChunk`, a ValueError, which the SDK's errors' translation calls a malformed
reply."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .messages import Usage

__all__ = ["Accumulator", "MalformedChunk", "listed"]


@dataclass
class PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass
class Accumulator:
    """The streamed reply so far: text, tool calls by index, finish reason, usage (unknown
    until a chunk reports it: a server may send none, whatever `include_usage` asks)."""

    text: list[str] = field(default_factory=list)
    calls: dict[int, PartialCall] = field(default_factory=dict)
    finish_reason: str | None = None
    usage: Usage = field(default_factory=Usage.unknown)

    def add(self, choice: object) -> str:
        """Take one streamed choice (a chunk's JSON); return its text delta ("" if none)."""
        if not isinstance(choice, dict):
            raise MalformedChunk("a choice that is not an object")
        delta = choice.get("delta") or {}
        if not isinstance(delta, dict):
            raise MalformedChunk("a delta that is not an object")
        text = delta.get("content") or ""
        if not isinstance(text, str):
            raise MalformedChunk("a delta whose content is not text")
        if text:
            self.text.append(text)
        for piece in listed(delta.get("tool_calls"), "tool_calls"):
            if not isinstance(piece, dict):
                raise MalformedChunk("a tool call that is not an object")
            # Some compatible servers omit `index` and send each call whole.
            index = piece.get("index")
            call = self.calls.setdefault(
                index if isinstance(index, int) else len(self.calls), PartialCall()
            )
            call.id = call.id or text_of(piece.get("id"))
            function = piece.get("function") or {}
            if not isinstance(function, dict):
                raise MalformedChunk("a tool call whose function is not an object")
            call.name = call.name or text_of(function.get("name"))
            call.arguments.append(text_of(function.get("arguments")))
        if choice.get("finish_reason"):
            self.finish_reason = str(choice["finish_reason"])
        return text


class MalformedChunk(ValueError):
    """A streamed chunk of the wrong shape (a ValueError: a malformed reply, as the SDK's)."""


def listed(value: object, name: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedChunk(f"{name} that is not a list")
    return value


def text_of(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedChunk(f"{value!r} where text belongs")
    return value
