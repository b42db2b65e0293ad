"""Our own processes killed (`kill -9` by PID) under several tasks at once: the worker during
LLM streams, during side-effect tool calls and while tasks are parked awaiting approval; the
API while clients stream from it (they reconnect to a new one with `Last-Event-ID`).
`tests/integration/test_crash.py` checks each of these on one task in detail; here every
task's whole log and the side effects are checked by the suite's invariants."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path
from typing import Any

import httpx

from tests.chaos.invariants import check, effects, report
from tests.chaos.scenario import effect_tool, finish, submit, task_ids
from tests.chaos.test_temporal_faults import wait_status, wait_tool_calls
from tests.conftest import Stack, config_data, free_port, read_sse, running_stack, write_config
from tests.fakes.server import FakeServer
from tests.processes import service_process, wait_healthy

TASKS = 3  # clients of the killed API
WORDS = " ".join(f"word{i}" for i in range(50))
PER_PHASE = 2
PHASES = ("LLM stream", "tool call", "awaiting approval")


async def chunk_delay(openai_fake: FakeServer, seconds: float) -> None:
    async with httpx.AsyncClient() as http:
        await http.post(openai_fake.base_url + "/_fake/config", json={"chunk_delay": seconds})


async def wait_streaming(stack: Stack, ids: list[str]) -> None:
    """Until every task has streamed some of its answer."""
    for _ in range(1200):
        streamed = [any(e.type == "llm.delta" for e in await stack.services.store.events.read(t))
                    for t in ids]  # fmt: skip
        if all(streamed):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the tasks never streamed")


async def start_phases(
    stack: Stack, tool_server: FakeServer, openai_fake: FakeServer, log: Path
) -> dict[str, list[str]]:
    """PER_PHASE tasks in each phase at once (phase → task ids), for the worker to be killed."""
    ids = {phase: task_ids(f"worker-{phase.split()[0]}", PER_PHASE) for phase in PHASES}
    await chunk_delay(openai_fake, 0.1)
    for task_id in ids["awaiting approval"]:
        tools = [effect_tool(tool_server)]
        await submit(stack.http, task_id, tools=tools, require_approval=True)
    for task_id in ids["tool call"]:
        await submit(stack.http, task_id, tools=[effect_tool(tool_server, delay=6)])
    for task_id in ids["LLM stream"]:  # a long streamed answer, the tool offered but not called
        body = {"user_message": f"{WORDS} [no tools]", "tools": [effect_tool(tool_server)]}
        await submit(stack.http, task_id, **body)
    for task_id in ids["awaiting approval"]:
        await wait_status(stack.http, task_id, "awaiting_approval")
    await wait_tool_calls(tool_server, len(ids["tool call"]), log)
    await wait_streaming(stack, ids["LLM stream"])
    return ids


def calls_of(logs: dict[str, list[dict[str, Any]]], side_effects: dict[str, Any]) -> Any:
    """The side-effect counters of the tool calls these logs show."""
    ids = {e["data"]["id"] for log in logs.values() for e in log if e["event"] == "tool.call"}
    return {part: {k: n for k, n in counts.items() if k in ids}
            for part, counts in side_effects.items()}  # fmt: skip


async def test_worker_killed(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> None:
    """One kill of the worker while tasks stream, call the side-effect tool and are parked
    awaiting approval; a new worker finishes them all."""
    data = config_data(temporal, openai_fake.url, tmp_path)
    config_path = write_config(data, tmp_path / "config.yaml")
    log = tmp_path / "worker.log"
    async with running_stack(data, worker=False) as stack:
        with service_process(config_path, log, "worker") as first:
            ids = await start_phases(stack, tool_server, openai_fake, log)
            os.kill(first.pid, signal.SIGKILL)
            await asyncio.to_thread(first.wait)
        await chunk_delay(openai_fake, 0)
        with service_process(config_path, log, "worker"):
            for task_id in ids["awaiting approval"]:
                url = f"/api/v1/approve/agent-execution-{task_id}"
                response = await stack.http.post(url, json={"approved": True})
                assert response.status_code == 200, response.text
            every = [task_id for phase in PHASES for task_id in ids[phase]]
            logs, statuses = await finish(stack.http, every, within=180)

    side_effects = effects(tool_server.url)
    # All at once: no effect applied twice or under a key that is no call's id.
    assert check("all", logs, statuses, "completed", side_effects).clean
    for phase in PHASES:
        mine = {t: logs[t] for t in ids[phase]}
        status = {t: statuses[t] for t in ids[phase]}
        report(
            check(
                f"worker killed: {phase}", mine, status, "completed", calls_of(mine, side_effects)
            )
        )
        for events in mine.values():
            content = events[-1]["data"]["result"]["content"]
            want = f"Echo: {WORDS}" if phase == "LLM stream" else "Tool results: effect="
            assert content.startswith(want), content


async def stream_until_killed(
    http: httpx.AsyncClient, task_id: str, received: list[dict[str, Any]]
) -> None:
    """Read the task's stream into `received` until the connection drops (or it ends)."""
    with contextlib.suppress(httpx.RemoteProtocolError, httpx.ReadError):
        await read_sse(http, task_id, into=received)


async def test_api_killed_while_clients_stream(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> None:
    """Clients of an API process that is killed mid-stream reconnect to a new one with
    `Last-Event-ID` and end up with each task's whole log, each event once."""
    data = config_data(temporal, openai_fake.url, tmp_path)
    api_data = {**data, "server": {**data["server"], "port": free_port()}}
    config_path = write_config(api_data, tmp_path / "api.yaml")
    url = f"http://127.0.0.1:{api_data['server']['port']}"
    log = tmp_path / "api.log"
    await chunk_delay(openai_fake, 0.1)
    ids = task_ids("api-killed", TASKS)
    received: dict[str, list[dict[str, Any]]] = {task_id: [] for task_id in ids}
    async with running_stack(data):  # the worker (and an API the clients don't use)
        with service_process(config_path, log, "serve") as api:
            await wait_healthy(url, within=60)
            async with httpx.AsyncClient(base_url=url, timeout=60) as http:
                for task_id in ids:
                    tools = [effect_tool(tool_server, delay=2)]  # still running at the kill
                    body = {"user_message": WORDS, "tools": tools}
                    await submit(http, task_id, **body)
                readers = [
                    asyncio.create_task(stream_until_killed(http, t, received[t])) for t in ids
                ]
                for _ in range(3000):  # until every client has a few events
                    if min(len(r) for r in received.values()) >= 3:
                        break
                    await asyncio.sleep(0.02)
                os.kill(api.pid, signal.SIGKILL)
                await asyncio.wait_for(asyncio.gather(*readers), 30)
        await chunk_delay(openai_fake, 0)
        with service_process(config_path, log, "serve"):
            await wait_healthy(url, within=60)
            async with httpx.AsyncClient(base_url=url, timeout=60) as http:
                for task_id in ids:
                    before = received[task_id]
                    assert before[-1]["event"] != "task.completed", "killed too late"
                    before += await read_sse(http, task_id, after=before[-1]["id"])
                _, statuses = await finish(http, ids, within=180)

    scenario = "API killed while clients stream"
    report(check(scenario, received, statuses, "completed", effects(tool_server.url)))
