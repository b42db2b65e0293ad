"""A second message while the session's task runs, over REST: refused (`reject`), queued
behind it, durably (`enqueue`), or that task stops at its next step, keeping what it did
(`interrupt`), or is cancelled and its turn taken out of the transcript (`rollback`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType

from temporal_executor.workflows import workflow_id
from tests.conftest import (
    Stack,
    config_data,
    fake_requests,
    read_sse,
    running_stack,
    weather_tool,
)
from tests.fakes.server import FakeServer
from tests.integration.test_agent_task import wait_status

MODEL = {"provider": "openai", "model": "gpt-4o-mini", "stream": False}


@pytest.fixture
def queueing(temporal: str, openai_fake: FakeServer, tmp_path: Path) -> dict[str, Any]:
    """A config whose messages wait by default (`executor.concurrent_messages: enqueue`)."""
    return config_data(temporal, openai_fake.url, tmp_path, concurrent_messages="enqueue")


@pytest.fixture
async def queue_stack(queueing: dict[str, Any]) -> AsyncIterator[Stack]:
    async with running_stack(queueing) as stack:
        yield stack


async def send(stack: Stack, task_id: str, text: str, **body: Any) -> dict[str, Any]:
    return await stack.execute(
        task_id=task_id, session_id=body.pop("session_id", "chat"), user_message=text,
        model_config=MODEL, **body,
    )  # fmt: skip


def types(events: list[dict[str, Any]]) -> list[str]:
    return [event["event"] for event in events]


async def test_enqueue_waits_in_order_and_survives_a_restart(
    queueing: dict[str, Any], tool_server: FakeServer
) -> None:
    tools = [weather_tool(tool_server)]
    async with running_stack(queueing) as stack:
        await send(stack, "q-a", "weather?", tools=tools, require_approval=True)
        await wait_status(stack, "q-a", "awaiting_approval")
        b = await send(stack, "q-b", "second [no tools]")  # the server's default: enqueue
        c = await send(stack, "q-c", "never sent [no tools]", concurrent_messages="enqueue")
        d = await send(stack, "q-d", "third [no tools]", concurrent_messages="enqueue")
        assert (b["status"], c["status"], d["status"]) == ("queued",) * 3
        refused = await stack.http.post(
            "/api/v1/execute",
            json={"session_id": "chat", "user_message": "no", "model_config": MODEL,
                  "concurrent_messages": "reject"},
        )  # fmt: skip
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["details"] == {"session_id": "chat", "task_id": "q-d"}
        await wait_status(stack, "q-c", "queued")
        behind = {t: (await stack.task(t))["queued_behind"] for t in ("q-b", "q-c", "q-d")}
        assert behind == {"q-b": "q-a", "q-c": "q-b", "q-d": "q-c"}
        # One of them is cancelled while it waits: the one behind it takes its place.
        assert (await stack.http.post("/api/v1/tasks/q-c/cancel")).status_code == 202
        await wait_status(stack, "q-c", "cancelled")
        await turn_asked(stack, "q-d", times=2)  # then asks to follow q-b: let it answer
    # Everything stops (API and worker) and starts again: the queue is durable.
    async with running_stack(queueing) as stack:
        approve = await stack.http.post(
            "/api/v1/approve/agent-execution-q-a", json={"approved": True}
        )
        assert approve.status_code == 200, approve.text
        for task_id in ("q-a", "q-b", "q-d"):
            await stack.events(task_id)  # to its end
        logs = {t: await stack.services.tasks.log(t) for t in ("q-a", "q-b", "q-c", "q-d")}
        session = (await stack.http.get("/api/v1/sessions/chat")).json()
        # A fork of a task that was queued starts at once: its parent's place is not its own.
        fork = await stack.http.post("/api/v1/tasks/q-b/fork", json={"at_step": 1})
        assert fork.status_code == 202, fork.text
        fork_events = await stack.events(fork.json()["task_id"])
        assert types(fork_events)[0] == "task.started"

    def at(task_id: str, event: str) -> float:
        return next(e.time for e in logs[task_id] if e.type == event)

    assert [e.type for e in logs["q-b"][:3]] == ["task.queued", "task.started", "llm.message"]
    assert logs["q-b"][0].data == {"behind": "q-a"}
    assert [e.type for e in logs["q-c"]] == ["task.queued", "task.cancelled"]  # never ran
    assert all(logs[t][-1].type == "task.completed" for t in ("q-a", "q-b", "q-d"))
    # Each started once the one ahead of it had ended, in the order sent.
    assert at("q-b", "task.started") >= at("q-a", "task.completed")
    assert at("q-d", "task.started") >= at("q-b", "task.completed")
    texts = [m.get("content") for m in session["messages"] if m["role"] in ("user", "assistant")]
    second, third = "second [no tools]", "third [no tools]"
    assert texts[-4:] == [second, f"Echo: {second}", third, f"Echo: {third}"]
    assert [t["task_id"] for t in session["tasks"]] == ["q-a", "q-b", "q-c", "q-d"]


async def test_interrupt_and_rollback_of_a_call_in_flight(
    queueing: dict[str, Any], openai_fake: FakeServer, tool_server: FakeServer
) -> None:
    """With regular activities, every call ends a workflow task: the task sees the message
    at its next step, and a cancellation reaches it (and its call in flight) at once. (With
    local activities, when its workflow task ends: see README.)"""
    queueing["executor"]["local_activities"] = False
    async with running_stack(queueing) as stack:
        await interrupted(stack, openai_fake, tool_server)
        await rolled_back(stack, openai_fake, tool_server)


async def interrupted(stack: Stack, openai_fake: FakeServer, tool_server: FakeServer) -> None:
    """The task stops once its call in flight has finished, keeping it."""
    slow = weather_tool(tool_server, path="/slow?delay=1.5")
    await send(stack, "i-a", "weather?", tools=[slow], session_id="chat-i")
    await wait_for_event(stack, "i-a", "tool.call")
    await send(
        stack, "i-d", "never mind [no tools]", concurrent_messages="interrupt", session_id="chat-i"
    )
    a_events = await stack.events("i-a")
    d_events = await stack.events("i-d")
    a, d = await stack.task("i-a"), await stack.task("i-d")

    assert (a["status"], a["error"]["code"], a["iterations"]) == ("cancelled", "interrupted", 1)
    assert "i-d" in a["error"]["message"]
    assert "tool.result" in types(a_events)  # the call in flight finished, and was kept
    assert d["status"] == "completed" and d["result"]["content"] == "Echo: never mind [no tools]"
    assert types(d_events)[0] == "task.queued"
    # The new message continues the conversation: its LLM call saw the interrupted turn.
    last = (await fake_requests(openai_fake))[-1]["messages"]
    assert [m["role"] for m in last] == ["user", "assistant", "tool", "user"]
    assert "done" in last[2]["content"]  # the slow tool's result


async def test_interrupt_while_awaiting_approval_refuses_the_calls(
    queue_stack: Stack, tool_server: FakeServer
) -> None:
    stack = queue_stack
    await send(stack, "p-a", "weather?", tools=[weather_tool(tool_server)], require_approval=True)
    await wait_status(stack, "p-a", "awaiting_approval")
    await send(stack, "p-d", "stop that [no tools]", concurrent_messages="interrupt")
    a_events = await stack.events("p-a")
    await stack.events("p-d")
    session = (await stack.http.get("/api/v1/sessions/chat")).json()

    decided = next(e for e in a_events if e["event"] == "approval.decided")
    assert decided["data"]["approved"] is False and decided["data"]["by"] == "stop"
    assert types(a_events)[-1] == "task.cancelled"
    roles = [m["role"] for m in session["messages"]]
    assert roles == ["user", "assistant", "tool", "user", "assistant"]
    assert "rejected" in session["messages"][2]["content"]


async def rolled_back(stack: Stack, openai_fake: FakeServer, tool_server: FakeServer) -> None:
    """The task and its call in flight are cancelled; its turn leaves the transcript."""
    first = await stack.http.post(
        "/api/v1/execute?wait=true",
        json={"task_id": "r-0", "session_id": "chat-r", "user_message": "hello [no tools]",
              "model_config": MODEL},
    )  # fmt: skip
    assert first.json()["status"] == "completed"
    slow = weather_tool(tool_server, path="/slow?delay=30")
    await send(stack, "r-a", "weather?", tools=[slow], session_id="chat-r")
    await wait_for_event(stack, "r-a", "tool.call")
    await send(
        stack, "r-d", "forget it [no tools]", concurrent_messages="rollback", session_id="chat-r"
    )
    await stack.events("r-a")  # ended long before the slow tool would have answered
    d_events = await stack.events("r-d")
    a = await stack.task("r-a")
    session = (await stack.http.get("/api/v1/sessions/chat-r")).json()

    assert (a["status"], a["error"]["code"]) == ("cancelled", "rolled_back")
    assert types(d_events)[-1] == "task.completed"
    texts = [m.get("content") for m in session["messages"]]
    assert texts == [
        "hello [no tools]", "Echo: hello [no tools]", "forget it [no tools]",
        "Echo: forget it [no tools]",
    ]  # fmt: skip
    last = (await fake_requests(openai_fake))[-1]["messages"]
    assert [m["content"] for m in last] == texts[:3]  # no trace of the rolled-back turn


async def turn_asked(stack: Stack, task_id: str, times: int) -> None:
    """Wait until the queued task's `session_turn` has answered `times` times (a worker
    stopped while one asks holds its shutdown until the follow's wait has passed)."""
    handle = stack.services.client.get_workflow_handle(workflow_id(task_id))
    for _ in range(200):
        events = (await handle.fetch_history()).events
        done = [e for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED]
        if len(done) >= times:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{task_id}'s turn was asked fewer than {times} times")


async def wait_for_event(stack: Stack, task_id: str, event: str) -> None:
    await read_sse(stack.http, task_id, until=event)
