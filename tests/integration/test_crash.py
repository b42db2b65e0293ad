"""A task survives `kill -9` of its worker in the middle of a tool call, and finishes once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import config_data, running_stack, weather_tool, write_config
from tests.fakes.server import FakeServer


@contextmanager
def worker_process(config_path: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "temporal_executor", "--config", str(config_path), "worker"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ},
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


async def test_worker_killed_during_tool_call(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> None:
    data = config_data(temporal, openai_fake.url, tmp_path)
    config_path = write_config(data, tmp_path / "config.yaml")
    log = tmp_path / "worker.log"
    tool = weather_tool(tool_server, name="slow_lookup", path="/slow?delay=4")

    async with running_stack(data, worker=False) as stack:
        with worker_process(config_path, log) as first:
            await stack.execute(
                task_id="crash-1",
                user_message="look it up slowly",
                model_config={"provider": "openai", "model": "gpt-4o-mini"},
                tools=[tool],
            )
            async with httpx.AsyncClient() as http:
                for _ in range(400):
                    calls = (await http.get(tool_server.base_url + "/_tool/calls")).json()
                    if calls:
                        break
                    await asyncio.sleep(0.05)
            assert len(calls) == 1, f"the tool was never called; worker log:\n{log.read_text()}"
            os.kill(first.pid, signal.SIGKILL)
            first.wait()

        with worker_process(config_path, log):
            events = await asyncio.wait_for(stack.events("crash-1"), 120)

        task = await stack.task("crash-1")
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
        async with httpx.AsyncClient() as http:
            calls = (await http.get(tool_server.base_url + "/_tool/calls")).json()
        call_id = next(e for e in events if e["event"] == "tool.call")["data"]["id"]
        # At-least-once delivery, made safe by the idempotency key: the retry carries the same one.
        assert len(calls) == 2
        assert {c["idempotency_key"] for c in calls} == {call_id}
