"""Agents as tools with kagent-adk 0.10.4 (the newest on PyPI) on the other side, both ways:

- our agent calls a kagent agent as a tool; its tool needs approval: kagent pauses with
  0.10's `adk_request_confirmation` DataParts, our task pauses with it (`nested`), a person
  approves over our REST API, we pass kagent its `decision_type` answer, its tool runs once;
- a kagent agent calls ours (`remote_agents`, A2A 0.3 `message/send`: our card advertises
  0.3 with `a2a.advertise_v03`); our tool needs approval: we pause with those DataParts too,
  kagent pauses with us, a person approves at kagent as its UI does (a `decision_type`
  DataPart), kagent passes that on to our task, our tool runs once.

kagent-adk runs from a virtualenv of its own, built once under the benchmarks' cache (a few
minutes, from PyPI): too slow for every run, so these run when `TE_TEST_KAGENT_ADK=1`.
kagent's HITL extension and its `nested` block are not in 0.10.4: `test_agent_tools.py`
tests those between two services of ours.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.types import Task, TaskState
from benchmarks.common import free_port, spawn, wait_http, wait_port
from benchmarks.versus import HERE as BENCHMARK_KAGENT
from benchmarks.versus import kagent_python

from temporal_executor.workflows import workflow_id
from tests.a2a.conftest import a2a_config, collect, send_request, user_message
from tests.conftest import Stack, config_data, enqueue, running_stack
from tests.fakes.server import FakeServer
from tests.integration.test_agent_tools import agent_tool, started_input, tool_calls, until

pytestmark = pytest.mark.skipif(
    not os.environ.get("TE_TEST_KAGENT_ADK"),
    reason="set TE_TEST_KAGENT_ADK=1 to test against kagent-adk 0.10.4 (its venv: PyPI)",
)
MODEL = {"provider": "openai", "model": "gpt-4o-mini"}
# The parent's model asks the helper, the helper's model calls its weather tool.
HELPER_THEN_WEATHER = [
    {"tool_calls": [{"name": "helper", "arguments": {"request": "Oslo?"}}]},
    {"tool_calls": [{"name": "get_weather", "arguments": {"query": "Oslo"}}]},
]
APP = BENCHMARK_KAGENT / "app.py"  # kagent's app, here with an AgentConfig of the test's


@pytest.fixture(scope="module")
def adk_python() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return kagent_python(Path(root) / "temporal-executor-benchmarks")


@contextlib.asynccontextmanager
async def kagent_agent(
    python: Path, workdir: Path, name: str, config: dict[str, Any]
) -> AsyncIterator[str]:
    """kagent-adk serving the agent `config` describes (its card served); its URL."""
    path = workdir / f"{name}.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    port = free_port()
    argv = [str(python), str(APP), "--port", str(port), "--name", name, "--config", str(path)]
    with spawn(name, argv, workdir, env={"OPENAI_API_KEY": "sk-test"}) as proc:
        url = f"http://127.0.0.1:{port}"
        await wait_http(url + "/.well-known/agent-card.json", proc)
        yield url


def kagent_model(openai_fake: FakeServer) -> dict[str, Any]:
    return {"type": "openai", "model": "gpt-4o-mini", "base_url": openai_fake.url}


async def test_our_agent_calls_a_kagent_agent_that_pauses(
    adk_python: Path,
    temporal: str,
    openai_fake: FakeServer,
    tool_server: FakeServer,
    tmp_path: Path,
) -> None:
    mcp_port = free_port()
    weather = [
        str(adk_python),
        str(BENCHMARK_KAGENT / "weather_mcp.py"),
        "--port",
        str(mcp_port),
        "--tool-url",
        f"{tool_server.base_url}/weather",
    ]
    child = {
        "model": kagent_model(openai_fake),
        "description": "Answers weather questions.",
        "instruction": "You answer weather questions.",
        "http_tools": [
            {
                "params": {"url": f"http://127.0.0.1:{mcp_port}/mcp", "timeout": 10},
                "tools": ["get_weather"],
                "require_approval": ["get_weather"],
            }
        ],
        "stream": False,
    }
    with spawn("weather-mcp", weather, tmp_path) as mcp:
        wait_port(mcp_port, mcp)
        async with kagent_agent(adk_python, tmp_path, "weather_agent", child) as url:
            await enqueue(openai_fake, HELPER_THEN_WEATHER)
            async with running_stack(config_data(temporal, openai_fake.url, tmp_path)) as stack:
                started = await stack.execute(
                    user_message="Ask the helper", model_config=MODEL, tools=[agent_tool(url)]
                )
                task_id = started["task_id"]
                state = await until(stack, task_id, "awaiting_approval")
                nested = state["pending_approval"]["nested"]
                (tool,) = nested["tools"]
                assert (tool["name"], tool["args"]) == ("get_weather", {"query": "Oslo"})
                assert tool["id"] != tool["call_id"]  # ADK's confirmation, the model's call
                assert await tool_calls(tool_server, "/weather") == []
                response = await stack.http.post(
                    f"/api/v1/approve/{workflow_id(task_id)}", json={"approved": True}
                )
                assert response.status_code == 200, response.text
                final = await until(stack, task_id, "completed")
    assert len(await tool_calls(tool_server, "/weather")) == 1
    assert "sunny" in final["result"]["content"], final


async def test_a_kagent_agent_calls_ours_that_pauses(
    adk_python: Path,
    temporal: str,
    openai_fake: FakeServer,
    tool_server: FakeServer,
    tmp_path: Path,
) -> None:
    data = a2a_config(
        temporal, openai_fake, tool_server, tmp_path, require_approval=True, advertise_v03=True
    )
    async with running_stack(data) as ours:
        parent = {
            "model": kagent_model(openai_fake),
            "description": "Asks its helper.",
            "instruction": "You ask your helper.",
            "remote_agents": [{"name": "helper", "url": ours.url}],
            "stream": False,
        }
        async with kagent_agent(adk_python, tmp_path, "parent_agent", parent) as url:
            await enqueue(openai_fake, HELPER_THEN_WEATHER)
            async with httpx.AsyncClient(timeout=120) as http:
                card = await A2ACardResolver(http, url).get_agent_card()
                client = ClientFactory(ClientConfig(streaming=False, httpx_client=http)).create(
                    card
                )
                (paused,) = await collect(client.send_message(send_request(user_message("Go"))))
                assert isinstance(paused, Task), paused
                assert paused.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
                ours_task = await one_task(ours)
                assert ours_task["status"] == "awaiting_approval"
                assert await tool_calls(tool_server, "/weather") == []

                # As kagent 0.10's UI approves: a decision_type DataPart on the paused task.
                approve = user_message(
                    data={"decision_type": "approve"},
                    task_id=paused.id,
                    context_id=paused.context_id,
                )
                (done,) = await collect(client.send_message(send_request(approve)))
                await client.close()
            assert done.status.state == TaskState.TASK_STATE_COMPLETED, done
        ours_task = await one_task(ours)
        assert ours_task["status"] == "completed"
        assert "sunny" in ours_task["result"]["content"]
        given = await started_input(ours, ours_task["task_id"])
        assert given["user_id"]  # kagent's x-user-id header
    assert len(await tool_calls(tool_server, "/weather")) == 1


async def one_task(stack: Stack) -> dict[str, Any]:
    (task,) = (await stack.http.get("/api/v1/tasks")).json()["tasks"]
    return await stack.task(task["task_id"])
