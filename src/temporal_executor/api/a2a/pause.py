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

A pause of another agent that this task called as a tool (`nested`) is written as kagent
writes it: the request's `tools` (or an ask_user request's `id`) is this task's call of that
agent, `nested` is `{subagent_name, task_id, context_id, tools}` with that agent's calls, and
the hint is `Remote agent '<name>' requires approval for tool(s): …` / `… asks: …`. The
answer names the nested tools' ids (`hitl.py` checks them as those of the pending calls).
Without the extension, the DataParts are those of the nested calls, as if they were this
task's, plus `{"nested": {…}}`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from a2a.helpers import new_data_part, new_text_part
from a2a.types import Message, Part, Role
from google.protobuf.json_format import ParseDict

from ...kagent.hitl import (
    ADK_REQUEST_CONFIRMATION,
    ASK_USER,
    ASK_USER_REQUEST,
    DEFAULT_HINT,
    TOOL_APPROVAL_REQUEST,
    attach,
    remote_hint,
    tool_hint,
)
from ...llm.messages import ToolCall
from ...tasks import Nested, NestedApproval, NestedTool, PendingInput
from .hitl import HOW_TO_APPROVE

__all__ = ["DEFAULT_HINT", "Pause", "approval_pause", "pause_message", "question_pause"]


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
        attach(message, {**pause.request, "hint": pause.hint} if pause.hinted else pause.request)
    else:
        message.parts.extend(pause.parts)
    return message


def approval_pause(calls: list[ToolCall], nested: NestedApproval | None = None) -> Pause:
    """Tool calls waiting for a decision (another agent's, with `nested`). Their approval
    ids are the calls' own ids."""
    hint = tool_hint(calls[0].name) if calls else DEFAULT_HINT
    tools = [{"id": c.id, "call_id": c.id, "name": c.name, "args": c.arguments} for c in calls]
    request: dict[str, Any] = {"type": TOOL_APPROVAL_REQUEST, "tools": tools}
    pending = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in calls]
    parts = [new_text_part(f"To answer: {HOW_TO_APPROVE}."), new_data_part({"toolCalls": pending})]
    if nested is not None:
        hint = remote_hint(nested.subagent_name, nested.tools, [])
        request = {
            "type": TOOL_APPROVAL_REQUEST,
            "tools": [_own_call(nested)],
            "nested": _nested_block(nested, nested.tools),
        }
        parts.append(new_data_part({"nested": request["nested"]}))
    parts.extend(_adk_confirmation(call) for call in calls)
    return Pause(hint=hint, request=request, parts=parts, hinted=True)


def question_pause(pending: PendingInput) -> Pause:
    """Questions from `ask_user` waiting for answers (another agent's, with `nested`)."""
    hint = "; ".join(q.question for q in pending.questions) or "Questions for the user."
    questions = [q.model_dump() for q in pending.questions]
    request: dict[str, Any] = {"type": ASK_USER_REQUEST, "id": pending.id, "questions": questions}
    data: dict[str, Any] = {"id": pending.id, "questions": questions}
    if (nested := pending.nested) is not None:
        hint = remote_hint(nested.subagent_name, [], pending.questions)
        ask = NestedTool(
            id=pending.id, call_id=pending.id, name=ASK_USER, args={"questions": questions}
        )
        # The request's id is this task's call of the agent; the answer names the nested one.
        request = {
            "type": ASK_USER_REQUEST,
            "id": nested.tool_call.id,
            "questions": questions,
            "nested": _nested_block(nested, [ask]),
        }
        data["nested"] = request["nested"]
    return Pause(hint=hint, request=request, parts=[new_data_part({"askUser": data})])


def _own_call(nested: Nested) -> dict[str, Any]:
    """This task's call of the paused agent, as a `HitlTool`."""
    call = nested.tool_call
    return {"id": call.id, "call_id": call.id, "name": call.name, "args": call.arguments}


def _nested_block(nested: Nested, tools: list[NestedTool]) -> dict[str, Any]:
    """kagent's `NestedHitlRequest`: these keys and no others (its models refuse others)."""
    return {
        "subagent_name": nested.subagent_name,
        "task_id": nested.task_id,
        "context_id": nested.context_id,
        "tools": [tool.model_dump(mode="json") for tool in tools],
    }


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
