"""Faults of what a task depends on — the LLM provider, HTTP tools, MCP servers — against the
real service (worker + API), real Temporal, the OpenAI SDK against the wire fake, and a real
MCP server process. Each task also calls the side-effect tool, so a retry that repeated a
call's effect would show."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.chaos.invariants import check, effects, report
from tests.chaos.scenario import effect_tool, finish, http_tool, mcp_server, submit, task_ids
from tests.conftest import config_data, running_stack
from tests.fakes.rules import FakeControl
from tests.fakes.server import FakeServer

TASKS = 2


def provider_config(temporal: str, openai_fake: FakeServer, tmp_path: Path) -> dict[str, Any]:
    data = config_data(temporal, openai_fake.url, tmp_path)
    # A stalled reply is given up after 3 s; the 100 ms retry interval keeps the suite quick.
    data["executor"]["timeouts"].update(llm="3s", tool="5s")
    return data


# (scenario, entries queued per task before the rules answer, expected status, the error).
# A malformed reply is not retried (the provider adapters' rule: the same request would get
# the same answer), so the task fails at once with an error saying what was wrong.
PROVIDER_FAULTS = [
    ("429 with Retry-After", [{"status": 429, "headers": {"Retry-After": "1"}}], "completed", ""),
    ("500 twice", [{"status": 500}, {"status": 500}], "completed", ""),
    ("connection cut mid-stream", [{"fault": "cut"}], "completed", ""),
    ("malformed JSON chunk mid-stream", [{"fault": "garbage"}], "failed", "malformed reply"),
    ("reply that never ends", [{"fault": "stall"}], "completed", ""),
    # Every attempt: the local one, then the regular activity's max_attempts (3).
    ("500 on every attempt", [{"status": 500}] * 4, "failed", "canned error 500"),
]


@pytest.mark.parametrize(
    ("scenario", "entries", "expected", "error"),
    PROVIDER_FAULTS,
    ids=[f[0] for f in PROVIDER_FAULTS],
)
async def test_provider_faults(
    scenario: str,
    entries: list[dict[str, Any]],
    expected: str,
    error: str,
    temporal: str,
    openai_fake: FakeServer,
    tool_server: FakeServer,
    tmp_path: Path,
) -> None:
    fake = FakeControl(openai_fake.base_url)
    ids = task_ids("provider", TASKS)
    async with running_stack(provider_config(temporal, openai_fake, tmp_path)) as stack:
        for task_id in ids:  # one task at a time takes its faults: the queue is shared
            fake.enqueue(*entries)
            await submit(stack.http, task_id, tools=[effect_tool(tool_server)])
            await finish(stack.http, [task_id])
        logs, statuses = await finish(stack.http, ids)

    outcome = check(f"provider: {scenario}", logs, statuses, expected, effects(tool_server.url))
    report(outcome)
    for task_id in ids:
        log = logs[task_id]
        if expected == "failed":
            failure = log[-1]["data"]["error"]
            assert failure["code"] == "llm_error" and error in failure["message"], failure
            continue
        assert log[-1]["data"]["result"]["content"].startswith("Tool results: effect=")
    if scenario.startswith("429"):
        # The retry waited as long as the provider asked.
        times = [r["_http"]["time"] for r in fake.requests()]
        assert times[1] - times[0] >= 0.95, times


# (scenario, the faulty tool's path and config, what its result says)
TOOL_FAULTS = [
    ("tool hangs", "/fault/hang", {"timeout": "1s"}, "within 1s"),
    ("tool answers 500", "/fault/status/500", {}, "500"),
    ("tool answers garbage", "/fault/garbage", {}, None),
    ("tool answers 50 MB", "/fault/huge?mb=50", {}, "larger than"),
    ("tool redirects in a loop", "/fault/loop", {}, "redirect"),
]


@pytest.mark.parametrize(
    ("scenario", "path", "config", "says"), TOOL_FAULTS, ids=[f[0] for f in TOOL_FAULTS]
)
async def test_tool_faults(
    scenario: str,
    path: str,
    config: dict[str, Any],
    says: str | None,
    temporal: str,
    openai_fake: FakeServer,
    tool_server: FakeServer,
    tmp_path: Path,
) -> None:
    ids = task_ids("tool", TASKS)
    tools = [effect_tool(tool_server), http_tool(tool_server, "faulty", path, **config)]
    async with running_stack(provider_config(temporal, openai_fake, tmp_path)) as stack:
        for task_id in ids:
            await submit(stack.http, task_id, user_message=f"{task_id} [two tools]", tools=tools)
        logs, statuses = await finish(stack.http, ids)

    report(check(f"tool: {scenario}", logs, statuses, "completed", effects(tool_server.url)))
    for log in logs.values():
        results = {e["data"]["name"]: e["data"] for e in log if e["event"] == "tool.result"}
        assert not results["effect"]["is_error"]
        if says is not None:
            assert results["faulty"]["is_error"], results["faulty"]
            assert says in results["faulty"]["content"].lower(), results["faulty"]


# (scenario, server entry, the call the LLM makes, the task's status, what the error says:
# the call's error result, or the task's error when the task cannot start). A server that
# answers garbage never completes MCP's handshake, so the task's tools cannot be listed.
MCP_FAULTS = [
    (
        "MCP server crashes mid-call",
        mcp_server(),
        ("crash", {}),
        "completed",
        "closed the connection",
    ),
    (
        "MCP server hangs",
        mcp_server(call_timeout="1s"),
        ("slow", {"seconds": 600}),
        "completed",
        "did not finish within",
    ),
    (
        "MCP server answers garbage",
        mcp_server("garbage", startup_timeout="2s"),
        ("x", {}),
        "failed",
        "MCP server 't' did not start within 2s",
    ),
]


@pytest.mark.parametrize(
    ("scenario", "server", "call", "expected", "says"),
    MCP_FAULTS,
    ids=[f[0] for f in MCP_FAULTS],
)
async def test_mcp_faults(
    scenario: str,
    server: dict[str, Any],
    call: tuple[str, dict[str, Any]],
    expected: str,
    says: str,
    temporal: str,
    openai_fake: FakeServer,
    tool_server: FakeServer,
    tmp_path: Path,
) -> None:
    data = provider_config(temporal, openai_fake, tmp_path)
    data["tools"]["mcp_servers"] = {"t": server}
    name, arguments = call
    mcp = {"name": "faulty", "type": "mcp", "config": {"server": "t", "tool": name}}
    mcp["parameters"] = {"type": "object", "properties": {}}
    fake = FakeControl(openai_fake.base_url)
    ids = task_ids("mcp", TASKS)
    async with running_stack(data) as stack:
        for task_id in ids:
            fake.enqueue(
                {
                    "tool_calls": [
                        {"name": "effect", "arguments": {"query": task_id}},
                        {"name": "faulty", "arguments": arguments},
                    ]
                }
            )
            await submit(stack.http, task_id, tools=[effect_tool(tool_server), mcp])
            await finish(stack.http, [task_id])
        logs, statuses = await finish(stack.http, ids)
        async with httpx.AsyncClient(base_url=stack.url) as http:
            assert (await http.get("/readyz")).status_code == 200

    report(check(f"mcp: {scenario}", logs, statuses, expected, effects(tool_server.url)))
    for log in logs.values():
        if expected == "failed":
            failure = log[-1]["data"]["error"]
            assert failure["code"] == "tool_error" and says in failure["message"], failure
            continue
        results = {e["data"]["name"]: e["data"] for e in log if e["event"] == "tool.result"}
        assert results["faulty"]["is_error"], results["faulty"]
        assert says in results["faulty"]["content"], results["faulty"]
