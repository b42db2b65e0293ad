"""Reasoning models in whole tasks through the real worker: each provider's official SDK against
its vendor's wire fake, which refuses a tool turn whose reasoning does not come back as the
vendor requires (Anthropic's signed thinking blocks, Gemini 3's thought signatures, the
Responses API's reasoning items). Also: a fallback or a person's edit drops the reasoning
cleanly, a forcing tool_choice holds for the first call only, Anthropic's prompt cache is read
back, a knob a model cannot honour is a 400 — and no reasoning reaches workflow history."""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import (
    FAKE_KEY_ENV,
    Stack,
    config_data,
    enqueue,
    fake_requests,
    running_stack,
    weather_tool,
)
from tests.fakes import anthropic_fake, gemini_fake
from tests.fakes.server import FakeServer
from tests.integration.test_agent_task import wait_status
from tests.integration.test_time_travel import fork as fork_of

KEY = os.environ[FAKE_KEY_ENV]
SUMMARY = {"effort": "low", "summary": True}
THOUGHT = "I think about: "


@pytest.fixture(scope="module")
def fakes(openai_fake: FakeServer) -> Iterator[dict[str, FakeServer]]:
    with (
        FakeServer(anthropic_fake.create_app(KEY)) as anthropic,
        FakeServer(gemini_fake.create_app(KEY, access_token=KEY)) as gemini,
    ):
        yield {"openai": openai_fake, "anthropic": anthropic, "gemini": gemini}


@pytest.fixture(scope="module")
async def stack(
    temporal: str, fakes: dict[str, FakeServer], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    openai_url = fakes["openai"].url
    data = config_data(temporal, openai_url, tmp_path_factory.mktemp("reasoning"))
    data["llm"]["providers"] = [
        {
            "name": "openai",
            "api_key_env": FAKE_KEY_ENV,
            "config": {"base_url": openai_url, "api": "responses"},
        },
        {
            "name": "openai-compatible",
            "api_key_env": FAKE_KEY_ENV,
            "config": {"base_url": openai_url},
        },
        {
            "name": "azure-openai",
            "api_key_env": FAKE_KEY_ENV,
            "config": {"endpoint": fakes["openai"].base_url, "api_version": "2025-04-01-preview"},
        },
        {
            "name": "anthropic",
            "api_key_env": FAKE_KEY_ENV,
            "config": {"base_url": fakes["anthropic"].base_url},
        },
        {
            "name": "gemini",
            "api_key_env": FAKE_KEY_ENV,
            "config": {"base_url": fakes["gemini"].base_url},
        },
        {
            "name": "vertexai",
            "config": {
                "project_id": "p",
                "location": "global",
                "access_token_env": FAKE_KEY_ENV,
                "base_url": fakes["gemini"].base_url,
            },
        },
    ]
    async with running_stack(data) as running:
        yield running


@pytest.fixture(autouse=True)
def _reset(fakes: dict[str, FakeServer]) -> None:
    for fake in fakes.values():
        httpx.post(fake.base_url + "/_fake/reset").raise_for_status()


async def payloads(stack: Stack, task_id: str) -> str:
    """Every payload of the task's workflow history, decoded (history JSON holds them in
    base64), once the workflow has closed (the store may say "completed" a moment before)."""
    handle = stack.services.client.get_workflow_handle(f"agent-execution-{task_id}")
    await handle.result()
    text = (await handle.fetch_history()).to_json()
    found = re.findall(r'"data": "([A-Za-z0-9+/=]+)"', text)
    return "\n".join(base64.b64decode(data).decode(errors="replace") for data in found)


def sent_back(vendor: str) -> Callable[[dict[str, Any]], list[str]]:
    """What of the model's earlier turns a request carries back, per vendor: the reasoning
    it needs (signed thinking, thought signatures, encrypted reasoning items)."""

    def anthropic(body: dict[str, Any]) -> list[str]:
        return [
            b["signature"]
            for m in body["messages"]
            if m["role"] == "assistant"
            for b in m["content"]
            if b.get("type") == "thinking"
        ]

    def gemini(body: dict[str, Any]) -> list[str]:
        placeholder = "c2tpcF90aG91Z2h0X3NpZ25hdHVyZV92YWxpZGF0b3I"
        return [
            p["thoughtSignature"]
            for c in body["contents"]
            if c.get("role") == "model"
            for p in c["parts"]
            if "thoughtSignature" in p and not p["thoughtSignature"].startswith(placeholder)
        ]

    def responses(body: dict[str, Any]) -> list[str]:
        return [i["encrypted_content"] for i in body["input"] if i.get("type") == "reasoning"]

    def nothing(body: dict[str, Any]) -> list[str]:
        return []

    return {"anthropic": anthropic, "gemini": gemini, "responses": responses}.get(vendor, nothing)


CASES = [
    # provider, model, reasoning, the fake, what goes back
    ("openai", "gpt-5", SUMMARY, "openai", "responses"),
    (
        "anthropic",
        "claude-sonnet-4-5",
        {"budget_tokens": 2048, "summary": True},
        "anthropic",
        "anthropic",
    ),
    ("gemini", "gemini-3-flash-preview", SUMMARY, "gemini", "gemini"),
    ("vertexai", "gemini-3-flash-preview", {"effort": "high"}, "gemini", "gemini"),
    ("azure-openai", "o3", {"effort": "low"}, "openai", "chat"),
]


@pytest.mark.parametrize(
    ("provider", "model", "reasoning", "fake", "vendor"), CASES, ids=[c[0] for c in CASES]
)
async def test_reasoning_across_tool_calls(
    stack: Stack,
    fakes: dict[str, FakeServer],
    tool_server: FakeServer,
    provider: str,
    model: str,
    reasoning: dict[str, Any],
    fake: str,
    vendor: str,
) -> None:
    """Two tool steps (two calls in parallel, then one) and an answer: each request carries
    the reasoning of every earlier turn back, and the vendor's fake accepts them."""
    two = [
        {"name": "get_weather", "arguments": {"query": "a"}},
        {"name": "other_weather", "arguments": {"query": "b"}},
    ]
    one = [{"name": "get_weather", "arguments": {"query": "c"}}]
    await enqueue(fakes[fake], [{"tool_calls": two}, {"tool_calls": one}])
    task_id = f"reasoning-{provider}"
    tools = [weather_tool(tool_server), weather_tool(tool_server, name="other_weather")]
    response = await stack.http.post(
        "/api/v1/execute?wait=true",
        json={
            "task_id": task_id,
            "user_message": "weather in three places",
            "model_config": {"provider": provider, "model": model, "reasoning": reasoning},
            "tools": tools,
        },
    )
    task = response.json()

    assert task["status"] == "completed", task
    assert task["iterations"] == 3
    assert task["result"]["content"].startswith("Tool results: get_weather=")
    requests = await fake_requests(fakes[fake])
    back = [sent_back(vendor)(body) for body in requests[-3:]]
    if vendor != "chat":
        assert len(back[0]) == 0 and len(back[1]) == 1 and len(back[2]) == 2
        assert back[1][0] == back[2][0]  # the same first turn, verbatim, twice
    events = await stack.events(task_id)
    thoughts = "".join(e["data"]["text"] for e in events if e["event"] == "llm.reasoning")
    if reasoning.get("summary"):
        assert thoughts.startswith(THOUGHT + "weather in three places")
    else:
        assert thoughts == ""
    messages = [e["data"] for e in events if e["event"] == "llm.message"]
    assert all(THOUGHT not in json.dumps(m) for m in messages)
    text = await payloads(stack, task_id)
    assert THOUGHT not in text  # the reasoning lives in the store, by reference
    assert ("/reasoning/" in text) is (vendor != "chat")


async def test_a_fallback_model_goes_without_the_other_models_reasoning(
    stack: Stack, fakes: dict[str, FakeServer], tool_server: FakeServer
) -> None:
    """Claude Sonnet thinks and calls a tool, then is down: Claude Haiku answers the tool
    results without Sonnet's thinking blocks (signed for Sonnet: it would be refused), and
    that one request goes without thinking."""
    one = [{"name": "get_weather", "arguments": {"query": "x"}}]
    await enqueue(fakes["anthropic"], [{"tool_calls": one}, *[{"status": 500}] * 4])
    thinking = {"budget_tokens": 2048}
    response = await stack.http.post(
        "/api/v1/execute?wait=true",
        json={
            "task_id": "reasoning-fallback",
            "user_message": "weather?",
            "model_config": {
                "provider": "anthropic",
                "model": "claude-sonnet-4-5",
                "reasoning": thinking,
                "fallbacks": [
                    {"provider": "anthropic", "model": "claude-haiku-4-5", "reasoning": thinking}
                ],
            },
            "tools": [weather_tool(tool_server)],
        },
    )
    task = response.json()

    assert task["status"] == "completed", task
    assert set(task["usage_by_model"]) == {
        "anthropic/claude-sonnet-4-5",
        "anthropic/claude-haiku-4-5",
    }
    last = (await fake_requests(fakes["anthropic"]))[-1]
    assert last["model"] == "claude-haiku-4-5" and "thinking" not in last
    assert all(
        b.get("type") != "thinking"
        for m in last["messages"]
        for b in m["content"]
        if isinstance(b, dict)
    )


async def test_an_edited_call_goes_back_without_its_thinking(
    stack: Stack, fakes: dict[str, FakeServer], tool_server: FakeServer
) -> None:
    """A person edits the call's arguments: the thinking, signed over what the model wrote,
    is not sent back; the request goes without thinking and the task completes."""
    await stack.execute(
        task_id="reasoning-edited",
        user_message="weather?",
        model_config={
            "provider": "anthropic",
            "model": "claude-sonnet-4-5",
            "reasoning": {"budget_tokens": 2048},
        },
        tools=[weather_tool(tool_server)],
        require_approval=True,
    )
    await wait_status(stack, "reasoning-edited", "awaiting_approval")
    decision = {"approved": True, "arguments": {"query": "edited"}}
    approved = await stack.http.post(
        "/api/v1/approve/agent-execution-reasoning-edited", json=decision
    )
    assert approved.status_code == 200, approved.text
    await stack.events("reasoning-edited")

    assert (await stack.task("reasoning-edited"))["status"] == "completed"
    first, last = (await fake_requests(fakes["anthropic"]))[-2:]
    assert first["thinking"]["type"] == "enabled" and "thinking" not in last
    assistant = last["messages"][1]["content"]
    assert [b["type"] for b in assistant] == ["tool_use"]
    assert assistant[0]["input"] == {"query": "edited"}


async def test_a_forced_tool_call_holds_for_the_first_call_only(
    stack: Stack, fakes: dict[str, FakeServer], tool_server: FakeServer
) -> None:
    """`required` makes the first call a tool call; then the task goes on with auto (the fake
    would otherwise call the tool on every turn, up to max_iterations)."""
    response = await stack.http.post(
        "/api/v1/execute?wait=true",
        json={
            "task_id": "forced-once",
            "user_message": "hello",
            "model_config": {
                "provider": "openai-compatible",
                "model": "gpt-4o-mini",
                "tool_choice": "required",
                "parallel_tool_calls": False,
            },
            "tools": [weather_tool(tool_server)],
        },
    )
    task = response.json()

    assert task["status"] == "completed" and task["iterations"] == 2, task
    first, second = (await fake_requests(fakes["openai"]))[-2:]
    assert first["tool_choice"] == "required" and first["parallel_tool_calls"] is False
    assert "tool_choice" not in second and second["parallel_tool_calls"] is False
    assert "tool-choice-reset" in await payloads(stack, "forced-once")  # the reset's marker


async def test_anthropic_prompt_cache_is_read_back_and_counted(
    stack: Stack, fakes: dict[str, FakeServer], tool_server: FakeServer
) -> None:
    response = await stack.http.post(
        "/api/v1/execute?wait=true",
        json={
            "task_id": "cached",
            "user_message": "weather?",
            "system_message": "You are a careful weather assistant. " * 150,
            "model_config": {"provider": "anthropic", "model": "claude-sonnet-4-6"},
            "tools": [weather_tool(tool_server)],
        },
    )
    task = response.json()

    assert task["status"] == "completed", task
    usage = task["usage"]
    assert usage["cache_creation_tokens"] > 1000 and usage["cache_read_tokens"] > 1000
    events = await stack.events("cached")
    calls = [e["data"]["usage"] for e in events if e["event"] == "llm.message"]
    assert calls[0]["cache_read_tokens"] == 0 and calls[1]["cache_read_tokens"] > 1000


async def test_a_knob_the_model_cannot_honour_is_a_400(stack: Stack) -> None:
    response = await stack.http.post(
        "/api/v1/execute",
        json={
            "user_message": "hi",
            "model_config": {
                "provider": "anthropic",
                "model": "claude-opus-4-7",
                "reasoning": {"budget_tokens": 4096},
            },
        },
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["message"].startswith("model_config.reasoning.budget_tokens: ")
    assert error["details"] == {"field": "model_config.reasoning.budget_tokens"}


async def test_forks_of_a_thinking_task(
    stack: Stack, fakes: dict[str, FakeServer], tool_server: FakeServer
) -> None:
    """Claude thought through two tool steps; forks of that task (`travel/`): at its last LLM
    call (step 5) both turns' signed thinking goes back verbatim, from the fork's own copies;
    at its second tool step (4) the call made again has an id of its own, so that turn's
    thinking is not sent and the request goes without thinking, as the API requires; at step
    3 with another model forcing a tool call, the fork's first own call forces and the next
    does not. A model whose tool_choice names no tool of the task is a 400."""
    anthropic = fakes["anthropic"]
    queries = [{"name": "get_weather", "arguments": {"query": q}} for q in ("a", "b")]
    await enqueue(anthropic, [{"tool_calls": [call]} for call in queries])
    claude = {"provider": "anthropic", "model": "claude-sonnet-4-5"}
    await stack.execute(task_id="thinking-parent", user_message="weather twice",
                        model_config={**claude, "reasoning": {"budget_tokens": 2048}},
                        tools=[weather_tool(tool_server)])  # fmt: skip
    await stack.events("thinking-parent")
    signed = sent_back("anthropic")((await fake_requests(anthropic))[-1])
    assert len(signed) == 2

    async def fork(at_step: int, task_id: str, **edits: Any) -> dict[str, Any]:
        await fork_of(stack, "thinking-parent", at_step=at_step, task_id=task_id, **edits)
        await stack.events(task_id)
        task = await stack.task(task_id)
        assert task["status"] == "completed", task
        return task

    await fork(5, "thinking-at-5")
    last = (await fake_requests(anthropic))[-1]
    assert last["thinking"]["type"] == "enabled" and sent_back("anthropic")(last) == signed
    seed = await stack.services.store.transcripts.get("thinking-at-5")
    blobs = [m.reasoning.blob.split("/")[:2] for m in seed if m.reasoning is not None]
    assert blobs == [["thinking-at-5", "fork"]] * 2 + [["thinking-at-5", "llm"]]  # + its own

    await fork(4, "thinking-at-4")
    last = (await fake_requests(anthropic))[-1]
    remade = last["messages"][3]["content"]
    assert "thinking" not in last and [b["type"] for b in remade] == ["tool_use"]

    forcing: dict[str, Any] = {"provider": "openai-compatible", "model": "gpt-4o-mini"}
    forcing["tool_choice"] = "required"
    requests = len(await fake_requests(fakes["openai"]))
    task = await fork(3, "thinking-forced", model_config=forcing)
    first, second = (await fake_requests(fakes["openai"]))[requests:]
    assert first["tool_choice"] == "required" and "tool_choice" not in second
    assert task["iterations"] == 3  # the parent's first call, then its own two

    forcing["tool_choice"] = {"name": "nope"}
    body = {"at_step": 3, "model_config": forcing}
    response = await stack.http.post("/api/v1/tasks/thinking-parent/fork", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["details"] == {"field": "model_config.tool_choice.name"}
