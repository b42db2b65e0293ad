"""The agent kagent defines, answering: the config kagent's SandboxAgent compiler writes
(`compiled/`), pointed at this test's servers (the OpenAI wire fake as the model's `base_url`,
the test MCP server over streamable HTTP with a tool filter, `require_approval` and a header
from a `__KAGENT_ENV[…]__` placeholder, the remote agent with `isolate_sessions` another
service of ours whose tool needs approval), loaded as the service loads its config, and
driven over A2A with kagent's HITL extension, as kagent's UI drives a runtime: the remote
agent's approval is decided at this agent over A2A, then over REST, its tool run once each."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from a2a.types import SubscribeToTaskRequest, Task, TaskState, TaskStatusUpdateEvent

from temporal_executor.api.a2a.hitl import HITL_EXTENSION_URI
from temporal_executor.config import load_config
from temporal_executor.workflows import workflow_id
from tests.a2a.conftest import a2a_client, collect, send_request, user_message
from tests.a2a.test_approval import hitl_answer, hitl_payload
from tests.conftest import (
    config_data,
    enqueue,
    fake_requests,
    free_port,
    running_stack,
    write_config,
)
from tests.fakes.mcp_process import McpHttpProcess
from tests.fakes.server import FakeServer
from tests.integration.test_agent_tools import child_config, tool_calls
from tests.kagent.test_definition import CREDENTIAL, compiled

HELPER = "kagent__NS__k8s_helper"
ASKS_THE_HELPER = {"tool_calls": [{"name": HELPER, "arguments": {"request": "Which pods crash?"}}]}
INSTRUCTION = (
    "You are the docs assistant. Search the docs before answering; delete a page only when "
    "the user asks for it."
)


@pytest.fixture(scope="module")
def slow_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kagent-mcp") / "slow.jsonl"


@pytest.fixture(scope="module")
def mcp_server(slow_log: Path) -> Iterator[McpHttpProcess]:
    server = McpHttpProcess(env={"TE_MCP_SLOW_LOG": str(slow_log)})
    server.start()
    yield server
    server.stop()


def slow_runs(log: Path) -> list[dict[str, Any]]:
    """The runs of the MCP server's `slow` tool, as it recorded them."""
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def kagent_definition(
    openai_fake: FakeServer, mcp_server: McpHttpProcess, remote_agent: str = "http://127.0.0.1:9"
) -> dict[str, Any]:
    """The compiled config, with this test's servers: `slow` (it records each run) needs
    approval, `request_headers` shows what reached the server, every other tool of the
    server is filtered out; the remote agent is at `remote_agent`."""
    data: dict[str, Any] = json.loads(compiled("sandbox-agent.config.json"))
    data["remote_agents"][0]["url"] = remote_agent
    data["model"]["base_url"] = openai_fake.url
    (tools,) = data["http_tools"]
    tools["params"]["url"] = mcp_server.url
    tools["params"]["headers"] = {
        "X-Team": "docs",
        "Authorization": f"__KAGENT_ENV[{CREDENTIAL}]__",
    }
    tools["tools"] = ["slow", "request_headers"]
    tools["require_approval"] = ["slow"]
    return data


async def test_the_agent_kagent_defines_is_the_one_that_answers(
    temporal: str,
    openai_fake: FakeServer,
    tool_server: FakeServer,
    mcp_server: McpHttpProcess,
    slow_log: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Our own config names another endpoint and key for `openai`: kagent's must win.
    data = config_data(temporal, "http://127.0.0.1:9/v1", tmp_path)
    data["tools"]["allow_private_hosts"] = False  # kagent's hosts are allowed by name
    data["kagent"] = {"config_path": None, "card_path": None}
    data["a2a"] = {"grpc": {"enabled": False, "port": free_port()}}
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-kagents-secret")
    child_data = child_config(temporal, openai_fake, tool_server, tmp_path)
    async with running_stack(child_data) as child:
        env = {
            "KAGENT_CONFIG_JSON": json.dumps(kagent_definition(openai_fake, mcp_server, child.url)),
            "KAGENT_AGENT_CARD_JSON": compiled("sandbox-agent.card.json"),
            CREDENTIAL: "Bearer s3cret",
        }
        config = load_config(write_config(data, tmp_path / "config.yaml"), env=env)
        await enqueue(
            openai_fake,
            [
                {"tool_calls": [{"name": "request_headers", "arguments": "{}"}]},
                {"tool_calls": [{"name": "slow", "arguments": {"seconds": 0.01, "label": "p-1"}}]},
            ],
        )
        caplog.set_level(logging.INFO, logger="temporal_executor.runtime")
        async with running_stack(config) as stack:
            card = (await stack.http.get("/.well-known/agent-card.json")).json()
            assert card["name"] == "docs_assistant"
            assert (
                card["description"] == "Answers questions about the docs and removes stale pages."
            )
            assert HITL_EXTENSION_URI in [e["uri"] for e in card["capabilities"]["extensions"]]

            async with a2a_client(stack.url, hitl=True) as client:
                message = user_message("Delete page p-1", context_id="kagent-session-1")
                events = await collect(client.send_message(send_request(message)))
                paused = events[-1]
                assert isinstance(paused, TaskStatusUpdateEvent)
                assert paused.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
                request = hitl_payload(paused.status.message)
                (tool,) = request["tools"]
                assert (tool["name"], tool["args"]) == ("slow", {"seconds": 0.01, "label": "p-1"})
                assert request["hint"] == "Tool 'slow' requires approval before execution."
                assert slow_runs(slow_log) == []  # nothing ran before the decision

                task = events[0]
                assert isinstance(task, Task)
                answer = hitl_answer(task, [{"id": tool["id"], "approved": True}])
                resumed = await collect(client.send_message(send_request(answer)))
                assert resumed[-1].status.state == TaskState.TASK_STATE_COMPLETED
                assert [run["label"] for run in slow_runs(slow_log)] == ["p-1"]  # once
                requests = await fake_requests(openai_fake)

                # The remote agent: its approval decided here over A2A, then over REST.
                for turn, decide_over in enumerate(("a2a", "rest"), 1):
                    await enqueue(openai_fake, [ASKS_THE_HELPER])
                    message = user_message(
                        f"Check the pods ({turn})", context_id="kagent-session-1"
                    )
                    events = await collect(client.send_message(send_request(message)))
                    task, paused = events[0], events[-1]
                    request = hitl_payload(paused.status.message)
                    assert request["tools"][0]["name"] == HELPER
                    (asked,) = request["nested"]["tools"]
                    assert asked["name"] == "get_weather"
                    assert len(await tool_calls(tool_server, "/weather")) == turn - 1
                    if decide_over == "a2a":
                        answer = hitl_answer(task, [{"id": asked["id"], "approved": True}])
                        resumed = await collect(client.send_message(send_request(answer)))
                    else:
                        response = await stack.http.post(
                            f"/api/v1/approve/{workflow_id(task.id)}", json={"approved": True}
                        )
                        assert response.status_code == 200, response.text
                        resumed = await collect(
                            client.subscribe(SubscribeToTaskRequest(id=task.id))
                        )
                    assert resumed[-1].status.state == TaskState.TASK_STATE_COMPLETED
                    assert len(await tool_calls(tool_server, "/weather")) == turn  # once each
                    child_task = await child.task(request["nested"]["task_id"])
                    assert child_task["status"] == "completed"

    assert len(requests) == 3  # to kagent's base_url: ours (port 9) would have failed
    first = requests[0]
    assert first["model"] == "gpt-4o-mini" and first["temperature"] == 0.2
    assert first["stream"] is True
    assert first["messages"][0] == {"role": "system", "content": INSTRUCTION}
    offered = {t["function"]["name"]: t["function"] for t in first["tools"]}
    assert sorted(offered) == ["ask_user", HELPER, "request_headers", "slow"]  # bare, filtered
    assert offered[HELPER]["description"] == (
        "Inspects Kubernetes resources and reports what it finds."
    )
    assert offered[HELPER]["parameters"]["required"] == ["request"]
    headers = json.loads(requests[1]["messages"][-1]["content"])
    assert headers["x-team"] == "docs" and headers["authorization"] == "Bearer s3cret"
    assert requests[2]["messages"][-1]["content"] == "slept 0.01s p-1"

    notes = [r.getMessage() for r in caplog.records if "not honoured" in r.getMessage()]
    assert notes == [
        "kagent agent config (KAGENT_CONFIG_JSON): not honoured: session_db_url, "
        "context_config.compaction.event_retention_size"
    ]
