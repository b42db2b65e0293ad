"""The status message of a paused (`input-required`) task, written as kagent writes it, the
same in every transport.

Every kind of pause (tool calls waiting for approval, questions from `ask_user`) is a `Pause`:
its `hint` is the message's text part (and the `hint` of a `tool_approval_request`), and the
rest depends on what the client asked for:

- with kagent's HITL extension activated, the request is the message's `metadata[URI]` (and
  `extensions: [URI]`), beside the text;
- without it, DataParts: ours (`{"toolCalls": [...]}`, `{"askUser": {...}}`) first, then, for
  tool approvals, kagent 0.10's `adk_request_confirmation` function calls (one per call, as
  kagent 0.10's UI reads them; `hitl.py` reads its `decision_type` answers); a tool approval
  also gets a second text part that says how to answer.

The hints are kagent's (kagent-adk `_approval.py`, `tools/ask_user_tool.py`, `_hitl.py`):
`Tool '<name>' requires approval before execution.` per tool call, the first one's when several
wait (kagent's Python runtime keeps the first, its Go runtime the last); an ask_user's questions
joined by "; "; `Human input is required before the agent can continue.` when there is nothing
to say.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from a2a.helpers import new_data_part, new_text_part
from a2a.types import Message, Part, Role
from google.protobuf.json_format import ParseDict

from ...llm.messages import ToolCall
from ...tasks import PendingInput
from .hitl import ASK_USER_REQUEST, HITL_EXTENSION_URI, HOW_TO_APPROVE, TOOL_APPROVAL_REQUEST

__all__ = ["DEFAULT_HINT", "Pause", "approval_pause", "pause_message", "question_pause"]

DEFAULT_HINT = "Human input is required before the agent can continue."
ADK_REQUEST_CONFIRMATION = "adk_request_confirmation"


@dataclass(frozen=True)
class Pause:
    """What a paused task waits for: `hint` (the text), `request` (the extension's payload,
    `type` included; `hinted` when it carries the hint too, as `tool_approval_request` does)
    and `parts` (the DataParts for a client without the extension)."""

    hint: str
    request: dict[str, Any]
    parts: list[Part] = field(default_factory=list)
    hinted: bool = False


def pause_message(
    pause: Pause, *, task_id: str, context_id: str, message_id: str, hitl: bool
) -> Message:
    """The status message of a task paused for `pause`; `hitl`: the client activated kagent's
    extension."""
    message = Message(
        message_id=message_id,
        role=Role.ROLE_AGENT,
        task_id=task_id,
        context_id=context_id,
        parts=[new_text_part(pause.hint or DEFAULT_HINT)],
    )
    if hitl:
        payload = {**pause.request, "hint": pause.hint} if pause.hinted else pause.request
        ParseDict({HITL_EXTENSION_URI: payload}, message.metadata)
        message.extensions.append(HITL_EXTENSION_URI)
    else:
        message.parts.extend(pause.parts)
    return message


def tool_hint(name: str) -> str:
    return f"Tool '{name}' requires approval before execution."


def approval_pause(calls: list[ToolCall]) -> Pause:
    """Tool calls waiting for a decision. Their approval ids are the calls' own ids."""
    hint = tool_hint(calls[0].name) if calls else DEFAULT_HINT
    tools = [{"id": c.id, "call_id": c.id, "name": c.name, "args": c.arguments} for c in calls]
    pending = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in calls]
    parts = [new_text_part(f"To answer: {HOW_TO_APPROVE}."), new_data_part({"toolCalls": pending})]
    parts.extend(_adk_confirmation(call) for call in calls)
    return Pause(
        hint=hint,
        request={"type": TOOL_APPROVAL_REQUEST, "tools": tools},
        parts=parts,
        hinted=True,
    )


def question_pause(pending: PendingInput) -> Pause:
    """Questions from `ask_user` waiting for answers."""
    hint = "; ".join(q.question for q in pending.questions) or "Questions for the user."
    questions = [q.model_dump() for q in pending.questions]
    return Pause(
        hint=hint,
        request={"type": ASK_USER_REQUEST, "id": pending.id, "questions": questions},
        parts=[new_data_part({"askUser": {"id": pending.id, "questions": questions}})],
    )


def _adk_confirmation(call: ToolCall) -> Part:
    """kagent 0.10's pause: ADK's `adk_request_confirmation` function call for `call`, marked
    long-running as kagent's event converter marks it."""
    data = {
        "name": ADK_REQUEST_CONFIRMATION,
        "id": call.id,
        "args": {
            "originalFunctionCall": {"name": call.name, "args": call.arguments, "id": call.id},
            "toolConfirmation": {"hint": tool_hint(call.name), "confirmed": False, "payload": None},
        },
    }
    part = new_data_part(data)
    ParseDict({"kagent_type": "function_call", "kagent_is_long_running": True}, part.metadata)
    return part
