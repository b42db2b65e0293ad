"""A whole task (LLM → HTTP tool → LLM) through the workflow on every provider name, streaming
on and off, each through its official SDK against its vendor's wire fake."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FAKE_KEY_ENV, Stack, config_data, running_stack, weather_tool
from tests.fakes.server import FakeServer

CASES = [
    ("openai", "gpt-4o-mini"),
    ("openai-compatible", "qwen2.5:7b-instruct"),
    ("ollama", "llama3.2"),
    ("azure-openai", "gpt-4o-mini"),
    ("anthropic", "claude-sonnet-4-6"),
    ("gemini", "gemini-2.5-flash"),
    ("vertexai", "gemini-2.5-flash"),
    ("vertexai", "claude-sonnet-4-6"),
]


def providers(openai_url: str, fakes: dict[str, FakeServer], vertex: str) -> list[dict[str, Any]]:
    base = openai_url.removesuffix("/v1")
    return [
        {"name": "openai", "api_key_env": FAKE_KEY_ENV, "config": {"base_url": openai_url}},
        {"name": "openai-compatible", "config": {"base_url": openai_url}},
        {"name": "ollama", "config": {"base_url": openai_url}},
        {
            "name": "azure-openai",
            "api_key_env": FAKE_KEY_ENV,
            "config": {"endpoint": base, "api_version": "2024-10-21"},
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
                "project_id": "my-project",
                "location": "us-east5",
                "access_token_env": FAKE_KEY_ENV,
                "base_url": fakes[vertex].base_url,
            },
        },
    ]


@pytest.fixture(params=CASES, ids=[f"{p}:{m}" for p, m in CASES])
async def provider_stack(
    request: pytest.FixtureRequest,
    temporal: str,
    openai_fake: FakeServer,
    vendor_fakes: dict[str, FakeServer],
    tmp_path: Path,
) -> AsyncIterator[tuple[Stack, str, str]]:
    provider, model = request.param
    vertex = "vertex-claude" if model.startswith("claude") else "vertex-gemini"
    data = config_data(temporal, openai_fake.url, tmp_path)
    data["llm"]["providers"] = providers(openai_fake.url, vendor_fakes, vertex)
    async with running_stack(data) as stack:
        yield stack, provider, model


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
async def test_task_end_to_end(
    provider_stack: tuple[Stack, str, str], tool_server: FakeServer, stream: bool
) -> None:
    stack, provider, model = provider_stack
    response = await stack.http.post(
        "/api/v1/execute?wait=true",
        json={
            "user_message": "Weather in Lisbon?",
            "system_message": "You are a weather assistant.",
            "model_config": {"provider": provider, "model": model, "stream": stream},
            "tools": [weather_tool(tool_server)],
        },
    )
    assert response.status_code == 200, response.text
    task = response.json()
    assert task["status"] == "completed", task
    assert task["result"]["content"].startswith("Tool results: get_weather=")
    assert "sunny" in task["result"]["content"]
    assert task["iterations"] == 2
    assert task["usage"]["prompt_tokens"] > 0 and task["usage"]["completion_tokens"] > 0
    events = await stack.events(task["task_id"])
    deltas = [e for e in events if e["event"] == "llm.delta"]
    assert bool(deltas) == stream
