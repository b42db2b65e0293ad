"""Temporal itself killed mid-task: the dev server embedded in `temporal-executor dev` (dev
restarts it on the same SQLite file), and an external Temporal server down for a few seconds
under `serve` + `worker` processes (meanwhile task reads answer from the store, marked stale).

Each scenario runs tasks that are inside a slow side-effect tool call when Temporal dies and
one parked awaiting approval, decided after Temporal is back."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from temporal_executor.devserver import find_temporal_cli
from tests.chaos.invariants import check, effects, report
from tests.chaos.scenario import effect_tool, finish, submit, task_ids
from tests.conftest import config_data, free_port, write_config
from tests.fakes.server import FakeServer
from tests.processes import service_process, wait_healthy

BUSY = 3  # tasks inside a tool call when Temporal dies


def children(pid: int) -> list[int]:
    """The direct children of a process (Linux)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


async def wait_tool_calls(tool_server: FakeServer, count: int, log: Path) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(1200):
            calls = (await http.get(tool_server.base_url + "/_tool/calls")).json()
            if len(calls) >= count:
                return
            await asyncio.sleep(0.05)
    raise AssertionError(f"{count} tool calls never came; log:\n{tail(log)}")


def tail(log: Path) -> str:
    return read(log)[-3000:]


def read(log: Path) -> str:
    return log.read_text(errors="replace")


async def wait_closed(port: int) -> None:
    """Until nothing accepts connections on the port (a killed process takes a moment to go)."""
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return
        writer.close()
        await asyncio.sleep(0.01)
    raise AssertionError(f"port {port} still open")


async def wait_status(http: httpx.AsyncClient, task_id: str, status: str) -> dict[str, Any]:
    for _ in range(1200):
        response = await http.get(f"/api/v1/tasks/{task_id}")
        if response.status_code == 200 and response.json()["status"] == status:
            result: dict[str, Any] = response.json()
            return result
        await asyncio.sleep(0.05)
    raise AssertionError(f"{task_id} never became {status}: {response.text}")


async def wait_ready(http: httpx.AsyncClient, within: float = 90) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        with_temporal = await http.get("/readyz")
        if with_temporal.status_code == 200:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never ready again: {with_temporal.text}")


async def start_tasks(
    http: httpx.AsyncClient, tool_server: FakeServer, prefix: str
) -> tuple[list[str], str]:
    """BUSY tasks that call the side-effect tool (which takes 4 s to answer) and one that
    waits for approval of its call; returns (busy ids, parked id)."""
    *busy, parked = task_ids(prefix, BUSY + 1)
    slow = [effect_tool(tool_server, delay=4)]
    for task_id in busy:
        await submit(http, task_id, tools=slow)
    await submit(http, parked, tools=[effect_tool(tool_server)], require_approval=True)
    await wait_status(http, parked, "awaiting_approval")
    return busy, parked


async def approve_and_finish(
    http: httpx.AsyncClient, busy: list[str], parked: str
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    response = await http.post(f"/api/v1/approve/agent-execution-{parked}", json={"approved": True})
    assert response.status_code == 200, response.text
    return await finish(http, [*busy, parked], within=180)


def check_answers(logs: dict[str, list[dict[str, Any]]]) -> None:
    for task_id, log in logs.items():
        assert log[-1]["data"]["result"]["content"].startswith("Tool results: effect="), task_id


async def test_dev_restarts_its_killed_temporal_server(
    openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> None:
    """kill -9 the embedded Temporal server while tasks are mid-tool and one is parked: reads
    answer from the store marked stale; dev restarts Temporal on the same SQLite file (and
    says so in its log); every task finishes, each side effect applied once."""
    temporal_port = free_port()
    data = config_data(f"127.0.0.1:{temporal_port}", openai_fake.url, tmp_path)
    data["temporal"]["ui_port"] = free_port()
    config_path = write_config(data, tmp_path / "config.yaml")
    url = f"http://127.0.0.1:{data['server']['port']}"
    log = tmp_path / "dev.log"

    with service_process(config_path, log, "dev") as dev:
        await wait_healthy(url, within=90)  # dev starts Temporal too; a busy machine is slow
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            await wait_ready(http)
            busy, parked = await start_tasks(http, tool_server, "dev-temporal")
            await wait_tool_calls(tool_server, BUSY, log)
            (server,) = children(dev.pid)
            os.kill(server, signal.SIGKILL)
            await wait_closed(temporal_port)

            # dev restarts Temporal within about a second, and a read waits up to 2 s for it
            # before answering from the store: either way it answers, never 503.
            for task_id in [*busy, parked]:
                response = await http.get(f"/api/v1/tasks/{task_id}")
                assert response.status_code == 200, response.text
            await wait_ready(http)
            (restarted,) = children(dev.pid)
            assert restarted != server
            fresh = await http.get(f"/api/v1/tasks/{parked}")
            assert fresh.json()["stale"] is False and "X-Task-Stale" not in fresh.headers
            logs, statuses = await approve_and_finish(http, busy, parked)
        assert dev.poll() is None, "dev exited"

    text = read(log)
    assert "the Temporal dev server" in text and "restarting it" in text, text[-3000:]
    assert "is back on" in text, text[-3000:]
    scenario = "Temporal (embedded in dev) killed"
    report(check(scenario, logs, statuses, "completed", effects(tool_server.url)))
    check_answers(logs)


@contextmanager
def temporal_server(port: int, state: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A Temporal dev server nobody supervises (as an external one is to our processes)."""
    command = [
        find_temporal_cli(),
        "server",
        "start-dev",
        "--ip", "127.0.0.1",
        "--port", str(port),
        "--ui-port", str(free_port()),
        "--db-filename", str(state / "temporal.db"),
        "--log-level", "warn",
    ]  # fmt: skip
    with log.open("ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def test_external_temporal_restarted_under_serve_and_worker(
    openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> None:
    """`serve` and `worker` on an external Temporal server that is killed mid-task and
    started again 3 s later: both reconnect by themselves and every task finishes."""
    port = free_port()
    data = config_data(f"127.0.0.1:{port}", openai_fake.url, tmp_path)
    config_path = write_config(data, tmp_path / "config.yaml")
    url = f"http://127.0.0.1:{data['server']['port']}"
    temporal_log = tmp_path / "temporal.log"

    with (
        temporal_server(port, tmp_path, temporal_log) as server,
        service_process(config_path, tmp_path / "api.log", "serve") as api,
        service_process(config_path, tmp_path / "worker.log", "worker") as worker,
    ):
        await wait_healthy(url, within=90)  # a busy machine starts processes slowly
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            await wait_ready(http)
            busy, parked = await start_tasks(http, tool_server, "ext-temporal")
            await wait_tool_calls(tool_server, BUSY, tmp_path / "worker.log")
            os.kill(server.pid, signal.SIGKILL)
            server.wait()
            # Temporal is down: a task read answers what the store has, marked stale unless
            # the task has ended (an ended task's record is final).
            for task_id in [*busy, parked]:
                response = await http.get(f"/api/v1/tasks/{task_id}")
                assert response.status_code == 200, response.text
                ended = response.json()["status"] in ("completed", "failed", "cancelled")
                assert response.json()["stale"] is not ended, response.json()
                assert response.headers.get("X-Task-Stale") == (None if ended else "true")
            assert response.json()["status"] == "awaiting_approval" and not ended
            assert (await http.get("/readyz")).status_code == 503
            await asyncio.sleep(1)
            with temporal_server(port, tmp_path, temporal_log):
                await wait_ready(http)
                logs, statuses = await approve_and_finish(http, busy, parked)
            assert api.poll() is None and worker.poll() is None

    scenario = "Temporal (external) restarted"
    report(check(scenario, logs, statuses, "completed", effects(tool_server.url)))
    check_answers(logs)
