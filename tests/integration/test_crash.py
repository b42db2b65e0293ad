"""A task survives `kill -9` of its worker in the middle of a tool call (or of another agent's
work, or of a streamed answer, or of its API while a client streams), and finishes once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections import Counter
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx

from temporal_executor.api.a2a.hitl import HITL_EXTENSION_URI
from temporal_executor.store import Store
from tests.conftest import (
    config_data,
    enqueue,
    free_port,
    read_sse,
    running_stack,
    weather_tool,
    write_config,
)
from tests.fakes.a2a_proxy import message_sends, recording_proxy
from tests.fakes.server import FakeServer
from tests.integration.test_agent_tools import (
    ASKS_THE_HELPER,
    agent_tool,
    slow_call,
    slow_calls,
    working_child,
)
from tests.processes import service_process, wait_healthy


def worker_process(config_path: Path, log: Path) -> AbstractContextManager[subprocess.Popen[bytes]]:
    return service_process(config_path, log, "worker")


def api_process(config_path: Path, log: Path) -> AbstractContextManager[subprocess.Popen[bytes]]:
    return service_process(config_path, log, "serve")


async def test_worker_killed_during_tool_call(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> None:
    """Killed while one task calls a slow tool and another calls an agent (a second service,
    reached through a recording proxy) whose own tool is slow. The tool is called again under
    the same idempotency key; the agent is sent the request once (the next attempt follows
    the agent's task)."""
    data = config_data(temporal, openai_fake.url, tmp_path)
    config_path = write_config(data, tmp_path / "config.yaml")
    log = tmp_path / "worker.log"
    tool = weather_tool(tool_server, name="slow_lookup", path="/slow?delay=4")
    # Still working when the worker is killed: after the other task has started its tool.
    child_data = working_child(temporal, openai_fake, tool_server, tmp_path, 5)

    async with running_stack(child_data) as child, running_stack(data, worker=False) as stack:
        with FakeServer(recording_proxy(child.url)) as proxy:
            # Every call through the proxy: kagent's proxy routing (`x-kagent-host`).
            helper = agent_tool(proxy.base_url, headers={"x-kagent-host": "child.local"})
            with worker_process(config_path, log) as first:
                await enqueue(openai_fake, [ASKS_THE_HELPER])
                asks = await stack.execute(
                    task_id="crash-agent",
                    user_message="Ask the helper",
                    model_config={"provider": "openai", "model": "gpt-4o-mini"},
                    tools=[helper],
                )
                await slow_call(tool_server, "Weather in Oslo?", log)  # the child's
                await stack.execute(
                    task_id="crash-1",
                    user_message="look it up slowly",
                    model_config={"provider": "openai", "model": "gpt-4o-mini"},
                    tools=[tool],
                )
                await slow_call(tool_server, "look it up slowly", log)
                os.kill(first.pid, signal.SIGKILL)
                first.wait()

            with worker_process(config_path, log):
                events = await asyncio.wait_for(stack.events("crash-1"), 120)
                await asyncio.wait_for(stack.events("crash-agent"), 120)
            task = await stack.task("crash-1")
            asked = await stack.task("crash-agent")
            requests: list[dict[str, Any]] = proxy.app.state.requests

    assert task["status"] == "completed", task
    assert task["result"]["content"].startswith("Tool results: slow_lookup=")

    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    counts = Counter(e["event"] for e in events if e["event"] != "llm.delta")
    assert counts == {
        "task.started": 1,
        "llm.message": 2,
        "tool.call": 1,
        "tool.result": 1,
        "task.completed": 1,
    }
    calls = await slow_calls(tool_server, "look it up slowly")
    call_id = next(e for e in events if e["event"] == "tool.call")["data"]["id"]
    # At-least-once delivery, made safe by the idempotency key: the retry carries the same one.
    assert len(calls) == 2
    assert {c["idempotency_key"] for c in calls} == {call_id}

    # The agent: one request, however many attempts followed it; kagent's headers.
    assert asked["status"] == "completed", asked
    assert asked["result"]["content"].startswith("Tool results: helper=Tool results: slow_lookup=")
    (sent,) = message_sends(requests)
    headers = sent["headers"]
    assert headers["x-kagent-source"] == "agent"
    assert headers["a2a-extensions"] == HITL_EXTENSION_URI
    assert headers["x-kagent-parent-context-id"] == asks["session_id"]
    assert headers["x-kagent-root-context-id"] == asks["session_id"]
    assert headers["x-kagent-host"] == "child.local"
    followed = [r.get("rpc") for r in requests[requests.index(sent) + 1 :]]
    assert {"SubscribeToTask", "GetTask"} & set(followed), followed
    assert len(await slow_calls(tool_server, "Weather in Oslo?")) == 1


async def wait_for_event(store: Store, task_id: str, type: str) -> None:
    for _ in range(600):
        if any(event.type == type for event in await store.events.read(task_id)):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {type} event for {task_id}")


async def test_worker_killed_mid_stream(
    temporal: str, openai_fake: FakeServer, tmp_path: Path
) -> None:
    data = config_data(temporal, openai_fake.url, tmp_path)
    config_path = write_config(data, tmp_path / "config.yaml")
    log = tmp_path / "worker.log"
    words = " ".join(f"word{i}" for i in range(40))
    async with httpx.AsyncClient() as http:
        await http.post(openai_fake.base_url + "/_fake/config", json={"chunk_delay": 0.1})

    async with running_stack(data, worker=False) as stack:
        with worker_process(config_path, log) as first:
            await stack.execute(
                task_id="stream-crash-1",
                user_message=words,
                model_config={"provider": "openai", "model": "gpt-4o-mini"},
            )
            await wait_for_event(stack.services.store, "stream-crash-1", "llm.delta")
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
        async with httpx.AsyncClient() as http:
            await http.post(openai_fake.base_url + "/_fake/config", json={"chunk_delay": 0})
        with worker_process(config_path, log):
            events = await asyncio.wait_for(stack.events("stream-crash-1"), 120)

    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    types = [e["event"] for e in events]
    assert types.count("llm.restart") == 1 and types.count("llm.message") == 1
    restart = types.index("llm.restart")
    assert "llm.delta" in types[:restart], "the first attempt streamed before the kill"
    assert events[restart]["data"]["attempt"] == 2
    # After the marker, the deltas are the new attempt's whole answer, nothing interleaved.
    after = [e["data"] for e in events[restart + 1 :] if e["event"] == "llm.delta"]
    assert {d["attempt"] for d in after} == {2}
    final = next(e for e in events if e["event"] == "llm.message")["data"]["content"]
    assert "".join(d["text"] for d in after) == final == f"Echo: {words}"
    assert types[-1] == "task.completed"


async def test_api_killed_while_client_streams(
    temporal: str, openai_fake: FakeServer, tmp_path: Path
) -> None:
    """Kill the API process a client streams from; reconnect to a new one with Last-Event-ID:
    the client ends up with the whole log, each event once."""
    data = config_data(temporal, openai_fake.url, tmp_path)
    api_data = {**data, "server": {**data["server"], "port": free_port()}}
    config_path = write_config(api_data, tmp_path / "api.yaml")
    url = f"http://127.0.0.1:{api_data['server']['port']}"
    log = tmp_path / "api.log"
    words = " ".join(f"token{i}" for i in range(30))
    async with httpx.AsyncClient() as http:
        await http.post(openai_fake.base_url + "/_fake/config", json={"chunk_delay": 0.1})

    async with running_stack(data) as stack:  # the worker (and an API we don't use)
        received: list[dict[str, object]] = []
        with api_process(config_path, log) as api:
            await wait_healthy(url)
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                await client.post(
                    "/api/v1/execute",
                    json={
                        "task_id": "api-crash-1",
                        "user_message": words,
                        "model_config": {"provider": "openai", "model": "gpt-4o-mini"},
                    },
                )
                try:
                    async with client.stream("GET", "/api/v1/tasks/api-crash-1/events") as response:
                        event: dict[str, object] = {}
                        async for line in response.aiter_lines():
                            if line.startswith("id:"):
                                event["id"] = int(line[3:])
                            elif line.startswith("event:"):
                                event["event"] = line[6:].strip()
                            elif not line and "id" in event:
                                received.append(event)
                                event = {}
                                if len(received) == 5:
                                    os.kill(api.pid, signal.SIGKILL)
                except (httpx.RemoteProtocolError, httpx.ReadError):
                    pass
        assert 5 <= len(received) and received[-1]["event"] != "task.completed"

        with api_process(config_path, log):
            await wait_healthy(url)
            async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                rest = await read_sse(client, "api-crash-1", after=int(str(received[-1]["id"])))
        whole = await stack.events("api-crash-1")

    got = [int(str(e["id"])) for e in received] + [e["id"] for e in rest]
    assert got == [e["id"] for e in whole] == list(range(1, len(whole) + 1))
    assert whole[-1]["event"] == "task.completed"
