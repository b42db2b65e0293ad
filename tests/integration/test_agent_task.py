"""A task end to end on a real Temporal server: the LLM (OpenAI wire fake, official SDK),
an HTTP tool, approval, cancellation, max_iterations — observed as a user would, over HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType as HistoryEventType

from tests.conftest import Stack, read_sse, weather_tool
from tests.fakes.server import FakeServer

MODEL = {"provider": "openai", "model": "gpt-4o-mini", "temperature": 0.2}


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["event"] for e in events if e["event"] != "llm.delta"]


def assert_gap_free(events: list[dict[str, Any]]) -> None:
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))


async def activity_types(stack: Stack, task_id: str) -> list[str]:
    """The LLM and tool calls the task's history shows: regular activities scheduled, and
    local ones recorded as markers (without the `record` steps), once the workflow has
    completed (local activities' markers reach history when their workflow task completes,
    which may be after the task's terminal event)."""
    handle = stack.services.client.get_workflow_handle(f"agent-execution-{task_id}")
    await handle.result()
    history = await handle.fetch_history()
    found = []
    for e in history.events:
        if e.event_type == HistoryEventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            found.append(e.activity_task_scheduled_event_attributes.activity_type.name)
        elif e.event_type == HistoryEventType.EVENT_TYPE_MARKER_RECORDED:
            if e.marker_recorded_event_attributes.marker_name == "core_patch":
                continue  # a `workflow.patched` marker, not a local activity
            marker = e.marker_recorded_event_attributes.details["data"].payloads[0]
            found.append(json.loads(marker.data)["activity_type"])
    return [name for name in found if name != "record"]


async def wait_status(stack: Stack, task_id: str, status: str) -> dict[str, Any]:
    for _ in range(200):
        task = await stack.task(task_id)
        if task["status"] == status:
            return task
        await asyncio.sleep(0.05)
    raise AssertionError(f"task {task_id} never reached {status}: {task}")


async def calls_to(tool_server: FakeServer) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as http:
        result: list[dict[str, Any]] = (
            await http.get(tool_server.base_url + "/_tool/calls")
        ).json()
        return result


async def test_task_with_one_tool_call(stack: Stack, tool_server: FakeServer) -> None:
    accepted = await stack.execute(
        task_id="weather-1",
        session_id="session-1",
        user_message="What is the weather in San Francisco?",
        system_message="You are a helpful weather assistant.",
        model_config=MODEL,
        tools=[weather_tool(tool_server)],
    )
    assert accepted["workflow_id"] == "agent-execution-weather-1"
    assert accepted["status"] == "running"

    events = await stack.events("weather-1")
    assert_gap_free(events)
    assert types(events) == [
        "task.started",
        "llm.message",
        "tool.call",
        "tool.result",
        "llm.message",
        "task.completed",
    ]
    deltas = "".join(e["data"]["text"] for e in events if e["event"] == "llm.delta")
    final = next(e for e in reversed(events) if e["event"] == "llm.message")["data"]["content"]
    assert deltas == final and final.startswith("Tool results: get_weather=")
    assert "sunny" in final

    task = await stack.task("weather-1")
    assert task["status"] == "completed"
    assert task["session_id"] == "session-1"
    assert task["result"]["content"] == final
    assert task["iterations"] == 2
    usage = task["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert task["pending_approval"] is None and task["error"] is None

    call_id = next(e for e in events if e["event"] == "tool.call")["data"]["id"]
    calls = await calls_to(tool_server)
    assert [c["idempotency_key"] for c in calls] == [call_id]
    assert calls[0]["arguments"] == {"query": "What is the weather in San Francisco?"}

    scheduled = await activity_types(stack, "weather-1")
    assert scheduled == ["invoke_llm", "execute_tool", "invoke_llm"]


async def test_non_streaming_and_wait(stack: Stack, tool_server: FakeServer) -> None:
    response = await stack.http.post(
        "/api/v1/execute?wait=true",
        json={
            "user_message": "Weather in Paris?",
            "model_config": {**MODEL, "stream": False},
            "tools": [weather_tool(tool_server)],
        },
    )
    assert response.status_code == 200, response.text
    task = response.json()
    assert task["status"] == "completed"
    assert task["result"]["content"].startswith("Tool results: get_weather=")
    events = await stack.events(task["task_id"])
    assert not [e for e in events if e["event"] == "llm.delta"]


async def test_repost_returns_the_same_task(stack: Stack, tool_server: FakeServer) -> None:
    body = {"task_id": "same-1", "user_message": "hello [no tools]", "model_config": MODEL}
    first = await stack.execute(**body)
    second = await stack.execute(**body)
    assert first["workflow_id"] == second["workflow_id"]
    await stack.events("same-1")
    third = await stack.execute(**body)
    assert third["status"] == "completed"
    handle = stack.services.client.get_workflow_handle("agent-execution-same-1")
    history = await handle.fetch_history()
    starts = [
        e
        for e in history.events
        if e.event_type == HistoryEventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
    ]
    assert len(starts) == 1
    assert (await stack.task("same-1"))["result"]["content"] == "Echo: hello [no tools]"


async def test_approval_then_approve(stack: Stack, tool_server: FakeServer) -> None:
    await stack.execute(
        task_id="approve-1",
        user_message="Weather in Oslo?",
        model_config=MODEL,
        tools=[weather_tool(tool_server)],
        require_approval=True,
    )
    task = await wait_status(stack, "approve-1", "awaiting_approval")
    pending = task["pending_approval"]["tool_calls"]
    assert [c["name"] for c in pending] == ["get_weather"]
    assert pending[0]["arguments"] == {"query": "Weather in Oslo?"}
    assert await calls_to(tool_server) == []

    response = await stack.http.post(
        "/api/v1/approve/agent-execution-approve-1", json={"approved": True}
    )
    assert response.status_code == 200, response.text
    again = await stack.http.post(
        "/api/v1/approve/agent-execution-approve-1", json={"approved": True}
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"

    events = await stack.events("approve-1")
    assert types(events) == [
        "task.started",
        "llm.message",
        "tool.call",
        "approval.required",
        "approval.decided",
        "tool.result",
        "llm.message",
        "task.completed",
    ]
    assert len(await calls_to(tool_server)) == 1
    assert (await stack.task("approve-1"))["status"] == "completed"


async def test_approval_then_reject(stack: Stack, tool_server: FakeServer) -> None:
    await stack.execute(
        task_id="reject-1",
        user_message="Weather in Rome?",
        model_config=MODEL,
        tools=[weather_tool(tool_server)],
        require_approval=["get_weather"],
    )
    await wait_status(stack, "reject-1", "awaiting_approval")
    response = await stack.http.post(
        "/api/v1/approve/agent-execution-reject-1",
        json={"approved": False, "reason": "not today"},
    )
    assert response.status_code == 200
    events = await stack.events("reject-1")
    result = next(e for e in events if e["event"] == "tool.result")["data"]
    assert result["is_error"] is True
    assert "rejected" in result["content"] and "not today" in result["content"]
    task = await stack.task("reject-1")
    assert task["status"] == "completed"
    # The LLM saw the rejection: the fake answers with the tool results it was sent.
    assert "rejected" in task["result"]["content"]
    assert await calls_to(tool_server) == []


async def test_cancel_while_awaiting_approval(stack: Stack, tool_server: FakeServer) -> None:
    await stack.execute(
        task_id="cancel-1",
        user_message="Weather in Lima?",
        model_config=MODEL,
        tools=[weather_tool(tool_server)],
        require_approval=True,
    )
    await wait_status(stack, "cancel-1", "awaiting_approval")
    response = await stack.http.post("/api/v1/tasks/cancel-1/cancel")
    assert response.status_code == 202
    events = await stack.events("cancel-1")
    assert events[-1]["event"] == "task.cancelled"
    task = await stack.task("cancel-1")
    assert task["status"] == "cancelled" and task["pending_approval"] is None
    late = await stack.http.post(
        "/api/v1/approve/agent-execution-cancel-1", json={"approved": True}
    )
    assert late.status_code == 409
    assert (await stack.http.post("/api/v1/tasks/cancel-1/cancel")).status_code == 409
    assert await calls_to(tool_server) == []


async def test_max_iterations_fails_and_keeps_transcript(
    stack: Stack, tool_server: FakeServer
) -> None:
    await stack.execute(
        task_id="loop-1",
        user_message="[loop] keep calling",
        model_config=MODEL,
        tools=[weather_tool(tool_server)],
        max_iterations=2,
    )
    events = await stack.events("loop-1")
    assert events[-1]["event"] == "task.failed"
    task = await stack.task("loop-1")
    assert task["status"] == "failed"
    assert task["error"]["code"] == "max_iterations"
    assert "max_iterations" in task["error"]["message"]
    assert task["iterations"] == 2
    transcript = await stack.services.store.transcripts.get("loop-1", 100)
    assert [m.role for m in transcript] == ["user", "assistant", "tool", "assistant", "tool"]


async def test_a2a_simplified_message(stack: Stack) -> None:
    response = await stack.http.post(
        "/a2a/message?wait=true",
        json={
            "task_id": "a2a-1",
            "session_id": "s-a2a",
            "content": [{"type": "text", "text": "Hi there"}],
            "metadata": {"system_message": "Be brief.", "model_config": MODEL},
        },
    )
    assert response.status_code == 200, response.text
    task = response.json()
    assert task["status"] == "completed" and task["session_id"] == "s-a2a"
    assert task["result"]["content"] == "Echo: Hi there"


async def test_sse_resume_with_last_event_id(stack: Stack) -> None:
    await stack.execute(task_id="resume-1", user_message="resume me", model_config=MODEL)
    everything = await stack.events("resume-1")
    tail = await read_sse(stack.http, "resume-1", after=2)
    assert tail == everything[2:]
    via_query = await stack.http.get("/api/v1/tasks/resume-1/events?after=3")
    ids = [int(line[3:]) for line in via_query.text.splitlines() if line.startswith("id:")]
    assert ids == [e["id"] for e in everything[3:]]
    # Past the end of a task that has ended: the stream closes at once, without waiting for
    # a heartbeat (15 s) to find out that nothing will come.
    started = time.monotonic()
    past = await stack.http.get(f"/api/v1/tasks/resume-1/events?after={everything[-1]['id']}")
    assert past.status_code == 200 and "id:" not in past.text
    assert time.monotonic() - started < 5


async def test_per_call_approval(stack: Stack, tool_server: FakeServer) -> None:
    tools = [weather_tool(tool_server), weather_tool(tool_server, name="get_forecast")]
    await stack.execute(
        task_id="percall-1",
        user_message="Weather and forecast? [two tools]",
        model_config=MODEL,
        tools=tools,
        require_approval=["get_weather", "get_forecast"],
    )
    task = await wait_status(stack, "percall-1", "awaiting_approval")
    first, second = (c["id"] for c in task["pending_approval"]["tool_calls"])
    url = "/api/v1/approve/agent-execution-percall-1"
    unknown = await stack.http.post(url, json={"tool_calls": {"nope": {"approved": True}}})
    assert unknown.status_code == 400 and "nope" in unknown.json()["error"]["message"]
    partial = await stack.http.post(url, json={"tool_calls": {first: {"approved": True}}})
    assert partial.status_code == 400 and second in partial.json()["error"]["message"]
    response = await stack.http.post(
        url,
        json={
            "tool_calls": {
                first: {"approved": True},
                second: {"approved": False, "reason": "too far ahead"},
            }
        },
    )
    assert response.status_code == 200, response.text
    events = await stack.events("percall-1")
    results = {e["data"]["tool_call_id"]: e["data"] for e in events if e["event"] == "tool.result"}
    assert results[first]["is_error"] is False and "sunny" in results[first]["content"]
    assert results[second]["is_error"] is True and "too far ahead" in results[second]["content"]
    assert len(await calls_to(tool_server)) == 1


async def test_provider_errors_in_a_task(stack: Stack, openai_fake: FakeServer) -> None:
    async with httpx.AsyncClient() as http:
        await http.post(
            openai_fake.base_url + "/_fake/enqueue",
            json=[
                {"status": 429, "headers": {"retry-after": "0"}},
                {
                    "status": 400,
                    "body": {
                        "error": {
                            "message": "model does not exist",
                            "type": "invalid_request_error",
                        }
                    },
                },
            ],
        )
    # The 429 is retried (Temporal's retry policy, 3 attempts here); the 400 is final at once:
    # were it retried, the next attempt would get the fake's normal answer.
    response = await stack.http.post(
        "/api/v1/execute?wait=true", json={"user_message": "hi", "model_config": MODEL}
    )
    task = response.json()
    assert task["status"] == "failed", task
    assert task["error"]["code"] == "llm_error"
    assert "400" in task["error"]["message"] and "model does not exist" in task["error"]["message"]
    assert "sk-test" not in response.text
    async with httpx.AsyncClient() as http:
        attempts = (await http.get(openai_fake.base_url + "/_fake/requests")).json()
    assert len(attempts) == 2

    recovered = await stack.http.post(
        "/api/v1/execute?wait=true",
        json={"user_message": "again [no tools]", "model_config": MODEL},
    )
    assert recovered.json()["status"] == "completed"


async def test_cancel_while_the_llm_streams(stack: Stack, openai_fake: FakeServer) -> None:
    async with httpx.AsyncClient() as http:
        await http.post(openai_fake.base_url + "/_fake/config", json={"chunk_delay": 0.2})
    words = " ".join(f"word{i}" for i in range(60))
    await stack.execute(task_id="cancel-stream-1", user_message=words, model_config=MODEL)
    for _ in range(200):
        if any(
            e.type == "llm.delta" for e in await stack.services.store.events.read("cancel-stream-1")
        ):
            break
        await asyncio.sleep(0.05)
    assert (await stack.http.post("/api/v1/tasks/cancel-stream-1/cancel")).status_code == 202
    events = await stack.events("cancel-stream-1")
    assert events[-1]["event"] == "task.cancelled"
    task = await stack.task("cancel-stream-1")
    assert task["status"] == "cancelled" and task["error"] is None


async def test_wait_after_an_approval_waits_for_the_end(
    stack: Stack, tool_server: FakeServer
) -> None:
    """`?wait=true` returns at a *pending* approval, not at one already decided."""
    tool = weather_tool(tool_server, name="slow_lookup", path="/slow?delay=1.5")
    body = {
        "task_id": "wait-2",
        "user_message": "look it up",
        "model_config": MODEL,
        "tools": [tool],
        "require_approval": True,
    }
    first = await stack.http.post("/api/v1/execute?wait=true", json=body)
    assert first.json()["status"] == "awaiting_approval"
    await stack.http.post("/api/v1/approve/agent-execution-wait-2", json={"approved": True})
    # The tool now takes 1.5 s; waiting again must last until the task has ended.
    again = await stack.http.post("/api/v1/execute?wait=true", json=body)
    assert again.status_code == 200
    assert again.json()["status"] == "completed"
