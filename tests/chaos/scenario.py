"""Running a fault scenario's tasks and collecting what the invariants need."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import read_sse
from tests.fakes.server import FakeServer

__all__ = [
    "MCP_SERVER",
    "effect_tool",
    "finish",
    "http_tool",
    "mcp_server",
    "submit",
    "task_ids",
]

MODEL = {"provider": "openai", "model": "gpt-4o-mini"}
MCP_SERVER = str(Path(__file__).parents[1] / "fakes" / "mcp_servers.py")


def task_ids(prefix: str, count: int) -> list[str]:
    """Task ids no other test uses: the tests share one Temporal server, which refuses a
    second workflow with a finished one's id."""
    run = uuid.uuid4().hex[:8]
    return [f"{prefix}-{run}-{i}" for i in range(count)]


def effect_tool(tool_server: FakeServer, delay: float = 0) -> dict[str, Any]:
    """The side-effect tool: counts each call once per `Idempotency-Key`."""
    return http_tool(tool_server, "effect", f"/effect?delay={delay}")


def http_tool(tool_server: FakeServer, name: str, path: str, **config: Any) -> dict[str, Any]:
    return {
        "name": name,
        "description": f"the {name} tool",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
        "type": "http",
        "config": {"endpoint": tool_server.base_url + path, **config},
    }


def mcp_server(mode: str = "stdio", **settings: Any) -> dict[str, Any]:
    """An entry of `tools.mcp_servers` running the test MCP server (or its garbage mode)."""
    return {"command": sys.executable, "args": ["-P", MCP_SERVER, mode], **settings}


async def submit(http: httpx.AsyncClient, task_id: str, **body: Any) -> None:
    body = {"user_message": f"task {task_id}", "model_config": MODEL, **body}
    response = await http.post("/api/v1/execute", json={"task_id": task_id, **body})
    assert response.status_code == 202, response.text


async def finish(
    http: httpx.AsyncClient, task_ids: list[str], within: float = 120
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    """Each task's whole log (read to its terminal event) and final status."""
    logs = await asyncio.wait_for(
        asyncio.gather(*(read_sse(http, task_id) for task_id in task_ids)), within
    )
    statuses = {}
    for task_id in task_ids:
        response = await http.get(f"/api/v1/tasks/{task_id}")
        assert response.status_code == 200, response.text
        statuses[task_id] = response.json()["status"]
    return dict(zip(task_ids, logs, strict=True)), statuses
