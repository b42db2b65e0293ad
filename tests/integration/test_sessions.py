"""Sessions: tasks in one session share a conversation; one runs at a time; listing, paging,
reading and deleting sessions."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Stack, weather_tool
from tests.fakes.server import FakeServer
from tests.integration.test_agent_task import wait_status

MODEL = {"provider": "openai", "model": "gpt-4o-mini"}


async def fake_requests(openai_fake: FakeServer) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as http:
        result: list[dict[str, Any]] = (
            await http.get(openai_fake.base_url + "/_fake/requests")
        ).json()
        return result


async def run(stack: Stack, task_id: str, text: str, **extra: Any) -> dict[str, Any]:
    response = await stack.http.post(
        "/api/v1/execute?wait=true",
        json={
            "task_id": task_id,
            "session_id": "conv-1",
            "user_message": text,
            "model_config": MODEL,
            **extra,
        },
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_three_turns_share_the_conversation(
    stack: Stack, openai_fake: FakeServer, tool_server: FakeServer
) -> None:
    first = await run(
        stack,
        "turn-1",
        "My name is Ada.",
        system_message="Be brief.",
        tools=[weather_tool(tool_server)],
    )
    assert first["status"] == "completed"
    await run(stack, "turn-2", "I like tea. [no tools]")
    third = await run(stack, "turn-3", "What is my name? [no tools]")
    assert third["result"]["content"] == "Echo: What is my name? [no tools]"

    last = (await fake_requests(openai_fake))[-1]["messages"]
    roles = [m["role"] for m in last]
    contents = [m.get("content") for m in last]
    # The third LLM call saw the first turn (with its tool call and result) and the second.
    assert roles == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert contents[0] == "Be brief." and contents[1] == "My name is Ada."
    assert "sunny" in contents[3] and contents[4] == first["result"]["content"]
    assert contents[5] == "I like tea. [no tools]" and contents[6] == "Echo: I like tea. [no tools]"
    assert contents[7] == "What is my name? [no tools]"

    session = (await stack.http.get("/api/v1/sessions/conv-1")).json()
    assert [t["task_id"] for t in session["tasks"]] == ["turn-1", "turn-2", "turn-3"]
    assert len(session["messages"]) == 9
    assert session["usage"]["total_tokens"] == sum(
        t["usage"]["total_tokens"] for t in session["tasks"]
    )


async def test_one_task_at_a_time_per_session(stack: Stack, tool_server: FakeServer) -> None:
    body = {"session_id": "busy-1", "model_config": MODEL, "tools": [weather_tool(tool_server)]}
    await stack.execute(task_id="busy-a", user_message="first", require_approval=True, **body)
    await wait_status(stack, "busy-a", "awaiting_approval")
    second = await stack.http.post(
        "/api/v1/execute", json={"task_id": "busy-b", "user_message": "second", **body}
    )
    assert second.status_code == 409
    assert second.json()["error"]["details"] == {"session_id": "busy-1", "task_id": "busy-a"}
    assert (await stack.http.delete("/api/v1/sessions/busy-1")).status_code == 409
    await stack.http.post("/api/v1/tasks/busy-a/cancel")
    await stack.events("busy-a")
    # The cancelled turn left a tool call without a result; the next turn still works.
    third = await stack.http.post(
        "/api/v1/execute?wait=true",
        json={"task_id": "busy-c", "user_message": "third [no tools]", **body},
    )
    assert third.status_code == 200 and third.json()["status"] == "completed"


async def test_list_tasks_and_delete_session(stack: Stack) -> None:
    for i in range(3):
        response = await stack.http.post(
            "/api/v1/execute?wait=true",
            json={
                "task_id": f"list-{i}",
                "session_id": "listing",
                "user_message": "hi",
                "model_config": MODEL,
            },
        )
        assert response.status_code == 200
    page = (await stack.http.get("/api/v1/tasks?session_id=listing&limit=2")).json()
    assert [t["task_id"] for t in page["tasks"]] == ["list-0", "list-1"]
    assert page["next_offset"] == 2
    rest = (await stack.http.get("/api/v1/tasks?session_id=listing&limit=2&offset=2")).json()
    assert [t["task_id"] for t in rest["tasks"]] == ["list-2"] and rest["next_offset"] is None
    done = (await stack.http.get("/api/v1/tasks?session_id=listing&status=completed")).json()
    assert len(done["tasks"]) == 3
    assert (await stack.http.get("/api/v1/tasks?status=bogus")).status_code == 422

    assert (await stack.http.delete("/api/v1/sessions/listing")).status_code == 204
    assert (await stack.http.get("/api/v1/sessions/listing")).status_code == 404
    assert (await stack.http.get("/api/v1/tasks?session_id=listing")).json()["tasks"] == []
