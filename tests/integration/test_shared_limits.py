"""Provider limits shared by two worker processes through one store (a SQLite file, a
PostgreSQL database): together they never have more calls in flight than the limit allows,
and the place of a worker killed mid-call frees once its lease lapses (its heartbeat time),
not when its task's call is made again."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from tests.conftest import config_data, fake_requests, running_stack, write_config
from tests.fakes.server import FakeServer
from tests.processes import service_process

MINI = {"provider": "openai", "model": "gpt-4o-mini", "stream": False}
BIG = {"provider": "openai", "model": "gpt-4o", "stream": False}


async def pollers(client: Client, task_queue: str) -> set[str]:
    """The identities of the workers polling the task queue's workflow tasks."""
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    return {poller.identity for poller in response.pollers}


async def workers_of(client: Client, task_id: str) -> list[str]:
    """The identities of the workers that started the task's workflow tasks, in order."""
    history = await client.get_workflow_handle(f"agent-execution-{task_id}").fetch_history()
    return [
        e.workflow_task_started_event_attributes.identity
        for e in history.events
        if e.HasField("workflow_task_started_event_attributes")
    ]


async def fake(openai: FakeServer, path: str, body: object = None) -> object:
    async with httpx.AsyncClient() as http:
        if body is None:
            return (await http.get(openai.base_url + path)).json()
        return (await http.post(openai.base_url + path, json=body)).json()


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
async def test_two_workers_share_the_limits_and_a_dead_workers_place_frees(
    store: str,
    request: pytest.FixtureRequest,
    temporal: str,
    openai_fake: FakeServer,
    tmp_path: Path,
) -> None:
    data = config_data(temporal, openai_fake.url, tmp_path)
    if store == "postgres":
        data["events"]["url"] = request.getfixturevalue("postgres_url")
    limits = {"concurrency": 2, "models": {"gpt-4o": {"concurrency": 1}}}
    data["llm"]["providers"][0]["limits"] = limits
    config_path = write_config(data, tmp_path / "config.yaml")
    queue = data["temporal"]["task_queue"]

    async with running_stack(data, worker=False) as stack:
        client = stack.services.client
        with (
            service_process(config_path, tmp_path / "worker-1.log", "worker") as first,
            service_process(config_path, tmp_path / "worker-2.log", "worker") as second,
        ):
            for _ in range(600):
                if len(await pollers(client, queue)) == 2:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the two workers never both polled")

            # Eight calls at once, each held 0.3 s by the provider: never more than two.
            await fake(openai_fake, "/_fake/config", {"hold": 0.3})
            names = [f"{store}-{n}" for n in range(8)]
            for task_id in names:
                await stack.execute(task_id=task_id, user_message="hi", model_config=MINI)
            for task_id in names:
                events = await asyncio.wait_for(stack.events(task_id), 60)
                assert events[-1]["event"] == "task.completed", events[-1]
            stats = await fake(openai_fake, "/_fake/stats")
            assert isinstance(stats, dict) and stats["peak_in_flight"] <= 2
            ran = {w.split("@")[0] for t in names for w in await workers_of(client, t)}
            assert ran == {str(first.pid), str(second.pid)}
            waited = [
                e for t in names for e in await stack.events(t)
                if e["event"] == "task.waiting_for_capacity"
            ]  # fmt: skip
            assert waited and all(e["data"]["limit"] == "llm:openai" for e in waited)

            # gpt-4o allows one call at once. Its worker dies in the middle of it.
            await fake(openai_fake, "/_fake/config", {"hold": 0})
            await fake(openai_fake, "/_fake/enqueue", [{"delay": 30}])
            held, after = f"{store}-held", f"{store}-after"
            await stack.execute(task_id=held, user_message="held call", model_config=BIG)
            for _ in range(300):
                if any(_says(r, "held call") for r in await fake_requests(openai_fake)):
                    break
                await asyncio.sleep(0.05)
            holder = (await workers_of(client, held))[-1].split("@")[0]
            os.kill(int(holder), signal.SIGKILL)
            killed_at = time.time()
            await stack.execute(task_id=after, user_message="after call", model_config=BIG)
            events = await asyncio.wait_for(stack.events(after), 60)
            assert events[-1]["event"] == "task.completed", events[-1]
            # Its place freed with the lease (2 s heartbeat time), well before the dead
            # worker's task was taken over (its workflow task timeout, 10 s).
            sent = [r["_http"]["time"] for r in await fake_requests(openai_fake)]
            got = min(t for t, r in zip(sent, await fake_requests(openai_fake), strict=True)
                      if _says(r, "after call"))  # fmt: skip
            assert got - killed_at < 8, got - killed_at
            events = await asyncio.wait_for(stack.events(held), 60)
            assert events[-1]["event"] == "task.completed", events[-1]


def _says(request: dict[str, object], text: str) -> bool:
    messages = request.get("messages")
    return isinstance(messages, list) and any(m.get("content") == text for m in messages)
