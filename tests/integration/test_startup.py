"""Many processes starting at the same moment on one fresh store: none fails, the schema is
created once, and the service they form runs a task.

Two levels: the store itself opened by many processes released by one barrier (the tightest
race there is: every process is already imported and waiting), and the real commands (`serve`
and three `worker`s) started together, as a user's supervisor would start them."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import config_data, free_port, read_sse, write_config
from tests.fakes.server import FakeServer
from tests.processes import service_process, wait_healthy

OPENERS = 12

# Each opener imports the store, waits for the barrier file, then opens and closes the store.
_OPENER = """
import asyncio, os, sys, time
from temporal_executor.store import open_store

async def main() -> None:
    while not os.path.exists(sys.argv[2]):
        time.sleep(0.001)
    store = await open_store(sys.argv[1])
    await store.tasks.get("probe")
    await store.close()

asyncio.run(main())
"""


def open_together(url: str, barrier: Path, count: int = OPENERS) -> list[tuple[int, str]]:
    """Start `count` processes that open `url` the moment `barrier` appears; their exit codes
    and error output."""
    openers = [
        subprocess.Popen(
            [sys.executable, "-c", _OPENER, url, str(barrier)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    barrier.touch()
    results = []
    for opener in openers:
        _, err = opener.communicate(timeout=120)
        results.append((opener.returncode, err))
    return results


def test_store_opened_by_many_processes_at_once(tmp_path: Path) -> None:
    for round in range(3):
        url = f"sqlite:///{tmp_path / f'fresh-{round}' / 'events.db'}"
        results = open_together(url, tmp_path / f"go-{round}")
        failed = [err for code, err in results if code != 0]
        assert not failed, failed[0]


def test_postgres_store_opened_by_many_processes_at_once(postgres_url: str, tmp_path: Path) -> None:
    results = open_together(postgres_url, tmp_path / "go")
    failed = [err for code, err in results if code != 0]
    assert not failed, failed[0]


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
async def test_serve_and_workers_started_together(
    store: str,
    temporal: str,
    openai_fake: FakeServer,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    data = config_data(temporal, openai_fake.url, tmp_path)
    if store == "postgresql":
        data["events"] = {"url": request.getfixturevalue("postgres_url")}
    else:  # the same metrics port for three workers on one host, as the shipped config has
        data["observability"] = {"metrics_port": free_port()}
    config_path = write_config(data, tmp_path / "config.yaml")
    url = f"http://127.0.0.1:{data['server']['port']}"
    logs = [tmp_path / f"{name}.log" for name in ("serve", "worker-1", "worker-2", "worker-3")]
    commands = ["serve", "worker", "worker", "worker"]

    with (
        service_process(config_path, logs[0], commands[0]) as api,
        service_process(config_path, logs[1], commands[1]) as w1,
        service_process(config_path, logs[2], commands[2]) as w2,
        service_process(config_path, logs[3], commands[3]) as w3,
    ):
        processes = [api, w1, w2, w3]
        await wait_healthy(url, within=60)  # four processes at once on a busy machine
        for log in logs:  # every process says it runs (or has died: then the log says why)
            for _ in range(400):
                if "running" in log.read_text() or any(p.poll() is not None for p in processes):
                    break
                await asyncio.sleep(0.05)
        dead = [log.read_text() for p, log in zip(processes, logs, strict=True) if p.poll()]
        assert not dead, dead[0]
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            response = await client.post(
                "/api/v1/execute",
                json={
                    "task_id": f"together-{store}",
                    "user_message": "all up",
                    "model_config": {"provider": "openai", "model": "gpt-4o-mini"},
                },
            )
            assert response.status_code == 202, response.text
            events = await asyncio.wait_for(read_sse(client, f"together-{store}"), 60)
        assert all(p.poll() is None for p in processes)
        if store == "sqlite":  # each worker serves its metrics: two on the next free ports
            port = data["observability"]["metrics_port"]
            taken = [
                re.findall(r"port \d+ is taken; serving metrics on (\d+)", log.read_text())
                for log in logs[1:]
            ]
            moved = sorted(int(p) for found in taken for p in found)
            assert len(moved) == 2 and port not in moved, taken
            async with httpx.AsyncClient(timeout=30) as client:
                for metrics_port in (port, *moved):
                    answer = await client.get(f"http://127.0.0.1:{metrics_port}/metrics")
                    assert answer.status_code == 200 and "executor_build_info" in answer.text
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["event"] == "task.completed"
    for log in logs:
        assert "database is locked" not in log.read_text()
