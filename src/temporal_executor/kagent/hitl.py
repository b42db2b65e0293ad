"""kagent's human-in-the-loop messages on the wire, both ways: what our A2A server writes
and reads (`api/a2a/pause.py`, `api/a2a/hitl.py`), and what our agent tools read from another
agent that paused and write back to it (`activities/agents.py`).

Two flavours, as kagent has had them:
- the HITL extension `https://kagent.dev/extensions/hitl/v1` (kagent-core `_hitl.py`): the
  request in a paused task's status message, `metadata[URI]` with `URI` in
  `message.extensions`: `{"type": "tool_approval_request", "hint"?, "tools": [{"id",
  "call_id", "name", "args"}], "nested"?}` or `{"type": "ask_user_request", "id",
  "questions", "nested"?}`; the answer the same way: `{"type": "tool_approval_response",
  "approvals": [{"id", "approved", "rejection_reason"?}]}` (one per tool id, kagent's models
  refuse any other key) or `{"type": "ask_user_response", "id", "answers": [{"answer":
  [...]}]}`. When the request has `nested` (that agent's own child paused), the tools to
  decide are `nested.tools`, and the answer names their ids (kagent's `visible_tools`);
- kagent 0.10's DataParts (kagent-core 0.10.4 `_hitl_utils.py`): ADK's
  `adk_request_confirmation` function calls (`{"name", "id", "args": {"originalFunctionCall":
  {"name", "args", "id"}, "toolConfirmation": {"hint", …}}}`), answered with a DataPart
  `{"decision_type": "approve" | "reject", "rejection_reason"?}`, `{"decision_type": "batch",
  "decisions": {<original call id>: "approve" | "reject"}, "rejection_reasons"?}`, or for
  `ask_user` `{"decision_type": "approve", "ask_user_answers": [{"answer": [...]}]}`.
"""

from __future__ import annotations

from typing import Any, Literal

from a2a.helpers import new_data_part, new_text_part
from a2a.types import Message, Role
from google.protobuf.json_format import MessageToDict, ParseDict
from pydantic import Field, ValidationError

from ..tasks import NestedTool, Question
from ..versioned import Payload

__all__ = [
    "ADK_REQUEST_CONFIRMATION",
    "ASK_USER",
    "ASK_USER_REQUEST",
    "ASK_USER_RESPONSE",
    "DECISION_TEXT",
    "DEFAULT_HINT",
    "HITL_EXTENSION_HEADER",
    "HITL_EXTENSION_URI",
    "TOOL_APPROVAL_REQUEST",
    "TOOL_APPROVAL_RESPONSE",
    "ChildApproval",
    "ChildPause",
    "ChildReply",
    "attach",
    "hitl_payload",
    "pause_of",
    "remote_hint",
    "reply_message",
    "tool_hint",
]

HITL_EXTENSION_URI = "https://kagent.dev/extensions/hitl/v1"
HITL_EXTENSION_HEADER = "A2A-Extensions"
TOOL_APPROVAL_REQUEST = "tool_approval_request"
TOOL_APPROVAL_RESPONSE = "tool_approval_response"
ASK_USER_REQUEST = "ask_user_request"
ASK_USER_RESPONSE = "ask_user_response"
ADK_REQUEST_CONFIRMATION = "adk_request_confirmation"
ASK_USER = "ask_user"
DEFAULT_HINT = "Human input is required before the agent can continue."
# The text of a decision we send (kagent's Go runtime sends the same): A2A 1.0 requires a
# message to have a part, though kagent's Python runtime sends its decisions with none.
DECISION_TEXT = "Human input supplied"


def tool_hint(name: str) -> str:
    """kagent's hint for a call of `name` waiting for approval."""
    return f"Tool '{name}' requires approval before execution."


def remote_hint(subagent: str, tools: list[NestedTool], questions: list[Question]) -> str:
    """kagent's hint for a paused child agent (kagent-adk `remote_hitl_hint`)."""
    if asked := " ".join(q.question for q in questions):
        return f"Remote agent '{subagent}' asks: {asked}"
    if tools:
        names = ", ".join(tool.name for tool in tools)
        return f"Remote agent '{subagent}' requires approval for tool(s): {names}"
    return f"Remote agent '{subagent}' requires human input before continuing."


def hitl_payload(message: Message) -> dict[str, Any] | None:
    """The extension's payload of `message`: only when the message declares the extension
    too (kagent reads it only then)."""
    if HITL_EXTENSION_URI not in message.extensions or not message.HasField("metadata"):
        return None
    payload = MessageToDict(message.metadata).get(HITL_EXTENSION_URI)
    return payload if isinstance(payload, dict) else None


def attach(message: Message, payload: dict[str, Any]) -> Message:
    """`payload` as the extension's, on `message` (metadata and the declaration both)."""
    ParseDict({HITL_EXTENSION_URI: payload}, message.metadata)
    if HITL_EXTENSION_URI not in message.extensions:
        message.extensions.append(HITL_EXTENSION_URI)
    return message


# --- another agent's pause, as we read it --------------------------------------------------


class ChildPause(Payload):
    """Another agent's task (`task_id` in `context_id`), paused for a person: for a decision
    on `tools` (`kind` approval), or for answers to `questions` (`kind` input; `tools` is its
    one `ask_user` call, whose id the answer names); `flavour` is how it said so, and so how
    the answer is written."""

    kind: Literal["approval", "input"]
    flavour: Literal["hitl", "adk"]
    task_id: str
    context_id: str
    tools: list[NestedTool] = Field(min_length=1)
    questions: list[Question] = Field(default_factory=list)
    hint: str | None = None


def pause_of(task_id: str, context_id: str, message: Message) -> ChildPause | None:
    """What a task paused with this status `message` waits for (None: it does not say in a
    way we read); `ValueError` for a request we read but cannot use."""
    try:
        payload = hitl_payload(message)
        if payload is not None:
            return _extension_pause(task_id, context_id, payload)
        return _adk_pause(task_id, context_id, message)
    except ValidationError as exc:
        raise ValueError(f"its request for input is malformed: {exc.errors()[0]['msg']}") from None


def _extension_pause(task_id: str, context_id: str, payload: dict[str, Any]) -> ChildPause | None:
    kind = payload.get("type")
    nested = payload.get("nested")
    visible = nested.get("tools") if isinstance(nested, dict) else None
    hint = payload.get("hint") if isinstance(payload.get("hint"), str) else None
    if kind == TOOL_APPROVAL_REQUEST:
        tools = _tools(visible if visible is not None else payload.get("tools"))
        return ChildPause(
            kind="approval",
            flavour="hitl",
            task_id=task_id,
            context_id=context_id,
            tools=tools,
            hint=hint,
        )
    if kind == ASK_USER_REQUEST:
        questions = [Question.model_validate(q) for q in payload.get("questions") or []]
        if visible is not None:
            tools = _tools(visible)
        else:
            ask = {"id": payload.get("id"), "call_id": payload.get("id"), "name": ASK_USER}
            args = {"questions": payload.get("questions")}
            tools = [NestedTool.model_validate({**ask, "args": args})]
        if len(tools) != 1 or not questions:
            raise ValueError("its questions need one ask_user call and at least one question")
        return ChildPause(
            kind="input",
            flavour="hitl",
            task_id=task_id,
            context_id=context_id,
            tools=tools,
            questions=questions,
        )
    return None


def _tools(raw: Any) -> list[NestedTool]:
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise ValueError("its request names no tools")
    return [NestedTool.model_validate({**t, "args": t.get("args") or {}}) for t in raw]


def _adk_pause(task_id: str, context_id: str, message: Message) -> ChildPause | None:
    tools: list[NestedTool] = []
    hint = None
    for part in message.parts:
        if not part.HasField("data"):
            continue
        data = MessageToDict(part.data)
        if not isinstance(data, dict) or data.get("name") != ADK_REQUEST_CONFIRMATION:
            continue
        args = data.get("args") or {}
        original = args.get("originalFunctionCall") or {}
        confirmation = args.get("toolConfirmation") or {}
        hint = hint or confirmation.get("hint")
        call_id = str(original.get("id") or data.get("id") or "")
        tools.append(
            NestedTool(
                id=str(data.get("id") or call_id),
                call_id=call_id,
                name=str(original.get("name") or "tool"),
                args=original.get("args") if isinstance(original.get("args"), dict) else {},
            )
        )
    if not tools:
        return None
    if len(tools) == 1 and tools[0].name == ASK_USER:
        raw = tools[0].args.get("questions") or []
        questions = [Question.model_validate(q) for q in raw]
        kind: Literal["approval", "input"] = "input"
    else:
        questions, kind = [], "approval"
    return ChildPause(
        kind=kind,
        flavour="adk",
        task_id=task_id,
        context_id=context_id,
        tools=tools,
        questions=questions,
        hint=hint if isinstance(hint, str) else None,
    )


# --- the answer we send it -------------------------------------------------------------------


class ChildApproval(Payload):
    """The decision on one of a paused agent's calls (kagent's `ToolApproval`)."""

    id: str
    approved: bool
    rejection_reason: str | None = None


class ChildReply(Payload):
    """What a person decided on a `ChildPause`: an approval per tool, or the answers (one
    list per question)."""

    approvals: list[ChildApproval] = Field(default_factory=list)
    answers: list[list[str]] = Field(default_factory=list)


def reply_message(pause: ChildPause, reply: ChildReply, *, message_id: str) -> Message:
    """The message that gives `reply` to the paused task, in the flavour it paused in."""
    message = Message(
        message_id=message_id,
        role=Role.ROLE_USER,
        task_id=pause.task_id,
        context_id=pause.context_id,
    )
    if pause.flavour == "hitl":
        attach(message, _extension_reply(pause, reply))
        message.parts.append(new_text_part(DECISION_TEXT))
    else:
        message.parts.append(new_data_part(_adk_reply(pause, reply)))
    return message


def _extension_reply(pause: ChildPause, reply: ChildReply) -> dict[str, Any]:
    if pause.kind == "input":
        answers = [{"answer": answer} for answer in reply.answers]
        return {"type": ASK_USER_RESPONSE, "id": pause.tools[0].id, "answers": answers}
    approvals = [a.model_dump(exclude_none=True) for a in reply.approvals]
    return {"type": TOOL_APPROVAL_RESPONSE, "approvals": approvals}


def _adk_reply(pause: ChildPause, reply: ChildReply) -> dict[str, Any]:
    if pause.kind == "input":
        answers = [{"answer": answer} for answer in reply.answers]
        return {"decision_type": "approve", "ask_user_answers": answers}
    if len(reply.approvals) == 1:
        (approval,) = reply.approvals
        data: dict[str, Any] = {"decision_type": "approve" if approval.approved else "reject"}
        if not approval.approved and approval.rejection_reason:
            data["rejection_reason"] = approval.rejection_reason
        return data
    # kagent 0.10 keys a batch by the calls' own ids (`originalFunctionCall.id`).
    call_ids = {tool.id: tool.call_id for tool in pause.tools}
    decisions = {call_ids[a.id]: "approve" if a.approved else "reject" for a in reply.approvals}
    reasons = {
        call_ids[a.id]: a.rejection_reason
        for a in reply.approvals
        if not a.approved and a.rejection_reason
    }
    data = {"decision_type": "batch", "decisions": decisions}
    if reasons:
        data["rejection_reasons"] = reasons
    return data
