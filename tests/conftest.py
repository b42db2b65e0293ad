"""Shared fixtures: a real Temporal dev server, the OpenAI wire fake, a tool server, and the
whole service (worker + API on a real port) built from a real config."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from temporal_executor.config import Config, load_config
from temporal_executor.devserver import DevServer
from temporal_executor.runtime import Services, connect, open_services, run_services
from tests.fakes.openai_fake import create_app as create_openai_app
from tests.fakes.server import FakeServer
from tests.fakes.tool_server import make_tool_app
from tests.store.postgres_server import PostgresServer, PostgresUnavailable

FAKE_KEY_ENV = "TE_TEST_OPENAI_KEY"
os.environ[FAKE_KEY_ENV] = "sk-test-not-a-real-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
async def temporal(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A real Temporal dev server (SQLite-backed) for the whole test session."""
    server = DevServer(f"127.0.0.1:{free_port()}", free_port(), tmp_path_factory.mktemp("temporal"))
    async with server.running():
        yield f"{server.ip}:{server.port}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session; skips (fails on CI) if none can run here."""
    with postgres_or_skip() as server:
        yield server


def postgres_or_skip(*, durable: bool = False) -> PostgresServer:
    """A PostgreSQL server to start (`with`); skips the test (fails it on CI) if none can run
    here. `durable`: with fsync and synchronous commits, for tests that crash it."""
    pytest.importorskip("asyncpg", reason="asyncpg is not installed: pip install -e .[test]")
    try:
        return PostgresServer(durable=durable)
    except PostgresUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL tests cannot run on CI: {exc}")
        pytest.skip(f"PostgreSQL tests skipped: {exc}")


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a new, empty database: each test starts from nothing."""
    return postgres_server.create_database(f"test_{uuid.uuid4().hex[:16]}")


@pytest.fixture(scope="session")
def openai_fake() -> Iterator[FakeServer]:
    with FakeServer(create_openai_app(), path="/v1") as server:
        yield server


@pytest.fixture(scope="session")
def tool_server() -> Iterator[FakeServer]:
    with FakeServer(make_tool_app()) as server:
        yield server


@pytest.fixture(autouse=True)
def _reset_fakes(request: pytest.FixtureRequest) -> None:
    for name, path in (("openai_fake", "/_fake/reset"), ("tool_server", "/_tool/reset")):
        if name in request.fixturenames:
            server = request.getfixturevalue(name)
            httpx.post(server.base_url + path)


def config_data(temporal: str, openai_url: str, tmp_path: Path, **executor: Any) -> dict[str, Any]:
    """A config as a user would write it, pointing at the test's servers."""
    return {
        "temporal": {"host_port": temporal, "task_queue": f"test-{uuid.uuid4().hex[:12]}"},
        "executor": {
            "max_iterations": 5,
            "timeouts": {"llm": "20s", "tool": "20s", "task": "5m", "heartbeat": "2s"},
            "retry": {
                "llm": {"max_attempts": 3, "initial_interval": "100ms"},
                "tool": {"max_attempts": 3, "initial_interval": "100ms"},
            },
            **executor,
        },
        "llm": {
            "providers": [
                {"name": "openai", "api_key_env": FAKE_KEY_ENV, "config": {"base_url": openai_url}}
            ]
        },
        "tools": {"allow_private_hosts": ["127.0.0.0/8"]},
        "events": {"url": f"sqlite:///{tmp_path / 'events.db'}", "poll_interval": "50ms"},
        "server": {"host": "127.0.0.1", "port": free_port(), "api_keys_env": None},
        # Workers started as processes serve no metrics port unless a test gives them one.
        "observability": {"metrics_port": None},
        "state_dir": str(tmp_path / "state"),
    }


def write_config(data: dict[str, Any], path: Path) -> Path:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@dataclass
class Stack:
    """The running service: `http` talks to its API on a real port."""

    config: Config
    services: Services
    http: httpx.AsyncClient
    url: str

    async def execute(self, **body: Any) -> dict[str, Any]:
        response = await self.http.post("/api/v1/execute", json=body)
        assert response.status_code == 202, response.text
        result: dict[str, Any] = response.json()
        return result

    async def events(self, task_id: str, after: int = 0) -> list[dict[str, Any]]:
        """Read the task's SSE stream to its end."""
        return await read_sse(self.http, task_id, after)

    async def task(self, task_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/api/v1/tasks/{task_id}")
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


async def read_sse(
    http: httpx.AsyncClient,
    task_id: str,
    after: int = 0,
    *,
    until: str | None = None,
    into: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The task's events from its SSE stream, to its end (or the event `until`); each is
    appended to `into` (when given) as it comes, so a caller keeps them should the
    connection drop."""
    import json

    headers = {"Last-Event-ID": str(after)} if after else {}
    events: list[dict[str, Any]] = [] if into is None else into
    async with http.stream("GET", f"/api/v1/tasks/{task_id}/events", headers=headers) as response:
        assert response.status_code == 200
        event: dict[str, Any] = {}
        async for line in response.aiter_lines():
            if line.startswith("id:"):
                event["id"] = int(line[3:])
            elif line.startswith("event:"):
                event["event"] = line[6:].strip()
            elif line.startswith("data:"):
                event["data"] = json.loads(line[5:])
            elif not line and "event" in event:
                events.append(event)
                if event["event"] == until:
                    break
                event = {}
    return events


@contextlib.asynccontextmanager
async def running_stack(
    data: dict[str, Any] | Config, *, worker: bool = True
) -> AsyncIterator[Stack]:
    """The service, from a config as a user would write it (`data`) or as loaded."""
    if isinstance(data, Config):
        config = data
    else:
        config = load_config(env={}) if not data else Config.model_validate(data)
    client = await connect(config)
    async with open_services(config, client=client) as services:
        stop = asyncio.Event()
        runner = asyncio.create_task(run_services(services, api=True, worker=worker, stop=stop))
        url = f"http://127.0.0.1:{config.server.port}"
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            for _ in range(100):
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
            try:
                yield Stack(config, services, http, url)
            finally:
                stop.set()
                await asyncio.wait_for(runner, 30)


@pytest.fixture
async def stack(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> AsyncIterator[Stack]:
    async with running_stack(config_data(temporal, openai_fake.url, tmp_path)) as s:
        yield s


async def enqueue(fake: FakeServer, replies: list[dict[str, Any]]) -> None:
    """Queue canned replies (or failures) on an LLM wire fake (see `tests/fakes/rules.py`)."""
    async with httpx.AsyncClient() as http:
        response = await http.post(fake.base_url + "/_fake/enqueue", json=replies)
        response.raise_for_status()


async def fake_requests(fake: FakeServer) -> list[dict[str, Any]]:
    """The completion requests an LLM wire fake received."""
    async with httpx.AsyncClient() as http:
        found: list[dict[str, Any]] = (await http.get(fake.base_url + "/_fake/requests")).json()
        return found


def weather_tool(
    tool_server: FakeServer, name: str = "get_weather", path: str = "/weather"
) -> dict[str, Any]:
    return {
        "name": name,
        "description": "Get current weather for a location",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
        "type": "http",
        "config": {"endpoint": tool_server.base_url + path},
    }
