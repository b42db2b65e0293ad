"""A paused task's status message as kagent writes it: the text part is the hint (and the
`tool_approval_request`'s `hint`), with the extension or without it, over JSON-RPC and gRPC;
kagent 0.10's `adk_request_confirmation` DataParts for clients without the extension, and its
`decision_type` answers."""

from __future__ import annotations

from typing import Any

import pytest
from a2a.helpers import get_data_parts, new_data_part
from a2a.types import Message, Part
from a2a.utils.errors import InvalidParamsError
from google.protobuf.json_format import MessageToDict

from temporal_executor.api.a2a.hitl import HITL_EXTENSION_URI, decision_from
from temporal_executor.api.a2a.pause import (
    DEFAULT_HINT,
    approval_pause,
    pause_message,
    question_pause,
)
from temporal_executor.llm.messages import ToolCall
from temporal_executor.tasks import PendingInput
from tests.a2a.conftest import a2a_client, answer_text, send, user_message
from tests.a2a.test_approval import tool_calls
from tests.conftest import Stack
from tests.fakes.server import FakeServer

CALLS = [
    ToolCall(id="call-1", name="delete_file", arguments={"path": "/tmp/x"}),
    ToolCall(id="call-2", name="send_mail", arguments={"to": "a@b.c"}),
]


def written(pause: Any, *, hitl: bool) -> Message:
    return pause_message(pause, task_id="t", context_id="c", message_id="m", hitl=hitl)


def texts(message: Message) -> list[str]:
    return [p.text for p in message.parts if p.HasField("text")]


def test_approval_text_is_kagents_hint_and_the_payloads() -> None:
    extended = written(approval_pause(CALLS), hitl=True)
    hint = "Tool 'delete_file' requires approval before execution."  # the first call's
    assert texts(extended) == [hint]
    payload = MessageToDict(extended.metadata)[HITL_EXTENSION_URI]
    assert payload["hint"] == hint and payload["type"] == "tool_approval_request"
    assert [t["id"] for t in payload["tools"]] == ["call-1", "call-2"]
    assert list(extended.extensions) == [HITL_EXTENSION_URI]

    plain = written(approval_pause(CALLS), hitl=False)
    assert texts(plain)[0] == hint  # the same text without the extension
    assert "approve" in texts(plain)[1]  # and how to answer
    assert not plain.HasField("metadata") and not plain.extensions


def test_plain_clients_get_kagent_0_10_confirmations() -> None:
    plain = written(approval_pause(CALLS), hitl=False)
    data = get_data_parts(plain.parts)
    assert [c["id"] for c in data[0]["toolCalls"]] == ["call-1", "call-2"]
    confirmations = [p for p in plain.parts if p.HasField("data")][1:]
    assert [MessageToDict(p.metadata) for p in confirmations] == [
        {"kagent_type": "function_call", "kagent_is_long_running": True}
    ] * 2
    first = MessageToDict(confirmations[0].data)
    assert first == {
        "name": "adk_request_confirmation",
        "id": "call-1",
        "args": {
            "originalFunctionCall": {
                "name": "delete_file",
                "args": {"path": "/tmp/x"},
                "id": "call-1",
            },
            "toolConfirmation": {
                "hint": "Tool 'delete_file' requires approval before execution.",
                "confirmed": False,
                "payload": None,
            },
        },
    }


def test_question_text_joins_the_questions() -> None:
    pending = PendingInput.model_validate(
        {"id": "ask-1", "questions": [{"question": "Which DB?"}, {"question": "Which port?"}]}
    )
    for hitl in (True, False):
        assert texts(written(question_pause(pending), hitl=hitl)) == ["Which DB?; Which port?"]
    payload = MessageToDict(written(question_pause(pending), hitl=True).metadata)
    assert "hint" not in payload[HITL_EXTENSION_URI]  # kagent's ask_user_request has none


def test_a_pause_with_nothing_to_say_has_kagents_default() -> None:
    assert texts(written(approval_pause([]), hitl=True)) == [DEFAULT_HINT]
    assert DEFAULT_HINT == "Human input is required before the agent can continue."


def kagent_answer(data: dict[str, Any]) -> Message:
    """As kagent 0.10's UI answers: the decision, and a text label."""
    return Message(message_id="a", parts=[new_data_part(data), Part(text="Approved")])


def test_kagent_0_10_decisions() -> None:
    decision, said = decision_from(kagent_answer({"decision_type": "approve"}), CALLS)
    assert decision.approved is True and said is None
    decision, _ = decision_from(
        kagent_answer({"decision_type": "reject", "rejection_reasons": {"*": "no"}}), CALLS
    )
    assert decision.approved is False and decision.reason == "no"
    batch = {
        "decision_type": "batch",
        "decisions": {"call-1": "approve", "call-2": "reject"},
        "rejection_reasons": {"call-2": "spam"},
    }
    decision, _ = decision_from(kagent_answer(batch), CALLS)
    assert decision.tool_calls["call-1"].approved is True
    assert (decision.tool_calls["call-2"].approved, decision.tool_calls["call-2"].reason) == (
        False,
        "spam",
    )


@pytest.mark.parametrize(
    "data",
    [
        {"decision_type": "batch", "decisions": {"call-1": "approve"}},  # call-2 left out
        {"decision_type": "batch", "decisions": {"call-1": "approve", "call-2": "maybe"}},
        {"decision_type": "later"},
    ],
)
def test_kagent_0_10_decisions_refused(data: dict[str, Any]) -> None:
    with pytest.raises(InvalidParamsError):
        decision_from(kagent_answer(data), CALLS)


async def test_kagent_0_10_round_trip(
    approval_stack: Stack, tool_server: FakeServer, transport: str
) -> None:
    """A kagent 0.10 client reads the `adk_request_confirmation` part and answers with a
    batch keyed by `originalFunctionCall.id`."""
    async with a2a_client(approval_stack.url, streaming=False, transport=transport) as client:
        task = await send(client, user_message("Weather in Lyon?"))
        message = task.status.message
        assert texts(message)[0] == "Tool 'get_weather' requires approval before execution."
        confirmation = next(
            d for d in get_data_parts(message.parts) if d.get("name") == "adk_request_confirmation"
        )
        call_id = confirmation["args"]["originalFunctionCall"]["id"]
        answer = user_message(
            data={"decision_type": "batch", "decisions": {call_id: "approve"}}, task_id=task.id
        )
        done = await send(client, answer)
        assert "sunny" in answer_text(done)
        assert [c["idempotency_key"] for c in await tool_calls(tool_server)] == [call_id]


async def test_hint_is_the_text_with_the_extension(approval_stack: Stack, transport: str) -> None:
    async with a2a_client(
        approval_stack.url, streaming=False, hitl=True, transport=transport
    ) as client:
        task = await send(client, user_message("Weather in Nice?"))
        message = task.status.message
        payload = MessageToDict(message.metadata)[HITL_EXTENSION_URI]
        assert texts(message) == [payload["hint"]]
        assert payload["hint"] == "Tool 'get_weather' requires approval before execution."
