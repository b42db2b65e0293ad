"""Event store faults mid-task: PostgreSQL crashed and started again, the SQLite file's disk
full (a tiny tmpfs), the SQLite file read-only (a read-only bind mount of its directory).
Tasks pause while the store cannot be written, and go on when it can; meanwhile the API
answers with a clear error; no event is lost or written twice.

tmpfs and bind mounts need root (CAP_SYS_ADMIN): without it those scenarios are skipped."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.chaos.invariants import check, effects, report
from tests.chaos.scenario import effect_tool, finish, submit, task_ids
from tests.chaos.test_temporal_faults import wait_tool_calls
from tests.conftest import config_data, postgres_or_skip, running_stack, write_config
from tests.fakes.server import FakeServer
from tests.processes import service_process
from tests.store.postgres_server import PostgresServer

TASKS = 3
DOWN = 3.0  # seconds the store stays unusable


def store_config(temporal: str, openai_fake: FakeServer, tmp_path: Path, url: str) -> Any:
    data = config_data(temporal, openai_fake.url, tmp_path)
    data["events"]["url"] = url
    return data


async def start_busy(http: httpx.AsyncClient, tool_server: FakeServer, prefix: str) -> list[str]:
    """TASKS tasks each inside a 2 s side-effect tool call."""
    ids = task_ids(prefix, TASKS)
    for task_id in ids:
        await submit(http, task_id, tools=[effect_tool(tool_server, delay=2)])
    return ids


@pytest.fixture
def durable_postgres() -> Iterator[PostgresServer]:
    """A server of its own, durable as in production: the session's runs with durability
    off, and a crash of that loses its last commits (as `synchronous_commit=off` may)."""
    with postgres_or_skip(durable=True) as server:
        yield server


async def test_postgres_crashed_mid_task(
    durable_postgres: PostgresServer,
    temporal: str,
    openai_fake: FakeServer,
    tool_server: FakeServer,
    tmp_path: Path,
) -> None:
    postgres_server = durable_postgres
    url = postgres_server.create_database(f"chaos_{uuid.uuid4().hex[:12]}")
    data = store_config(temporal, openai_fake, tmp_path, url)
    async with running_stack(data) as stack:
        ids = await start_busy(stack.http, tool_server, "pg-crash")
        await wait_tool_calls(tool_server, TASKS, tmp_path / "none")
        postgres_server.crash()
        try:
            # The store is down: a read says so (503, with the reason), it does not hang.
            response = await stack.http.get(f"/api/v1/tasks/{ids[0]}")
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "store_unavailable", response.text
            await asyncio.sleep(DOWN)
        finally:
            postgres_server.start_again()
        logs, statuses = await finish(stack.http, ids, within=180)

    scenario = "store: PostgreSQL crashed"
    report(check(scenario, logs, statuses, "completed", effects(tool_server.url)))


@contextlib.contextmanager
def mounted(target: Path, *commands: list[str]) -> Iterator[None]:
    """`mount` with each argument list in turn (the last argument of each is `target`);
    unmounted at the end. Skips the test where mounting is not allowed."""
    try:
        for command in commands:
            done = subprocess.run(["mount", *command], capture_output=True, text=True)
            if done.returncode != 0:
                pytest.skip(f"cannot mount here ({done.stderr.strip()}): needs root")
        yield
    finally:
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


def fill(directory: Path) -> Path:
    """Write a file until the disk under `directory` is full."""
    filler = directory / "filler"
    block = b"\0" * 65536
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(block)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    return filler


async def test_sqlite_disk_full_mid_task(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    with mounted(disk, ["-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)]):
        data = store_config(temporal, openai_fake, tmp_path, f"sqlite:///{disk / 'events.db'}")
        async with running_stack(data) as stack:
            ids = await start_busy(stack.http, tool_server, "disk-full")
            await wait_tool_calls(tool_server, TASKS, tmp_path / "none")
            filler = fill(disk)
            try:
                await asyncio.sleep(DOWN)  # the tool calls end meanwhile; their writes fail
                response = await stack.http.get(f"/api/v1/tasks/{ids[0]}")
                assert response.status_code == 200, response.text  # reads still work
                assert response.json()["status"] == "running"
            finally:
                filler.unlink()
            logs, statuses = await finish(stack.http, ids, within=180)

    scenario = "store: SQLite disk full"
    report(check(scenario, logs, statuses, "completed", effects(tool_server.url)))


async def test_sqlite_read_only_for_a_worker(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> None:
    """A worker whose SQLite file is read-only (through a read-only mount of its directory)
    refuses to start, saying why; the tasks wait and finish once a worker that can write
    runs. (A read-only remount under a process that has the file open is refused by the
    kernel, so the worker meets the read-only file when it starts.)"""
    store = tmp_path / "store"
    view = tmp_path / "read-only"
    store.mkdir()
    view.mkdir()
    data = store_config(temporal, openai_fake, tmp_path, f"sqlite:///{store / 'events.db'}")
    read_only = {**data, "events": {**data["events"], "url": f"sqlite:///{view / 'events.db'}"}}
    config_path = write_config(read_only, tmp_path / "read-only.yaml")
    log = tmp_path / "worker.log"
    async with running_stack(data, worker=False) as stack:
        ids = task_ids("read-only", TASKS)
        for task_id in ids:
            await submit(stack.http, task_id, tools=[effect_tool(tool_server)])
        with (
            mounted(view, ["--bind", str(store), str(view)], ["-o", "remount,ro,bind", str(view)]),
            service_process(config_path, log, "worker") as worker,
        ):
            code = await asyncio.to_thread(worker.wait, 60)
        text = log.read_text(errors="replace")
        assert code == 2, text
        assert "read-only" in text or "readonly" in text, text
        assert str(view / "events.db") in text, text
        for task_id in ids:
            assert (await stack.task(task_id))["status"] == "running"
        with service_process(write_config(data, tmp_path / "config.yaml"), log, "worker"):
            logs, statuses = await finish(stack.http, ids, within=180)

    scenario = "store: SQLite read-only"
    report(check(scenario, logs, statuses, "completed", effects(tool_server.url)))
