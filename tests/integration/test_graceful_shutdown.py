"""SIGTERM, as Kubernetes sends it before a pod goes: a worker lets the call it runs finish
(no second attempt, unlike `kill -9` in `test_crash.py`), and an API ends its event streams
with a reconnect hint that a client resumes from on another API, each event once."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx

from temporal_executor.api.sse import RECONNECT_HINT
from tests.conftest import (
    config_data,
    free_port,
    read_sse,
    running_stack,
    weather_tool,
    write_config,
)
from tests.fakes.server import FakeServer
from tests.integration.test_agent_task import calls_to
from tests.processes import service_process, wait_healthy

DELAY = 3.0


async def test_sigterm_lets_the_running_tool_call_finish(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> None:
    data = config_data(temporal, openai_fake.url, tmp_path)
    data["executor"] = {**data.get("executor", {}), "graceful_shutdown_timeout": "20s"}
    config_path = write_config(data, tmp_path / "config.yaml")
    log = tmp_path / "worker.log"
    tool = weather_tool(tool_server, name="slow_lookup", path=f"/slow?delay={DELAY}")

    async with running_stack(data, worker=False) as stack:
        with service_process(config_path, log, "worker") as first:
            await stack.execute(
                task_id="sigterm-1",
                user_message="look it up slowly",
                model_config={"provider": "openai", "model": "gpt-4o-mini"},
                tools=[tool],
            )
            for _ in range(400):
                if await calls_to(tool_server):
                    break
                await asyncio.sleep(0.05)
            signalled = time.monotonic()
            first.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(first.wait, 30)
            waited = time.monotonic() - signalled
        assert code == 0, log.read_text()
        # It stayed for the call (which returned DELAY seconds after it began), not longer
        # than the grace period.
        assert 0.5 < waited < 20, (waited, log.read_text())
        # Whatever is left (the answer after the tool) runs on the next worker.
        with service_process(config_path, log, "worker"):
            events = await asyncio.wait_for(stack.events("sigterm-1"), 120)
        task = await stack.task("sigterm-1")

    assert task["status"] == "completed", task
    assert task["result"]["content"].startswith("Tool results: slow_lookup=")
    # The call finished on the worker that was stopping: it was made once, not retried.
    assert len(await calls_to(tool_server)) == 1
    assert [e["event"] for e in events].count("tool.result") == 1


async def test_sigterm_ends_streams_with_a_reconnect_hint(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> None:
    data = config_data(temporal, openai_fake.url, tmp_path, require_approval=True)
    api_data = {**data, "server": {**data["server"], "port": free_port()}}
    config_path = write_config(api_data, tmp_path / "api.yaml")
    url = f"http://127.0.0.1:{api_data['server']['port']}"
    log = tmp_path / "api.log"

    async with running_stack(data) as stack:  # the worker, and the API we resume on
        with service_process(config_path, log, "serve") as api:
            await wait_healthy(url)
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                await client.post(
                    "/api/v1/execute",
                    json={
                        "task_id": "drain-1",
                        "user_message": "what is the weather?",
                        "model_config": {"provider": "openai", "model": "gpt-4o-mini"},
                        "tools": [weather_tool(tool_server)],
                    },
                )
                # Parked for approval: the stream stays open until the API goes.
                first = await read_sse(client, "drain-1", until="approval.required")
                text, signalled = "", False
                async with client.stream("GET", "/api/v1/tasks/drain-1/events") as response:
                    async for chunk in response.aiter_text():
                        text += chunk
                        if "approval.required" in text and not signalled:
                            api.send_signal(signal.SIGTERM)
                            signalled = True
                code = await asyncio.to_thread(api.wait, 20)
        assert code == 0, log.read_text()
        assert text.endswith(RECONNECT_HINT), text[-300:]
        last = max(int(line[3:]) for line in text.splitlines() if line.startswith("id:"))
        assert last == first[-1]["id"]

        await stack.http.post("/api/v1/approve/agent-execution-drain-1", json={"approved": True})
        rest = await read_sse(stack.http, "drain-1", after=last)
        whole = await stack.events("drain-1")

    assert [e["id"] for e in rest] == [e["id"] for e in whole[last:]]
    assert rest[-1]["event"] == "task.completed"
