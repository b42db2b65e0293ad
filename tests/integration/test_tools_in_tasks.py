"""MCP and built-in tools inside real tasks: a whole MCP server expanded before the first LLM
call, two calls of one turn running at the same time, mcp-server-time from PyPI, and a
built-in — configured only through config and the request body."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import config_data, enqueue, running_stack
from tests.fakes.server import FakeServer

REPO = Path(__file__).parent.parent.parent
MODEL = {"provider": "openai", "model": "gpt-4o-mini", "stream": False}


def call(name: str, **arguments: Any) -> dict[str, str]:
    return {"name": name, "arguments": json.dumps(arguments)}


async def test_mcp_server_tools_run_in_parallel(
    temporal: str, openai_fake: FakeServer, tmp_path: Path
) -> None:
    slow_log = tmp_path / "slow.jsonl"
    data = config_data(temporal, openai_fake.url, tmp_path)
    data["tools"]["mcp_servers"] = {
        "test": {
            "command": sys.executable,
            "args": ["-P", str(REPO / "tests" / "fakes" / "mcp_servers.py"), "stdio"],
            "env": {"TE_MCP_SLOW_LOG": str(slow_log)},
        }
    }
    await enqueue(
        openai_fake,
        [
            {
                "tool_calls": [
                    call("t_slow", seconds=1.5, label="a"),
                    call("t_slow", seconds=1.5, label="b"),
                ]
            },
            {"content": "both done"},
        ],
    )
    async with running_stack(data) as stack:
        response = await stack.http.post(
            "/api/v1/execute?wait=true",
            json={
                "user_message": "run both",
                "model_config": MODEL,
                "tools": [{"name": "t", "type": "mcp", "config": {"server": "test"}}],
            },
        )
        task = response.json()
        assert task["status"] == "completed", task
        events = await stack.events(task["task_id"])

    async with httpx.AsyncClient() as http:
        first = (await http.get(openai_fake.base_url + "/_fake/requests")).json()[0]
    offered = {tool["function"]["name"] for tool in first["tools"]}
    assert {"t_echo", "t_add", "t_slow", "t_crash"} <= offered, offered
    slow = next(t for t in first["tools"] if t["function"]["name"] == "t_slow")
    assert "seconds" in slow["function"]["parameters"]["properties"]

    results = [e["data"] for e in events if e["event"] == "tool.result"]
    assert [r["is_error"] for r in results] == [False, False]
    runs = {r["label"]: r for r in map(json.loads, slow_log.read_text().splitlines())}
    # Overlap, as recorded by the server itself: each call started before the other ended.
    assert runs["a"]["start"] < runs["b"]["end"] and runs["b"]["start"] < runs["a"]["end"]


async def test_mcp_server_time_and_a_builtin(
    temporal: str, openai_fake: FakeServer, tmp_path: Path
) -> None:
    data = config_data(temporal, openai_fake.url, tmp_path)
    data["tools"]["mcp_servers"] = {
        "time": {"command": str(Path(sys.executable).parent / "mcp-server-time"), "args": []}
    }
    await enqueue(
        openai_fake,
        [
            {
                "tool_calls": [
                    call("now", timezone="Europe/Paris"),
                    call("calc", expression="6 * 7"),
                ]
            },
            {"content": "done"},
        ],
    )
    async with running_stack(data) as stack:
        response = await stack.http.post(
            "/api/v1/execute?wait=true",
            json={
                "user_message": "what time is it, and 6*7?",
                "model_config": MODEL,
                "tools": [
                    {
                        "name": "now",
                        "type": "mcp",
                        "config": {"server": "time", "tool": "get_current_time"},
                    },
                    {"name": "calc", "type": "builtin", "config": {"tool": "calculator"}},
                ],
            },
        )
        task = response.json()
        assert task["status"] == "completed", task
        events = await stack.events(task["task_id"])
    results = {e["data"]["name"]: e["data"] for e in events if e["event"] == "tool.result"}
    assert not results["now"]["is_error"] and "Europe/Paris" in results["now"]["content"]
    assert results["calc"]["content"] == "42"
