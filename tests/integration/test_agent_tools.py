"""Agents as tools: a task of one service (the parent) calls the A2A agent of another (the
child, a second service on the same Temporal server) as an `agent` tool. When the child
pauses for a person, so does the parent, with the child's calls or questions `nested`; the
person decides at the parent (REST, or A2A with kagent's HITL extension over JSON-RPC,
HTTP+JSON and gRPC), the decision reaches the child's task, and the child's tool runs once.
(A parent worker killed while the child works: `test_crash.py`.)"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from a2a.types import GetTaskRequest, Task, TaskState, TaskStatusUpdateEvent
from a2a.utils.constants import TransportProtocol

from temporal_executor.api.a2a.hitl import HITL_EXTENSION_URI
from temporal_executor.workflows import workflow_id
from tests.a2a.conftest import (
    a2a_client,
    a2a_config,
    answer_text,
    collect,
    send_request,
    user_message,
)
from tests.a2a.test_approval import hitl_answer, hitl_payload
from tests.conftest import (
    Stack,
    config_data,
    enqueue,
    running_stack,
    weather_tool,
)
from tests.fakes.server import FakeServer

MODEL = {"provider": "openai", "model": "gpt-4o-mini"}
ASKS_THE_HELPER = {"tool_calls": [{"name": "helper", "arguments": {"request": "Weather in Oslo?"}}]}


def agent_tool(url: str, **config: Any) -> dict[str, Any]:
    return {
        "name": "helper",
        "type": "agent",
        "description": "Answers weather questions.",
        "config": {"url": url, **config},
    }


def child_config(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path, **agent: Any
) -> dict[str, Any]:
    """The child: an A2A agent with the weather tool, which needs approval (`agent`
    overrides its default agent's keys)."""
    where = tmp_path / "child"
    where.mkdir(exist_ok=True)
    data = a2a_config(temporal, openai_fake, tool_server, where, require_approval=True)
    data["a2a"]["default_agent"].update(agent)
    return data


def working_child(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path, delay: float
) -> dict[str, Any]:
    """A child whose agent calls a slow tool (`delay` seconds, arguments `{"query": <the
    request>}`), without approval."""
    slow = weather_tool(tool_server, name="slow_lookup", path=f"/slow?delay={delay:g}")
    return child_config(
        temporal, openai_fake, tool_server, tmp_path, tools=[slow], require_approval=False
    )


async def slow_calls(tool_server: FakeServer, query: str | None = None) -> list[dict[str, Any]]:
    """The slow tool's calls (for `query`)."""
    calls = await tool_calls(tool_server, "/slow")
    return [c for c in calls if query is None or c["arguments"]["query"] == query]


async def slow_call(
    tool_server: FakeServer, query: str | None = None, log: Path | None = None
) -> None:
    """Until the slow tool is called (for `query`); else a failure showing `log` (a worker's)."""
    for _ in range(600):
        if await slow_calls(tool_server, query):
            return
        await asyncio.sleep(0.05)
    shown = await asyncio.to_thread(log.read_text) if log else ""
    raise AssertionError(f"the slow tool was never called (for {query!r})\n{shown}")


@pytest.fixture
async def child(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> AsyncIterator[Stack]:
    async with running_stack(child_config(temporal, openai_fake, tool_server, tmp_path)) as s:
        yield s


async def until(stack: Stack, task_id: str, status: str) -> dict[str, Any]:
    for _ in range(600):
        task = await stack.task(task_id)
        if task["status"] == status:
            return task
        await asyncio.sleep(0.1)
    raise AssertionError(f"task {task_id} never reached {status}: {task}")


async def tool_calls(tool_server: FakeServer, path: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as http:
        calls: list[dict[str, Any]] = (await http.get(tool_server.base_url + "/_tool/calls")).json()
    return [c for c in calls if c["path"] == path]


async def started_input(stack: Stack, task_id: str) -> dict[str, Any]:
    """The workflow input a task was started with, as its history holds it."""
    history = await stack.services.client.get_workflow_handle(workflow_id(task_id)).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    data: dict[str, Any] = json.loads(started.input.payloads[0].data)
    return data


async def test_a_childs_approval_is_decided_at_the_parent_over_rest(
    stack: Stack, child: Stack, openai_fake: FakeServer, tool_server: FakeServer
) -> None:
    await enqueue(openai_fake, [ASKS_THE_HELPER])
    started = await stack.execute(
        user_message="Ask the helper", model_config=MODEL, tools=[agent_tool(child.url)]
    )
    task_id = started["task_id"]
    state = await until(stack, task_id, "awaiting_approval")
    pending = state["pending_approval"]
    (call,) = pending["tool_calls"]
    assert (call["name"], call["arguments"]) == ("get_weather", {"query": "Weather in Oslo?"})
    nested = pending["nested"]
    assert nested["subagent_name"] == "helper"
    assert nested["tools"] == [
        {"id": call["id"], "call_id": call["id"], "name": "get_weather", "args": call["arguments"]}
    ]
    assert nested["tool_call"]["name"] == "helper"
    assert nested["tool_call"]["arguments"] == {"request": "Weather in Oslo?"}
    child_task = await child.task(nested["task_id"])
    assert child_task["status"] == "awaiting_approval"
    assert child_task["session_id"] == nested["context_id"]

    inbox = (await stack.http.get("/api/v1/approvals")).json()["approvals"]
    (row,) = [r for r in inbox if r["task_id"] == task_id]
    assert (row["tool_call_id"], row["nested"]["task_id"]) == (call["id"], nested["task_id"])

    approve = f"/api/v1/approve/{workflow_id(task_id)}"
    edited = await stack.http.post(approve, json={"approved": True, "arguments": {"query": "x"}})
    assert edited.status_code == 400 and "arguments" in edited.json()["error"]["message"]
    remembered = await stack.http.post(approve, json={"approved": True, "remember": "session"})
    assert remembered.status_code == 400 and "remember" in remembered.json()["error"]["message"]
    assert await tool_calls(tool_server, "/weather") == []  # nothing ran before the decision

    decided = await stack.http.post(approve, json={"tool_calls": {call["id"]: {"approved": True}}})
    assert decided.status_code == 200, decided.text
    events = await stack.events(task_id)
    final = await stack.task(task_id)
    assert final["status"] == "completed", final
    child_answer = (await child.task(nested["task_id"]))["result"]["content"]
    assert child_answer.startswith("Tool results: get_weather=")
    assert final["result"]["content"] == f"Tool results: helper={child_answer}"
    assert len(await tool_calls(tool_server, "/weather")) == 1

    shown = "".join(e["data"]["text"] for e in events if e["event"] == "tool.progress")
    assert shown == child_answer  # the child's text, as it wrote it
    kinds = [e["event"] for e in events if e["event"] not in ("llm.delta", "tool.progress")]
    assert kinds == [
        "task.started",
        "llm.message",
        "tool.call",
        "approval.required",
        "approval.decided",
        "tool.result",
        "llm.message",
        "task.completed",
    ]
    # The request went once, under the call's id; lineage headers reached the child.
    child_input = await started_input(child, nested["task_id"])
    assert child_input["user_message_id"] == nested["tool_call"]["id"]
    assert child_input["root_context_id"] == started["session_id"]


@pytest.mark.parametrize(
    "transport",
    [TransportProtocol.JSONRPC, TransportProtocol.HTTP_JSON, TransportProtocol.GRPC],
    ids=["jsonrpc", "http_json", "grpc"],
)
async def test_a_childs_approval_is_decided_at_the_parent_over_a2a(
    temporal: str,
    openai_fake: FakeServer,
    tool_server: FakeServer,
    tmp_path: Path,
    child: Stack,
    transport: str,
) -> None:
    data = a2a_config(temporal, openai_fake, tool_server, tmp_path)
    data["a2a"]["default_agent"]["tools"] = [agent_tool(child.url, isolate_sessions=True)]
    await enqueue(openai_fake, [ASKS_THE_HELPER])
    async with (
        running_stack(data) as parent,
        a2a_client(parent.url, hitl=True, transport=transport) as client,
    ):
        events = await collect(client.send_message(send_request(user_message("Ask the helper"))))
        task, paused = events[0], events[-1]
        assert isinstance(task, Task) and isinstance(paused, TaskStatusUpdateEvent)
        assert paused.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        request = hitl_payload(paused.status.message)
        assert request["hint"] == "Remote agent 'helper' requires approval for tool(s): get_weather"
        (own,) = request["tools"]
        assert (own["name"], own["args"]) == ("helper", {"request": "Weather in Oslo?"})
        nested = request["nested"]
        # kagent's NestedHitlRequest refuses any other key.
        assert sorted(nested) == ["context_id", "subagent_name", "task_id", "tools"]
        (tool,) = nested["tools"]
        assert (tool["name"], tool["args"]) == ("get_weather", {"query": "Weather in Oslo?"})
        assert await tool_calls(tool_server, "/weather") == []

        answer = hitl_answer(task, [{"id": tool["id"], "approved": True}])
        if transport == TransportProtocol.JSONRPC:
            del answer.parts[:]  # as kagent's Python runtime sends a decision: no parts
        resumed = await collect(client.send_message(send_request(answer)))
        assert resumed[-1].status.state == TaskState.TASK_STATE_COMPLETED
        done = await client.get_task(GetTaskRequest(id=task.id))
        assert answer_text(done).startswith("Tool results: helper=Tool results: get_weather=")
    assert len(await tool_calls(tool_server, "/weather")) == 1
    assert (await child.task(nested["task_id"]))["status"] == "completed"


async def test_a_childs_questions_are_answered_at_the_parent(
    temporal: str,
    openai_fake: FakeServer,
    tool_server: FakeServer,
    tmp_path: Path,
) -> None:
    asks = {"name": "ask_user", "type": "builtin"}
    questions = [{"question": "Which city?", "choices": ["Oslo", "Bergen"]}]
    asking = {"tool_calls": [{"name": "ask_user", "arguments": {"questions": questions}}]}
    data = a2a_config(temporal, openai_fake, tool_server, tmp_path)
    child_data = child_config(
        temporal, openai_fake, tool_server, tmp_path, tools=[asks], require_approval=False
    )
    async with running_stack(child_data) as child:
        data["a2a"]["default_agent"]["tools"] = [agent_tool(child.url)]
        await enqueue(openai_fake, [ASKS_THE_HELPER, asking])  # the parent's turn, the child's
        async with running_stack(data) as parent, a2a_client(parent.url, hitl=True) as client:
            events = await collect(client.send_message(send_request(user_message("Go"))))
            task, paused = events[0], events[-1]
            request = hitl_payload(paused.status.message)
            assert request["type"] == "ask_user_request"
            assert paused.status.message.parts[0].text == "Remote agent 'helper' asks: Which city?"
            (asked,) = request["nested"]["tools"]
            assert (
                asked["name"] == "ask_user" and request["questions"][0]["question"] == "Which city?"
            )
            assert request["id"] != asked["id"]  # ours (the call of the helper), the child's

            state = await parent.task(task.id)
            assert state["pending_input"]["id"] == asked["id"]
            assert state["pending_input"]["nested"]["questions"][0]["choices"] == ["Oslo", "Bergen"]

            # The answer names the child's question (nested.tools[0].id), as kagent's does.
            answer = user_message(
                "answered",
                task_id=task.id,
                context_id=task.context_id,
                extensions=[HITL_EXTENSION_URI],
                metadata={
                    HITL_EXTENSION_URI: {
                        "type": "ask_user_response",
                        "id": asked["id"],
                        "answers": [{"answer": ["Bergen"]}],
                    }
                },
            )
            resumed = await collect(client.send_message(send_request(answer)))
            assert resumed[-1].status.state == TaskState.TASK_STATE_COMPLETED
            done = await client.get_task(GetTaskRequest(id=task.id))
        child_task = await child.task(request["nested"]["task_id"])
        assert child_task["status"] == "completed"
        assert "Bergen" in child_task["result"]["content"]
        assert "Bergen" in answer_text(done)


async def test_a_cancelled_task_cancels_the_childs(
    stack: Stack,
    temporal: str,
    openai_fake: FakeServer,
    tool_server: FakeServer,
    tmp_path: Path,
) -> None:
    child_data = working_child(temporal, openai_fake, tool_server, tmp_path, 20)
    # The child's tool call as a regular activity, told of the cancel at its next heartbeat:
    # a local one would hear of it only when its workflow task is next heartbeated (~8 s).
    child_data["executor"]["local_activities"] = False
    async with running_stack(child_data) as child:
        await enqueue(openai_fake, [ASKS_THE_HELPER])
        started = await stack.execute(
            user_message="Ask the helper", model_config=MODEL, tools=[agent_tool(child.url)]
        )
        await slow_call(tool_server)
        (child_task,) = (await child.http.get("/api/v1/tasks")).json()["tasks"]
        cancelled = await stack.http.post(f"/api/v1/tasks/{started['task_id']}/cancel")
        assert cancelled.status_code == 202, cancelled.text
        await until(stack, started["task_id"], "cancelled")
        await until(child, child_task["task_id"], "cancelled")


async def test_agent_calls_take_their_turn_under_tool_limits(
    temporal: str,
    openai_fake: FakeServer,
    tool_server: FakeServer,
    tmp_path: Path,
) -> None:
    child_data = working_child(temporal, openai_fake, tool_server, tmp_path, 0.5)
    data = config_data(temporal, openai_fake.url, tmp_path)
    data["tools"]["limits"] = {"tools": {"helper": {"concurrency": 1}}}
    two = [{"name": "helper", "arguments": {"request": f"Weather in {c}?"}} for c in "AB"]
    async with running_stack(child_data) as child, running_stack(data) as parent:
        await enqueue(openai_fake, [{"tool_calls": two}])
        started = await parent.execute(
            user_message="Ask twice",
            model_config=MODEL,
            tools=[agent_tool(child.url, isolate_sessions=True)],
        )
        events = await parent.events(started["task_id"])
        final = await parent.task(started["task_id"])
    assert final["status"] == "completed", final
    waits = [e["data"] for e in events if e["event"] == "task.waiting_for_capacity"]
    assert waits and {w["limit"] for w in waits} == {"tool:helper"}
    runs = sorted((c["time"], c["arguments"]["query"]) for c in await slow_calls(tool_server))
    assert [query for _, query in runs] in (
        ["Weather in A?", "Weather in B?"],
        ["Weather in B?", "Weather in A?"],
    )
    assert runs[1][0] - runs[0][0] >= 0.5  # one agent call at a time: the second after the first


async def test_a_new_message_interrupts_a_task_waiting_on_a_childs_question(
    temporal: str,
    openai_fake: FakeServer,
    tool_server: FakeServer,
    tmp_path: Path,
) -> None:
    """The parent waits for an answer to the child's question; a new message in its session
    with `interrupt` stops it: the agent call ends 'no answer' and the task is cancelled
    (`interrupted`), and the new message's task runs."""
    asks = {"name": "ask_user", "type": "builtin"}
    questions = [{"question": "Which city?", "choices": ["Oslo", "Bergen"]}]
    asking = {"tool_calls": [{"name": "ask_user", "arguments": {"questions": questions}}]}
    data = config_data(temporal, openai_fake.url, tmp_path)
    child_data = child_config(
        temporal, openai_fake, tool_server, tmp_path, tools=[asks], require_approval=False
    )
    async with running_stack(child_data) as child, running_stack(data) as parent:
        await enqueue(openai_fake, [ASKS_THE_HELPER, asking])  # the parent's turn, the child's
        session = {"session_id": "nested-stop", "model_config": MODEL}
        await parent.execute(
            task_id="n-a", user_message="Go", tools=[agent_tool(child.url)], **session
        )
        waiting = await until(parent, "n-a", "awaiting_input")
        assert waiting["pending_input"]["nested"]["questions"][0]["question"] == "Which city?"
        await parent.execute(
            task_id="n-b",
            user_message="never mind [no tools]",
            concurrent_messages="interrupt",
            **session,
        )
        events = await parent.events("n-a")
        stopped = await parent.task("n-a")
        assert (stopped["status"], stopped["error"]["code"]) == ("cancelled", "interrupted")
        (result,) = [e["data"] for e in events if e["event"] == "tool.result"]
        assert result["content"].startswith("no answer: the task was stopped by a new message")
        assert "input.answered" not in [e["event"] for e in events]
        assert (await parent.events("n-b"))[-1]["event"] == "task.completed"
