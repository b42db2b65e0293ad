"""Two hosts sharing a PostgreSQL event store: a client streaming from the API on one host sees,
live and complete, the events a worker on the other host writes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from tests.conftest import config_data, free_port, read_sse, running_stack, write_config
from tests.fakes.server import FakeServer
from tests.integration.test_crash import api_process, wait_healthy


async def test_api_and_worker_on_different_hosts(
    temporal: str, openai_fake: FakeServer, postgres_url: str, tmp_path: Path
) -> None:
    worker_host = config_data(temporal, openai_fake.url, tmp_path)
    # (That NOTIFY, not polling, wakes other hosts is shown in tests/events/test_postgres.py.)
    worker_host["events"] = {"url": postgres_url}
    api_host = {**worker_host, "server": {**worker_host["server"], "port": free_port()}}
    config_path = write_config(api_host, tmp_path / "api-host.yaml")
    url = f"http://127.0.0.1:{api_host['server']['port']}"

    async with running_stack(worker_host) as stack:
        with api_process(config_path, tmp_path / "api.log"):
            await wait_healthy(url)
            async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                response = await client.post(
                    "/api/v1/execute",
                    json={
                        "task_id": "hosts-1",
                        "user_message": "one two three four five six",
                        "model_config": {"provider": "openai", "model": "gpt-4o-mini"},
                    },
                )
                assert response.status_code == 202, response.text
                events = await asyncio.wait_for(read_sse(client, "hosts-1"), 60)
        local = await stack.events("hosts-1")

    assert events == local
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["event"] == "task.completed"
    assert "".join(e["data"]["text"] for e in events if e["event"] == "llm.delta") == (
        "Echo: one two three four five six"
    )
