"""Approvals, fallback and budgets over the REST API and the CLI, against the real service:
the inbox of pending calls, approving with edited arguments (a schema-breaking edit is a 422
naming the field), the audit on `approval.decided`; a model that is down, closed or not served
falls back to the next through the OpenAI SDK against the wire fake."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from tests.conftest import (
    FAKE_KEY_ENV,
    Stack,
    config_data,
    enqueue,
    fake_requests,
    free_port,
    running_stack,
    weather_tool,
)
from tests.fakes.server import FakeServer
from tests.integration.test_agent_task import MODEL, calls_to, types, wait_status

WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"query": {"type": "string"}},
    "required": ["query"],
}


def weather_call(query: str, call_id: str) -> dict[str, Any]:
    arguments = json.dumps({"query": query})
    return {"tool_calls": [{"name": "get_weather", "arguments": arguments, "id": call_id}]}


async def cli(stack: Stack, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "temporal_executor",
        *args,
        "--url",
        stack.url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "EDITOR": "false"},
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_inbox_edit_and_audit_over_rest_and_the_cli(
    stack: Stack, openai_fake: FakeServer, tool_server: FakeServer
) -> None:
    tool = {**weather_tool(tool_server), "parameters": WEATHER_SCHEMA}
    await enqueue(openai_fake, [weather_call("Pariss", "w-1"), {"content": "Sunny in Paris."}])
    await stack.execute(
        task_id="inbox-1",
        session_id="inbox-s",
        user_message="Weather?",
        model_config=MODEL,
        tools=[tool],
        require_approval=True,
    )
    await wait_status(stack, "inbox-1", "awaiting_approval")

    inbox = (await stack.http.get("/api/v1/approvals")).json()
    (pending,) = [a for a in inbox["approvals"] if a["task_id"] == "inbox-1"]
    assert pending["session_id"] == "inbox-s" and pending["tool_name"] == "get_weather"
    assert pending["tool_call_id"] == "w-1" and pending["arguments"] == {"query": "Pariss"}
    assert pending["parameters"] == WEATHER_SCHEMA and pending["requested_at"] > 0
    filtered = await stack.http.get("/api/v1/approvals", params={"tool": "other"})
    assert filtered.json() == {"approvals": [], "next_offset": None}
    bad_page = await stack.http.get("/api/v1/approvals", params={"limit": 0})
    assert bad_page.status_code == 422 or bad_page.status_code == 400

    code, out, _ = await cli(stack, "approvals", "--session", "inbox-s")
    assert code == 0 and "inbox-1" in out and "get_weather" in out and "Pariss" in out

    path = "/api/v1/approve/agent-execution-inbox-1"
    wrong = await stack.http.post(path, json={"approved": True, "arguments": {"query": 7}})
    assert wrong.status_code == 422, wrong.text
    error = wrong.json()["error"]
    assert error["code"] == "invalid_arguments" and "arguments.query" in error["message"]
    code, _, err = await cli(stack, "approve", "inbox-1", "--arguments", "{not json")
    assert code != 0 and "not JSON" in err and "nothing was sent" in err
    code, _, err = await cli(stack, "approve", "inbox-1", "--edit")  # EDITOR=false fails
    assert code != 0 and "nothing was sent" in err
    assert (await stack.task("inbox-1"))["status"] == "awaiting_approval"

    code, out, err = await cli(
        stack, "approve", "inbox-1", "--arguments", '{"query": "Paris"}', "--reason", "typo"
    )
    assert code == 0, err
    task = await wait_status(stack, "inbox-1", "completed")
    assert task["result"]["content"] == "Sunny in Paris."
    assert [c["arguments"]["query"] for c in await calls_to(tool_server)] == ["Paris"]
    assert (await stack.http.get("/api/v1/approvals")).json()["approvals"] == []

    events = await stack.events("inbox-1")
    (audit,) = [e["data"] for e in events if e["event"] == "approval.decided"]
    assert audit["calls"] == [
        {
            "id": "w-1",
            "name": "get_weather",
            "approved": True,
            "reason": "typo",
            "arguments": {"query": "Pariss"},
            "edited_arguments": {"query": "Paris"},
        }
    ]
    assert audit["at"] >= pending["requested_at"]
    # The model was told what ran.
    second = (await fake_requests(openai_fake))[-1]["messages"]
    (asked,) = [m for m in second if m["role"] == "assistant"]
    assert json.loads(asked["tool_calls"][0]["function"]["arguments"]) == {"query": "Paris"}


async def _fallback_stack(
    temporal: str, openai_fake: FakeServer, tmp_path: Path, primary_url: str
) -> Any:
    data = config_data(temporal, openai_fake.url, tmp_path)
    data["llm"]["providers"].append(
        {
            "name": "openai-compatible",
            "api_key_env": FAKE_KEY_ENV,
            "config": {"base_url": primary_url},
        }
    )
    return running_stack(data)


FALLBACK_MODEL = {
    "provider": "openai-compatible",
    "model": "gpt-primary",
    "fallbacks": [{"provider": "openai", "model": "gpt-4o-mini"}],
}


async def test_a_primary_that_answers_503_falls_back_after_its_retries(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> None:
    await enqueue(openai_fake, [{"status": 503}] * 4 + [{"content": "from the fallback"}])
    async with await _fallback_stack(temporal, openai_fake, tmp_path, openai_fake.url) as stack:
        await stack.execute(task_id="fb-503", user_message="hi", model_config=FALLBACK_MODEL)
        task = await wait_status(stack, "fb-503", "completed")
        events = await stack.events("fb-503")

    assert task["result"]["content"] == "from the fallback"
    models = [r["model"] for r in await fake_requests(openai_fake)]
    assert models[0] == "gpt-primary" and models[-1] == "gpt-4o-mini"
    assert "gpt-primary" not in models[models.index("gpt-4o-mini") :]
    (fallback,) = [e["data"] for e in events if e["event"] == "llm.fallback"]
    assert fallback["from"] == "openai-compatible/gpt-primary" and "503" in fallback["error"]
    assert list(task["usage_by_model"]) == ["openai/gpt-4o-mini"]
    seen = types(events)
    assert seen[seen.index("llm.fallback") + 1] == "llm.restart"  # streams start over


async def test_a_primary_whose_port_is_closed_or_that_lacks_the_model_falls_back(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> None:
    closed = f"http://127.0.0.1:{free_port()}/v1"
    async with await _fallback_stack(temporal, openai_fake, tmp_path, closed) as stack:
        await stack.execute(task_id="fb-closed", user_message="hi", model_config=FALLBACK_MODEL)
        task = await wait_status(stack, "fb-closed", "completed")
        events = await stack.events("fb-closed")
    (fallback,) = [e["data"] for e in events if e["event"] == "llm.fallback"]
    assert "connect" in fallback["error"].lower()
    assert task["result"]["content"]

    before = len(await fake_requests(openai_fake))
    await enqueue(openai_fake, [{"status": 404}, {"content": "served"}])
    async with await _fallback_stack(temporal, openai_fake, tmp_path, openai_fake.url) as stack:
        await stack.execute(task_id="fb-404", user_message="hi", model_config=FALLBACK_MODEL)
        task = await wait_status(stack, "fb-404", "completed")
    models = [r["model"] for r in (await fake_requests(openai_fake))[before:]]
    assert models == ["gpt-primary", "gpt-4o-mini"]  # not found: no retries, straight on
    assert task["result"]["content"] == "served"

    await enqueue(openai_fake, [{"status": 401}])
    async with await _fallback_stack(temporal, openai_fake, tmp_path, openai_fake.url) as stack:
        await stack.execute(task_id="fb-401", user_message="hi", model_config=FALLBACK_MODEL)
        task = await wait_status(stack, "fb-401", "failed")
    assert "401" in task["error"]["message"]  # a caller error: no fallback


async def test_budgets_and_bounds_are_checked_at_submission(
    stack: Stack, openai_fake: FakeServer
) -> None:
    too_long = await stack.http.post(
        "/api/v1/execute",
        json={"user_message": "hi", "model_config": MODEL, "timeout": 10**6},
    )
    assert too_long.status_code == 400
    assert "timeout may be at most 300" in too_long.json()["error"]["message"]
    unknown = await stack.http.post(
        "/api/v1/execute",
        json={
            "user_message": "hi",
            "model_config": {**MODEL, "fallbacks": [{"provider": "nope", "model": "x"}]},
        },
    )
    assert unknown.status_code == 400 and "nope" in unknown.json()["error"]["message"]

    await enqueue(openai_fake, [weather_call("x", "b-1"), {"content": "never"}])
    await stack.execute(
        task_id="budget-1", user_message="hi", model_config=MODEL, max_total_tokens=1
    )
    task = await wait_status(stack, "budget-1", "failed")
    assert task["error"]["code"] == "budget_exceeded"
