"""Another agent's pause as we read it, and our answer as we write it, in both of kagent's
flavours: its HITL extension (with a `nested` pause of that agent's own child) and 0.10's
`adk_request_confirmation` DataParts (the shapes kagent-core 0.10.4 `_hitl_utils.py` reads
and writes)."""

from __future__ import annotations

from typing import Any

import pytest
from a2a.helpers import new_data_part, new_text_part
from a2a.types import Message, Role
from google.protobuf.json_format import MessageToDict, ParseDict

from temporal_executor.kagent.hitl import (
    HITL_EXTENSION_URI,
    ChildApproval,
    ChildReply,
    attach,
    hitl_payload,
    pause_of,
    reply_message,
)


def status(payload: dict[str, Any] | None = None, *parts: Any) -> Message:
    message = Message(message_id="m", role=Role.ROLE_AGENT, parts=[new_text_part("hint"), *parts])
    return attach(message, payload) if payload is not None else message


def confirmation(id: str, call_id: str, name: str, args: dict[str, Any]) -> Any:
    part = new_data_part(
        {
            "name": "adk_request_confirmation",
            "id": id,
            "args": {
                "originalFunctionCall": {"name": name, "args": args, "id": call_id},
                "toolConfirmation": {
                    "hint": f"Tool '{name}' requires approval",
                    "confirmed": False,
                },
            },
        }
    )
    ParseDict({"kagent_type": "function_call", "kagent_is_long_running": True}, part.metadata)
    return part


def test_an_extension_request_and_its_answer() -> None:
    tool = {"id": "c1", "call_id": "llm-1", "name": "delete_pod", "args": {"pod": "a"}}
    request = {"type": "tool_approval_request", "hint": "h", "tools": [tool]}
    pause = pause_of("t1", "ctx", status(request))
    assert pause is not None
    assert (pause.kind, pause.flavour, pause.task_id, pause.context_id) == (
        "approval",
        "hitl",
        "t1",
        "ctx",
    )
    assert [t.model_dump() for t in pause.tools] == [tool]

    reply = ChildReply(approvals=[ChildApproval(id="c1", approved=False, rejection_reason="no")])
    answer = reply_message(pause, reply, message_id="call-1:1")
    assert (answer.task_id, answer.context_id, answer.role) == ("t1", "ctx", Role.ROLE_USER)
    assert hitl_payload(answer) == {
        "type": "tool_approval_response",
        "approvals": [{"id": "c1", "approved": False, "rejection_reason": "no"}],
    }
    assert [p.text for p in answer.parts] == ["Human input supplied"]


def test_a_nested_request_is_decided_on_its_nested_tools() -> None:
    # The child paused because its own child did: the tools to decide are the nested ones.
    nested = {"id": "g1", "call_id": "g1", "name": "scale", "args": {}}
    request = {
        "type": "tool_approval_request",
        "tools": [{"id": "c9", "call_id": "c9", "name": "grandchild", "args": {"request": "x"}}],
        "nested": {
            "subagent_name": "grandchild",
            "task_id": "g",
            "context_id": "gc",
            "tools": [nested],
        },
    }
    pause = pause_of("t1", "ctx", status(request))
    assert pause is not None and [t.id for t in pause.tools] == ["g1"]

    questions = [{"question": "Which?", "choices": ["a", "b"], "multiple": False}]
    asks = {"type": "ask_user_request", "id": "q1", "questions": questions}
    pause = pause_of("t1", "ctx", status(asks))
    assert pause is not None and pause.kind == "input"
    assert [t.model_dump() for t in pause.tools] == [
        {"id": "q1", "call_id": "q1", "name": "ask_user", "args": {"questions": questions}}
    ]
    answer = reply_message(pause, ChildReply(answers=[["b"]]), message_id="m2")
    assert hitl_payload(answer) == {
        "type": "ask_user_response",
        "id": "q1",
        "answers": [{"answer": ["b"]}],
    }


def test_kagent_0_10_data_parts_and_their_answers() -> None:
    parts = [confirmation("adk-1", "call-1", "a", {}), confirmation("adk-2", "call-2", "b", {})]
    pause = pause_of("t1", "ctx", status(None, *parts))
    assert pause is not None and (pause.kind, pause.flavour) == ("approval", "adk")
    assert [(t.id, t.call_id, t.name) for t in pause.tools] == [
        ("adk-1", "call-1", "a"),
        ("adk-2", "call-2", "b"),
    ]
    reply = ChildReply(
        approvals=[
            ChildApproval(id="adk-1", approved=True),
            ChildApproval(id="adk-2", approved=False, rejection_reason="not b"),
        ]
    )
    (part,) = reply_message(pause, reply, message_id="m").parts
    # kagent 0.10 keys a batch by the model's call ids.
    assert MessageToDict(part.data) == {
        "decision_type": "batch",
        "decisions": {"call-1": "approve", "call-2": "reject"},
        "rejection_reasons": {"call-2": "not b"},
    }
    one = pause.model_copy(update={"tools": pause.tools[:1]})
    reply = ChildReply(approvals=[ChildApproval(id="adk-1", approved=False, rejection_reason="r")])
    (part,) = reply_message(one, reply, message_id="m").parts
    assert MessageToDict(part.data) == {"decision_type": "reject", "rejection_reason": "r"}

    questions = {"questions": [{"question": "Which?"}]}
    pause = pause_of(
        "t1", "ctx", status(None, confirmation("adk-3", "call-3", "ask_user", questions))
    )
    assert pause is not None and pause.kind == "input"
    assert [q.question for q in pause.questions] == ["Which?"]
    (part,) = reply_message(pause, ChildReply(answers=[["x"]]), message_id="m").parts
    assert MessageToDict(part.data) == {
        "decision_type": "approve",
        "ask_user_answers": [{"answer": ["x"]}],
    }


def test_what_is_not_a_pause_we_read() -> None:
    assert pause_of("t1", "ctx", status(None)) is None  # text only
    undeclared = status(None)
    ParseDict({HITL_EXTENSION_URI: {"type": "tool_approval_request"}}, undeclared.metadata)
    assert pause_of("t1", "ctx", undeclared) is None  # kagent reads it only when declared
    with pytest.raises(ValueError, match="names no tools"):
        pause_of("t1", "ctx", status({"type": "tool_approval_request", "tools": "x"}))
    with pytest.raises(ValueError, match="malformed"):
        pause_of("t1", "ctx", status({"type": "tool_approval_request", "tools": [{"id": "x"}]}))
