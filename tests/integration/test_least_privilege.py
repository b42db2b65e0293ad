"""Only workers hold provider keys: `serve` runs with none in its environment, and a task
submitted to it completes on a worker that has the key."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx

from tests.conftest import FAKE_KEY_ENV, config_data, read_sse, write_config
from tests.fakes.server import FakeServer
from tests.processes import service_process, wait_healthy


def without_keys(env: dict[str, str]) -> dict[str, str]:
    """The environment with no provider key in it: no `*_API_KEY`, not the fake's either."""
    return {
        name: value
        for name, value in env.items()
        if not name.endswith(("_API_KEY", "_API_KEYS")) and name != FAKE_KEY_ENV
    }


def process_environment(pid: int) -> list[bytes]:
    """The `NAME=value` entries a process was started with (Linux)."""
    return Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")


async def test_serve_holds_no_key_and_a_worker_with_the_key_runs_the_task(
    temporal: str, openai_fake: FakeServer, tmp_path: Path
) -> None:
    data = config_data(temporal, openai_fake.url, tmp_path)
    config_path = write_config(data, tmp_path / "config.yaml")
    url = f"http://127.0.0.1:{data['server']['port']}"
    api_env = without_keys(dict(os.environ))
    with (
        service_process(config_path, tmp_path / "api.log", "serve", env=api_env) as api,
        service_process(config_path, tmp_path / "worker.log", "worker"),
    ):
        environ = process_environment(api.pid)
        assert not [v for v in environ if v.split(b"=")[0].endswith(b"_API_KEY")]
        assert not [v for v in environ if v.startswith(FAKE_KEY_ENV.encode() + b"=")]
        await wait_healthy(url)
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            response = await http.post(
                "/api/v1/execute",
                json={
                    "user_message": "hello from a keyless API",
                    "model_config": {"provider": "openai", "model": "gpt-4o-mini"},
                },
            )
            assert response.status_code == 202, response.text
            task_id = response.json()["task_id"]
            events = await asyncio.wait_for(read_sse(http, task_id), 60)
            task = (await http.get(f"/api/v1/tasks/{task_id}")).json()

    assert events[-1]["event"] == "task.completed"
    assert task["status"] == "completed"
    assert task["result"]["content"] == "Echo: hello from a keyless API"
