"""The service as real processes for the fuzz tests: `serve` + `worker` on the session's
Temporal dev server, auth on with one full-scope key (`session` sends it)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests

from tests.conftest import config_data, weather_tool, write_config
from tests.fakes.server import FakeServer
from tests.processes import service_process

KEYS_ENV = "TE_FUZZ_API_KEYS"
TOKEN = "fuzz-secret-key"


def wait_up(url: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the API at {url} did not get ready")


@pytest.fixture(scope="package")
def service_url(
    temporal: str, openai_fake: FakeServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`serve` + `worker` as processes, auth on with one full-scope key."""
    tmp_path = tmp_path_factory.mktemp("fuzz")
    data = config_data(temporal, openai_fake.url, tmp_path)
    data["server"]["api_keys_env"] = KEYS_ENV
    config = write_config(data, tmp_path / "config.yaml")
    env = {**os.environ, KEYS_ENV: f"fuzzer:{TOKEN}"}
    url = f"http://127.0.0.1:{data['server']['port']}"
    with (
        service_process(config, tmp_path / "api.log", "serve", env=env),
        service_process(config, tmp_path / "worker.log", "worker", env=env),
    ):
        wait_up(url)
        yield url
        # A schedule the fuzzer made would go on starting runs in the session's Temporal.
        auth = {"Authorization": f"Bearer {TOKEN}"}
        for schedule in httpx.get(url + "/api/v1/schedules", headers=auth).json()["schedules"]:
            httpx.delete(f"{url}/api/v1/schedules/{schedule['schedule_id']}", headers=auth)


@pytest.fixture(scope="package")
def session() -> Iterator[requests.Session]:
    """HTTP with the service's key."""
    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {TOKEN}"
        yield http


@pytest.fixture(scope="package")
def known_ids(
    service_url: str, session: requests.Session, tool_server: FakeServer
) -> dict[str, str]:
    """Path parameters naming what exists: a completed task (`task_id`, `id`, its session)
    and one parked awaiting approval (`workflow_id`)."""
    model = {"provider": "openai", "model": "gpt-4o-mini"}

    def execute(**body: Any) -> dict[str, Any]:
        body = {"model_config": model, **body}
        response = session.post(f"{service_url}/api/v1/execute?wait=true", json=body, timeout=60)
        assert response.status_code == 200, response.text
        task: dict[str, Any] = response.json()
        return task

    done = execute(user_message="hi [no tools]")
    assert done["status"] == "completed", done
    tool = weather_tool(tool_server)
    parked = execute(user_message="weather?", tools=[tool], require_approval=True)
    assert parked["status"] == "awaiting_approval", parked
    return {
        "task_id": done["task_id"],
        "id": done["task_id"],
        "session_id": done["session_id"],
        "workflow_id": f"agent-execution-{parked['task_id']}",
    }
