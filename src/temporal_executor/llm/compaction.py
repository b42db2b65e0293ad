"""Context compaction, on a session's transcript as it is stored: which messages an LLM call
sends once earlier ones were summarized (`sent`), when and up to where to compact (`plan`),
and what the summarizer is asked (`summary_request`). No I/O here: `invoke_llm` asks `plan`
whether a call must wait for a compaction, the `compact_context` activity makes it.

A summary is a message of the transcript (`Message.summary` says which messages it stands
for); the messages it covers stay, for people (REST, the console), and are no longer sent.
The latest summary supersedes the earlier ones: it was made from them (a rolling summary).

A turn is a user message and what follows it up to the next one. A compaction keeps the last
`overlap` turns (at least the current one) and summarizes the turns before them, from where
the previous summary ended. When the prompt is over the token threshold and those turns are
too long to keep whole (over half the threshold), it keeps fewer messages, as few as it takes,
down to the last step of the current turn. A cut is only ever made before a user or an
assistant message: a tool call is never parted from its results.

Tokens are estimated at four characters a token (what is sent: texts, tool call arguments,
tool results), the way ADK's compaction estimates them when it has no count.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..spec import HISTORY_PLACEHOLDER, Compaction
from .messages import Message

__all__ = [
    "KAGENT_PROMPT",
    "SUMMARY_HEADING",
    "TOOL_NAME_WARNING",
    "Cut",
    "estimated_tokens",
    "plan",
    "sent",
    "summary_request",
]

# kagent-adk's default prompt (`kagent.adk.types._KAGENT_COMPACTION_PROMPT`), which it gives
# a summarizer model; a template of one's own gets the warning appended (kagent's too).
TOOL_NAME_WARNING = (
    "\n\nIMPORTANT: When referencing any tools or agents that were used, you MUST preserve "
    "their exact registered names including any namespace prefixes (for example: "
    "'kagent__default__agent_name'). Never shorten, abbreviate, or rephrase tool or agent names."
)
KAGENT_PROMPT = (
    "The following is a conversation history between a user and an AI agent. Please "
    "summarize the conversation, focusing on key information and decisions made, as well as "
    "any unresolved questions or tasks. The summary should be concise and capture the essence "
    f"of the interaction.\n\n{HISTORY_PLACEHOLDER}{TOOL_NAME_WARNING}"
)
# How a summary is sent to the model: a user message in the place of what it covers.
SUMMARY_HEADING = "Summary of the conversation so far:\n"
# A tool call's arguments or result, in the summarizer's prompt (as ADK cuts them).
_CLIP = 2000


@dataclass(frozen=True)
class Cut:
    """A compaction to make: summarize (or drop) messages `first` … `end - 1`; the messages
    from `end` on stay as they are."""

    first: int
    end: int


def estimated_tokens(messages: list[Message]) -> int:
    """About four characters a token of what `messages` send."""
    chars = 0
    for message in messages:
        chars += len(message.content or "")
        chars += sum(len(c.name) + len(json.dumps(c.arguments)) for c in message.tool_calls)
    return chars // 4


def _system_end(messages: list[Message]) -> int:
    """Where the leading system messages end (they are never compacted)."""
    index = 0
    while index < len(messages) and messages[index].role == "system":
        index += 1
    return index


def _latest_summary(messages: list[Message]) -> Message | None:
    return next((m for m in reversed(messages) if m.summary is not None), None)


def sent(messages: list[Message]) -> list[Message]:
    """What an LLM call sends of the transcript: the system message, the latest summary (as a
    user message, unless the messages were dropped), then every message after what it covers,
    earlier summaries left out. A transcript without a summary is sent whole."""
    latest = _latest_summary(messages)
    if latest is None or latest.summary is None:
        return messages
    system = _system_end(messages)
    head = messages[:system]
    if latest.content:
        head.append(Message(role="user", content=SUMMARY_HEADING + latest.content))
    return [*head, *_unsummarized(messages[max(latest.summary.end, system) :])]


def plan(messages: list[Message], settings: Compaction) -> Cut | None:
    """The compaction due before the next LLM call on `messages` (the whole transcript, the
    new messages in it), or None when none is: its prompt is under the token threshold and
    fewer than `interval` turns could be summarized, or there is nothing to summarize."""
    latest = _latest_summary(messages)
    first = max(_system_end(messages), latest.summary.end if latest and latest.summary else 0)
    turns = [i for i in range(first, len(messages)) if _is_turn(messages[i])]
    keep = max(settings.overlap, 1)
    kept_from = turns[-keep] if len(turns) >= keep else first
    # Where a cut may go: before a user or assistant message (a tool result stays with the
    # call it answers), never before the first message left (something must be summarized)
    # nor after the last (something must be sent).
    cuts = [i for i in range(first + 1, len(messages)) if _may_cut(messages[i])]
    if not cuts:
        return None
    threshold = settings.token_threshold
    if threshold is not None and estimated_tokens(sent(messages)) >= threshold:
        head = messages[: _system_end(messages)]
        fits = (
            c
            for c in cuts
            if c >= kept_from
            and estimated_tokens([*head, *_unsummarized(messages[c:])]) <= threshold // 2
        )
        return Cut(first, next(fits, cuts[-1]))
    summarizable = sum(1 for t in turns if t < kept_from)
    if settings.interval is not None and summarizable >= settings.interval and kept_from > first:
        return Cut(first, kept_from)
    return None


def _is_turn(message: Message) -> bool:
    return message.role == "user" and message.summary is None


def _may_cut(message: Message) -> bool:
    return message.role in ("user", "assistant") and message.summary is None


def _unsummarized(messages: list[Message]) -> list[Message]:
    return [m for m in messages if m.summary is None]


def summary_request(messages: list[Message], cut: Cut, template: str | None) -> Message:
    """The one user message the summarizer gets: `template` (kagent's prompt when None) with
    the conversation to summarize in the place of `{conversation_history}`: the latest summary
    first (so the new one supersedes it), then the messages of `cut`, a line each."""
    lines: list[str] = []
    latest = _latest_summary(messages[: cut.end])
    if latest is not None and latest.content:
        lines.append(f"Summary of the earlier conversation: {latest.content}")
    names = {c.id: c.name for m in messages for c in m.tool_calls}
    for message in messages[cut.first : cut.end]:
        if message.summary is None:
            lines += _lines(message, names)
    history = "\n".join(lines)
    return Message(role="user", content=(template or KAGENT_PROMPT).replace(
        HISTORY_PLACEHOLDER, history
    ))  # fmt: skip


def _lines(message: Message, names: dict[str, str]) -> list[str]:
    """A message as the summarizer reads it (ADK's `LlmEventSummarizer` lines)."""
    lines = []
    text = message.content or ""
    attached = " ".join(f"[{p.type}: {p.name or p.media_type}]" for p in message.parts)
    text = f"{text} {attached}".strip()
    if message.role == "tool":
        name = message.name or names.get(message.tool_call_id or "", "a tool")
        return [f"Tool response from {name}: {_clipped(text)}"]
    if text:
        lines.append(f"{message.role}: {text}")
    for call in message.tool_calls:
        arguments = _clipped(json.dumps(call.arguments, ensure_ascii=False))
        lines.append(f"{message.role} called tool: {call.name}({arguments})")
    return lines


def _clipped(text: str) -> str:
    if len(text) <= _CLIP:
        return text
    return f"{text[:_CLIP]}… [truncated {len(text) - _CLIP} chars]"
