"""Bad input gets the documented 4xx with a JSON error body — never a 500, never a trace."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Stack, config_data, running_stack, weather_tool
from tests.fakes.server import FakeServer

MODEL = {"provider": "openai", "model": "gpt-4o-mini"}


def body(**overrides: Any) -> dict[str, Any]:
    return {"user_message": "hi", "model_config": MODEL, **overrides}


async def expect(stack: Stack, status: int, code: str, payload: Any, *, contains: str = "") -> None:
    response = await stack.http.post("/api/v1/execute", json=payload)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    assert contains in error["message"], error
    assert "Traceback" not in response.text


@pytest.fixture
async def strict_stack(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> AsyncIterator[Stack]:
    data = config_data(temporal, openai_fake.url, tmp_path)
    data["llm"]["providers"] = [
        {
            "name": "openai",
            "api_key_env": "TE_TEST_UNSET_KEY",
            "config": {"base_url": openai_fake.url},
        }
    ]
    data["server"]["max_body_bytes"] = 64 * 1024
    async with running_stack(data, worker=False) as stack:
        yield stack


async def test_unknown_provider(stack: Stack) -> None:
    await expect(
        stack,
        400,
        "unknown_provider",
        body(model_config={"provider": "nope", "model": "x"}),
        contains="nope",
    )


async def test_missing_api_key_env(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> None:
    """The API holds no provider key, so it cannot tell: the task is accepted, and the worker
    that lacks the key fails it with `provider_not_configured`, naming the variable."""
    data = config_data(temporal, openai_fake.url, tmp_path)
    data["llm"]["providers"][0]["api_key_env"] = "TE_TEST_UNSET_KEY"
    async with running_stack(data) as stack:
        accepted = await stack.execute(**body())
        events = await stack.events(accepted["task_id"])
        task = await stack.task(accepted["task_id"])

    assert events[-1]["event"] == "task.failed"
    assert task["status"] == "failed" and task["error"]["code"] == "provider_not_configured"
    assert "TE_TEST_UNSET_KEY" in task["error"]["message"]


async def test_base_url_not_accepted_from_requests(stack: Stack) -> None:
    payload = body(model_config={**MODEL, "base_url": "http://evil.example/v1"})
    await expect(stack, 422, "invalid_request", payload, contains="model_config.base_url")


async def test_wrong_types(stack: Stack) -> None:
    await expect(
        stack, 422, "invalid_request", body(max_iterations="many"), contains="max_iterations"
    )
    await expect(stack, 422, "invalid_request", body(user_message=42), contains="user_message")
    await expect(stack, 422, "invalid_request", {"model_config": MODEL}, contains="user_message")
    await expect(
        stack,
        422,
        "invalid_request",
        body(model_config={**MODEL, "temperature": 9}),
        contains="temperature",
    )
    await expect(
        stack, 422, "invalid_request", body(surprise=True), contains="surprise: unknown field"
    )
    await expect(stack, 422, "invalid_request", body(priority=0), contains="priority")
    await expect(stack, 422, "invalid_request", body(priority=6), contains="priority")
    await expect(
        stack,
        422,
        "invalid_request",
        body(concurrent_messages="later"),
        contains="concurrent_messages",
    )


async def test_invalid_json(stack: Stack) -> None:
    response = await stack.http.post(
        "/api/v1/execute", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["message"] == "request body is not valid JSON"


async def test_malformed_tools(stack: Stack, tool_server: FakeServer) -> None:
    good = weather_tool(tool_server)
    await expect(
        stack,
        422,
        "invalid_request",
        body(tools=[{**good, "name": "bad name!"}]),
        contains="tools.0.name",
    )
    await expect(
        stack,
        422,
        "invalid_request",
        body(tools=[{**good, "parameters": {"type": "string"}}]),
        contains="parameters",
    )
    await expect(
        stack, 422, "invalid_request", body(tools=[good, good]), contains="duplicate tool names"
    )
    await expect(stack, 422, "invalid_request", body(tools="get_weather"), contains="tools")
    await expect(
        stack, 400, "invalid_tool", body(tools=[{**good, "type": "teleport"}]), contains="teleport"
    )
    await expect(
        stack, 400, "invalid_tool", body(tools=[{**good, "config": {}}]), contains="endpoint"
    )


async def test_max_iterations_above_server_bound(stack: Stack) -> None:
    await expect(stack, 400, "invalid_request", body(max_iterations=1000), contains="at most 5")


async def test_huge_body(strict_stack: Stack) -> None:
    payload = body(user_message="x" * (128 * 1024))
    response = await strict_stack.http.post("/api/v1/execute", json=payload)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


async def test_unknown_task(stack: Stack) -> None:
    for method, path in (
        ("GET", "/api/v1/tasks/no-such-task"),
        ("GET", "/api/v1/tasks/no-such-task/events"),
        ("POST", "/api/v1/tasks/no-such-task/cancel"),
    ):
        response = await stack.http.request(method, path)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["error"]["code"] == "task_not_found"
    for workflow in ("agent-execution-no-such-task", "something-else"):
        response = await stack.http.post(f"/api/v1/approve/{workflow}", json={"approved": True})
        assert response.status_code == 404, response.text


async def test_approve_when_not_pending(stack: Stack) -> None:
    await stack.execute(task_id="done-1", user_message="hi [no tools]", model_config=MODEL)
    await stack.events("done-1")
    response = await stack.http.post(
        "/api/v1/approve/agent-execution-done-1", json={"approved": True}
    )
    assert response.status_code == 409
    bad = await stack.http.post(
        "/api/v1/approve/agent-execution-done-1", json={"approved": "maybe"}
    )
    assert bad.status_code == 422


async def test_unknown_route_is_json(stack: Stack) -> None:
    response = await stack.http.get("/api/v1/nothing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_out_of_range_query_parameters(stack: Stack) -> None:
    """An integer SQLite cannot hold, or an id no task can have, is a 422 naming the
    parameter, not a 500 from the store."""
    huge = "451635952847399485603577856"
    for path, name in (
        (f"/api/v1/tasks?offset={huge}", "offset"),
        ("/api/v1/tasks?offset=9223372036854775807", "offset"),
        ("/api/v1/tasks?offset=-1", "offset"),
        ("/api/v1/tasks?limit=501", "limit"),
        (f"/api/v1/tasks?limit={huge}", "limit"),
        ("/api/v1/tasks?session_id=" + "s" * 129, "session_id"),
        ("/api/v1/tasks?session_id=a%20b", "session_id"),
        ("/api/v1/tasks?status=sleeping", "status"),
        (f"/api/v1/tasks/t-1/events?after={huge}", "after"),
    ):
        response = await stack.http.get(path)
        assert response.status_code == 422, (path, response.text)
        error = response.json()["error"]
        assert error["code"] == "invalid_request" and error["message"].startswith(name), error
    ok = await stack.http.get("/api/v1/tasks?offset=2147483647&limit=500")
    assert ok.status_code == 200 and ok.json() == {"tasks": [], "next_offset": None}


async def test_bad_ids_and_event_ids(stack: Stack) -> None:
    """Path ids have the charset and length of the ids we hand out; Last-Event-ID is a seq."""
    for method, path in (
        ("GET", "/api/v1/tasks/" + "t" * 129),
        ("GET", "/api/v1/tasks/-leading-dash"),
        ("GET", "/api/v1/tasks/%E2%9C%93"),
        ("POST", "/api/v1/tasks/a%20b/cancel"),
        ("GET", "/api/v1/sessions/" + "s" * 129),
        ("DELETE", "/api/v1/sessions/%00"),
    ):
        response = await stack.http.request(method, path)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["error"]["code"] == "invalid_request"
        assert "task_id" in response.text or "session_id" in response.text
    response = await stack.http.post("/api/v1/approve/" + "w" * 145, json={"approved": True})
    assert response.status_code == 422 and "workflow_id" in response.text
    await stack.execute(task_id="seq-1", user_message="hi [no tools]", model_config=MODEL)
    for header in ("99999999999999999999999", "12a", "²".encode()):
        response = await stack.http.get(
            "/api/v1/tasks/seq-1/events", headers={"Last-Event-ID": header}
        )
        assert response.status_code == 422, (header, response.text)
        assert "last-event-id" in response.json()["error"]["message"].lower()
    events = await stack.events("seq-1")
    assert events[-1]["event"] == "task.completed"


async def test_per_field_caps(stack: Stack, tool_server: FakeServer) -> None:
    good = weather_tool(tool_server)
    nested: dict[str, Any] = {"type": "string"}
    for _ in range(20):
        nested = {"type": "object", "properties": {"a": nested}}
    await expect(
        stack,
        422,
        "invalid_request",
        body(tools=[{**good, "parameters": nested}]),
        contains="its parameters is nested deeper than 32 levels",
    )
    wide = {"type": "object", "properties": {f"p{i}": {"type": "string"} for i in range(3000)}}
    await expect(
        stack,
        422,
        "invalid_request",
        body(tools=[{**good, "parameters": wide}]),
        contains="its parameters is larger than 65536 bytes",
    )
    many = [{**good, "name": f"tool_{i}"} for i in range(129)]
    await expect(stack, 422, "invalid_request", body(tools=many), contains="tools")
    big_config = {**good, "config": {**good["config"], "headers": {"X-Pad": "p" * 20_000}}}
    await expect(
        stack, 422, "invalid_request", body(tools=[big_config]), contains="its config is larger"
    )
    response = await stack.http.post(
        "/a2a/message",
        json={"content": [{"type": "text", "text": "hi"}], "metadata": {"pad": "x" * 70_000}},
    )
    assert response.status_code == 422 and "metadata is larger" in response.text, response.text
    response = await stack.http.post(
        "/a2a/message", json={"content": [{"type": "text", "text": "hi"}] * 65}
    )
    assert response.status_code == 422 and "content" in response.json()["error"]["message"]


async def test_body_nesting_and_media_type(stack: Stack) -> None:
    """A body of a million brackets would exhaust the JSON parsers' stack (a 500): it is
    refused before any parser sees it, in each transport's error format."""
    deep = b"[" * 100_000 + b"]" * 100_000
    json_type = {"content-type": "application/json"}
    response = await stack.http.post("/api/v1/execute", content=deep, headers=json_type)
    assert response.status_code == 422, response.text
    assert "nested deeper than 64 levels" in response.json()["error"]["message"]
    for path in ("/a2a/rest/message:send", "/a2a/rest/v1/message:send"):
        response = await stack.http.post(path, content=deep, headers=json_type)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
    response = await stack.http.post("/a2a", content=deep, headers=json_type)
    assert response.status_code == 200
    assert response.json()["error"]["code"] == -32600
    text = b'{"user_message": "hi", "model_config": {"provider": "openai", "model": "m"}}'
    for media in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"content-type": media} if media else {}
        response = await stack.http.post("/api/v1/execute", content=text, headers=headers)
        assert response.status_code == 415, (media, response.text)
        assert response.json()["error"]["code"] == "unsupported_media_type"
