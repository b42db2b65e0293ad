"""Human approval over A2A: the task goes input-required with the pending tool calls; the
client answers on the same task with kagent's HITL extension, a DataPart, or plain text."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from a2a.helpers import get_data_parts, get_message_text, new_text_part
from a2a.types import ListTasksRequest, Message, Role, Task, TaskState, TaskStatusUpdateEvent
from a2a.utils.errors import InvalidParamsError, UnsupportedOperationError
from google.protobuf.json_format import MessageToDict

from temporal_executor.api.a2a.hitl import HITL_EXTENSION_URI, decision_from
from tests.a2a.conftest import (
    a2a_client,
    answer_text,
    collect,
    send,
    send_request,
    user_message,
)
from tests.conftest import Stack, fake_requests, weather_tool
from tests.fakes.server import FakeServer

ANSWERED = "the user answered with a message instead"
INPUT_REQUIRED = TaskState.TASK_STATE_INPUT_REQUIRED
COMPLETED = TaskState.TASK_STATE_COMPLETED


async def tool_calls(tool_server: FakeServer) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as http:
        calls: list[dict[str, Any]] = (await http.get(tool_server.base_url + "/_tool/calls")).json()
        return calls


def hitl_payload(message: Message) -> dict[str, Any]:
    assert HITL_EXTENSION_URI in message.extensions
    payload: dict[str, Any] = MessageToDict(message.metadata)[HITL_EXTENSION_URI]
    return payload


def hitl_answer(task: Task, approvals: list[dict[str, Any]]) -> Message:
    return user_message(
        "decided",
        task_id=task.id,
        context_id=task.context_id,
        extensions=[HITL_EXTENSION_URI],
        metadata={HITL_EXTENSION_URI: {"type": "tool_approval_response", "approvals": approvals}},
    )


async def test_kagent_hitl_approve(
    approval_stack: Stack, tool_server: FakeServer, transport: str
) -> None:
    async with a2a_client(approval_stack.url, hitl=True, transport=transport) as client:
        events = await collect(client.send_message(send_request(user_message("Weather in Oslo?"))))
        paused = events[-1]
        assert isinstance(paused, TaskStatusUpdateEvent)
        assert paused.status.state == INPUT_REQUIRED
        request = hitl_payload(paused.status.message)
        assert request["type"] == "tool_approval_request"
        (tool,) = request["tools"]
        assert tool["name"] == "get_weather" and tool["call_id"] == tool["id"]
        assert tool["args"] == {"query": "Weather in Oslo?"}
        assert await tool_calls(tool_server) == []

        task = events[0]
        assert isinstance(task, Task)
        answer = hitl_answer(task, [{"id": tool["id"], "approved": True}])
        resumed = await collect(client.send_message(send_request(answer)))
        assert isinstance(resumed[0], Task) and resumed[0].status.state == INPUT_REQUIRED
        assert resumed[-1].status.state == COMPLETED
        assert [c["idempotency_key"] for c in await tool_calls(tool_server)] == [tool["id"]]
        final = resumed[-2].artifact.parts[0].text
        assert final.startswith("Tool results: get_weather=") and "sunny" in final

        with pytest.raises(UnsupportedOperationError):
            await collect(client.send_message(send_request(answer)))


async def test_kagent_hitl_reject_with_reason(
    approval_stack: Stack, tool_server: FakeServer, transport: str
) -> None:
    async with a2a_client(
        approval_stack.url, streaming=False, hitl=True, transport=transport
    ) as client:
        task = await send(client, user_message("Weather in Rome?"))
        assert task.status.state == INPUT_REQUIRED
        (tool,) = hitl_payload(task.status.message)["tools"]
        answer = hitl_answer(
            task, [{"id": tool["id"], "approved": False, "rejection_reason": "not today"}]
        )
        done = await send(client, answer)
        assert done.status.state == COMPLETED
        assert "rejected" in answer_text(done) and "not today" in answer_text(done)
        assert await tool_calls(tool_server) == []
        decision = done.history[-3]  # user, agent (tool call), user (decision), tool, agent
        assert decision.role == Role.ROLE_USER
        assert get_message_text(decision) == "decided per tool call"
        verdict = get_data_parts(decision.parts)[0]["toolCalls"][tool["id"]]
        assert verdict == {"approved": False, "reason": "not today"}


async def test_kagent_hitl_edited_args_run_and_a_bad_edit_is_refused(
    approval_stack: Stack, tool_server: FakeServer
) -> None:
    async with a2a_client(approval_stack.url, streaming=False, hitl=True) as client:
        task = await send(client, user_message("Weather in Lyon?"))
        (tool,) = hitl_payload(task.status.message)["tools"]
        wrong = hitl_answer(task, [{"id": tool["id"], "approved": True, "args": {"query": 1}}])
        with pytest.raises(InvalidParamsError, match=r"arguments\.query"):
            await send(client, wrong)
        edited = {"id": tool["id"], "approved": True, "args": {"query": "Weather in Nice?"}}
        done = await send(client, hitl_answer(task, [edited]))
        assert done.status.state == COMPLETED
        assert [c["arguments"] for c in await tool_calls(tool_server)] == [
            {"query": "Weather in Nice?"}
        ]
        decision = done.history[-3]
        verdict = get_data_parts(decision.parts)[0]["toolCalls"][tool["id"]]
        assert verdict == {
            "approved": True,
            "reason": None,
            "arguments": {"query": "Weather in Nice?"},
        }

    task_id = task.id
    events = await approval_stack.events(task_id)
    (audit,) = [e["data"] for e in events if e["event"] == "approval.decided"]
    assert audit["calls"][0]["arguments"] == {"query": "Weather in Lyon?"}
    assert audit["calls"][0]["edited_arguments"] == {"query": "Weather in Nice?"}


async def test_a_data_part_may_edit_the_arguments(
    approval_stack: Stack, tool_server: FakeServer
) -> None:
    async with a2a_client(approval_stack.url, streaming=False) as client:
        task = await send(client, user_message("Weather in Bern?"))
        answer = user_message(
            data={"approved": True, "arguments": {"query": "Zurich"}}, task_id=task.id
        )
        done = await send(client, answer)
        assert done.status.state == COMPLETED
        assert [c["arguments"] for c in await tool_calls(tool_server)] == [{"query": "Zurich"}]


async def test_plain_data_part_approve(
    approval_stack: Stack, tool_server: FakeServer, transport: str
) -> None:
    async with a2a_client(approval_stack.url, streaming=False, transport=transport) as client:
        task = await send(client, user_message("Weather in Paris?"))
        assert task.status.state == INPUT_REQUIRED
        message = task.status.message
        assert HITL_EXTENSION_URI not in message.extensions  # not asked for
        assert "approve" in get_message_text(message)
        (pending,) = get_data_parts(message.parts)[0]["toolCalls"]
        assert pending["name"] == "get_weather"

        answer = user_message(data={"approved": True}, task_id=task.id)
        done = await send(client, answer)
        assert done.status.state == COMPLETED and "sunny" in answer_text(done)
        assert len(await tool_calls(tool_server)) == 1


async def test_plain_text_reject(approval_stack: Stack, tool_server: FakeServer) -> None:
    async with a2a_client(approval_stack.url, streaming=False) as client:
        task = await send(client, user_message("Weather in Bern?"))
        done = await send(client, user_message("Reject: too expensive", task_id=task.id))
        assert done.status.state == COMPLETED
        assert "rejected" in answer_text(done) and "too expensive" in answer_text(done)
        assert await tool_calls(tool_server) == []


async def test_plain_text_answer_is_the_next_turn(
    approval_stack: Stack, tool_server: FakeServer, openai_fake: FakeServer
) -> None:
    """Any other text rejects the pending call, and the model reads it as the user's turn
    (here it asks again); the task's history keeps the client's message ids."""
    async with a2a_client(approval_stack.url, streaming=False) as client:
        first = user_message("Weather in Basel?")
        task = await send(client, first)
        assert task.status.state == INPUT_REQUIRED
        question = user_message("why do you need that?", task_id=task.id)
        again = await send(client, question)
        assert again.status.state == INPUT_REQUIRED  # the model called the tool again
        turns = (await fake_requests(openai_fake))[-1]["messages"]
        assert [t["role"] for t in turns[-3:]] == ["assistant", "tool", "user"]
        assert "rejected" in turns[-2]["content"]
        assert turns[-1]["content"] == "why do you need that?"
        done = await send(client, user_message("approve", task_id=task.id))
        assert done.status.state == COMPLETED and "sunny" in answer_text(done)
        assert len(await tool_calls(tool_server)) == 1
        users = [m for m in done.history if m.role == Role.ROLE_USER]
        assert [m.message_id for m in users[:2]] == [first.message_id, question.message_id]
        assert get_message_text(users[1]) == "why do you need that?"


async def test_each_call_decided_on_its_own(
    approval_stack: Stack, tool_server: FakeServer, transport: str
) -> None:
    tools = [weather_tool(tool_server), weather_tool(tool_server, name="get_forecast")]
    async with a2a_client(
        approval_stack.url, streaming=False, hitl=True, transport=transport
    ) as client:
        message = user_message("Both please [two tools]", metadata={"tools": tools})
        task = await send(client, message)
        first, second = hitl_payload(task.status.message)["tools"]
        assert {first["name"], second["name"]} == {"get_weather", "get_forecast"}

        with pytest.raises(InvalidParamsError, match="no approval"):
            await send(client, hitl_answer(task, [{"id": first["id"], "approved": True}]))
        with pytest.raises(InvalidParamsError, match="no pending tool call"):
            await send(
                client,
                hitl_answer(
                    task,
                    [
                        {"id": first["id"], "approved": True},
                        {"id": second["id"], "approved": True},
                        {"id": "call_999", "approved": True},
                    ],
                ),
            )
        done = await send(
            client,
            hitl_answer(
                task,
                [
                    {"id": first["id"], "approved": True},
                    {"id": second["id"], "approved": False, "rejection_reason": "one is enough"},
                ],
            ),
        )
        assert done.status.state == COMPLETED
        assert [c["idempotency_key"] for c in await tool_calls(tool_server)] == [first["id"]]
        assert "one is enough" in answer_text(done)


async def test_extension_is_echoed(approval_stack: Stack) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "nope"}}
    headers = {"A2A-Version": "1.0", "A2A-Extensions": HITL_EXTENSION_URI}
    response = await approval_stack.http.post("/a2a", json=body, headers=headers)
    assert response.headers["a2a-extensions"] == HITL_EXTENSION_URI
    plain = await approval_stack.http.post("/a2a", json=body, headers={"A2A-Version": "1.0"})
    assert "a2a-extensions" not in plain.headers


async def test_list_tasks_last_updated_first(approval_stack: Stack) -> None:
    """ListTasks orders by last update (spec 3.1.4), not by creation."""
    async with a2a_client(approval_stack.url, streaming=False) as client:
        older = await send(client, user_message("Weather in Oslo?"))
        newer = await send(client, user_message("Weather in Rome?"))
        listed = await client.list_tasks(ListTasksRequest())
        assert [t.id for t in listed.tasks[:2]] == [newer.id, older.id]
        assert (await send(client, user_message("approve", task_id=older.id))).status.state == (
            COMPLETED
        )
        listed = await client.list_tasks(ListTasksRequest())
        assert [t.id for t in listed.tasks[:2]] == [older.id, newer.id]
        since = await client.list_tasks(
            ListTasksRequest(status_timestamp_after=listed.tasks[1].status.timestamp)
        )
        assert [t.id for t in since.tasks] == [older.id] and since.total_size == 1


@pytest.mark.parametrize(
    ("text", "approved", "reason", "said"),
    [
        ("approve", True, None, None),
        ("Yes.", True, None, None),
        ("reject: too cold", False, "too cold", None),
        ("No", False, None, None),
        # only an answer that is nothing but a yes approves
        ("ok, but first tell me what this deletes?", False, ANSWERED, "ok, but first tell me"),
        ("Yes? what does it do", False, ANSWERED, "Yes? what does it do"),
        ("Approve? No way", False, ANSWERED, "Approve? No way"),
    ],
)
def test_text_answers(text: str, approved: bool, reason: str | None, said: str | None) -> None:
    decision, message = decision_from(Message(parts=[new_text_part(text)]), [])
    assert decision.approved is approved and decision.reason == reason
    assert (message or "").startswith(said or "")
    assert (message is None) == (said is None)
