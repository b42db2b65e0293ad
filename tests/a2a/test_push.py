"""Push notifications: a local webhook receiver gets the task's status changes and its
answer; failed deliveries are retried; URLs pass the outbound-address guard."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from a2a.types import (
    AuthenticationInfo,
    DeleteTaskPushNotificationConfigRequest,
    GetTaskPushNotificationConfigRequest,
    ListTaskPushNotificationConfigsRequest,
    TaskPushNotificationConfig,
    TaskState,
)
from a2a.utils.errors import InvalidParamsError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from temporal_executor.config import Config
from temporal_executor.observability.series import REGISTRY
from temporal_executor.runtime import open_services
from temporal_executor.service import TaskService
from temporal_executor.workflows import ApprovalDecision, ApproveInput
from tests.a2a.conftest import a2a_client, a2a_config, send, user_message, wait_for, worker_only
from tests.conftest import Stack, running_stack
from tests.fakes.server import FakeServer


class Receiver:
    """A webhook that records what it gets and fails the first `failures` deliveries."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.failures = 0
        self.app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> JSONResponse:
        if self.failures:
            self.failures -= 1
            return JSONResponse({"error": "busy"}, status_code=503)
        self.received.append({"body": await request.json(), "headers": dict(request.headers)})
        return JSONResponse({})

    def states(self) -> list[str]:
        return [
            r["body"]["statusUpdate"]["status"]["state"]
            for r in self.received
            if "statusUpdate" in r["body"]
        ]

    async def finished(self) -> bool:
        return "TASK_STATE_COMPLETED" in self.states()


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    hook = Receiver()
    with FakeServer(hook.app) as server:
        yield hook, server.base_url + "/hook"


def push_config(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> dict[str, Any]:
    return a2a_config(
        temporal,
        openai_fake,
        tool_server,
        tmp_path,
        push_notifications={
            "initial_interval": "50ms",
            "max_attempts": 4,
            "allow_private_hosts": ["127.0.0.0/8"],
        },
    )


@pytest.fixture
async def push_stack(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> AsyncIterator[Stack]:
    async with running_stack(push_config(temporal, openai_fake, tool_server, tmp_path)) as stack:
        yield stack


def _delivered() -> float:
    return (
        REGISTRY.get_sample_value("executor_push_deliveries_total", {"outcome": "delivered"}) or 0
    )


async def test_push_with_the_message(push_stack: Stack, receiver: tuple[Receiver, str]) -> None:
    hook, url = receiver
    before = _delivered()
    async with a2a_client(push_stack.url, streaming=False, polling=True) as client:
        config = TaskPushNotificationConfig(url=url, token="tok-1")
        task = await send(
            client, user_message("Weather in Paris?"), task_push_notification_config=config
        )
        await wait_for(hook.finished)
    states = hook.states()
    assert states[0] == "TASK_STATE_WORKING" and states[-1] == "TASK_STATE_COMPLETED"
    assert set(states[1:-1]) == {"TASK_STATE_WORKING"}  # tool call, tool result
    answers = [r["body"]["artifactUpdate"] for r in hook.received if "artifactUpdate" in r["body"]]
    (answer,) = answers  # the final answer only, no token deltas
    assert answer["lastChunk"] is True and "sunny" in answer["artifact"]["parts"][0]["text"]
    assert all(r["headers"]["x-a2a-notification-token"] == "tok-1" for r in hook.received)
    ids = [r["headers"]["x-a2a-notification-id"] for r in hook.received]
    assert len(set(ids)) == len(ids) and all(i.startswith(f"{task.id}:") for i in ids)
    assert {r["body"].get("statusUpdate", {}).get("taskId", task.id) for r in hook.received} == {
        task.id
    }
    # Each notification counted once as delivered (the count follows the receiver's answer).
    for _ in range(100):
        if _delivered() - before >= len(hook.received):
            break
        await asyncio.sleep(0.02)
    assert _delivered() - before == len(hook.received)


async def test_push_config_on_a_waiting_task_with_retries(
    push_stack: Stack, receiver: tuple[Receiver, str]
) -> None:
    hook, url = receiver
    hook.failures = 2  # the first delivery is refused twice, then gets through
    async with a2a_client(push_stack.url, streaming=False) as client:
        task = await send(
            client, user_message("Weather in Oslo?", metadata={"require_approval": True})
        )
        assert task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        config = TaskPushNotificationConfig(
            task_id=task.id,
            id="ops-hook",
            url=url,
            authentication=AuthenticationInfo(scheme="Bearer", credentials="hook-secret"),
        )
        stored = await client.create_task_push_notification_config(config)
        assert stored.id == "ops-hook" and stored.task_id == task.id
        got = await client.get_task_push_notification_config(
            GetTaskPushNotificationConfigRequest(task_id=task.id, id="ops-hook")
        )
        assert got.url == url
        listed = await client.list_task_push_notification_configs(
            ListTaskPushNotificationConfigsRequest(task_id=task.id)
        )
        assert [c.id for c in listed.configs] == ["ops-hook"]

        done = await send(client, user_message("approve", task_id=task.id))
        assert done.status.state == TaskState.TASK_STATE_COMPLETED
        await wait_for(hook.finished)
        assert hook.states()[0] == "TASK_STATE_WORKING"  # the approval, after two retries
        assert hook.received[0]["headers"]["authorization"] == "Bearer hook-secret"

        await client.delete_task_push_notification_config(
            DeleteTaskPushNotificationConfigRequest(task_id=task.id, id="ops-hook")
        )
        listed = await client.list_task_push_notification_configs(
            ListTaskPushNotificationConfigsRequest(task_id=task.id)
        )
        assert list(listed.configs) == []


async def test_push_url_must_pass_the_guard(push_stack: Stack) -> None:
    async with a2a_client(push_stack.url, streaming=False) as client:
        config = TaskPushNotificationConfig(url="http://10.20.30.40/hook")
        with pytest.raises(InvalidParamsError, match=r"a2a\.push_notifications\.allow_private"):
            await send(client, user_message("hi [no tools]"), task_push_notification_config=config)
        with pytest.raises(InvalidParamsError, match="metadata"):
            metadata = TaskPushNotificationConfig(url="http://169.254.169.254/latest")
            await send(
                client, user_message("hi [no tools]"), task_push_notification_config=metadata
            )


async def test_push_url_that_does_not_resolve_yet(push_stack: Stack) -> None:
    """DNS may be down for a moment or the receiver not deployed yet: the config is kept and
    the address checked at each delivery."""
    async with a2a_client(push_stack.url, streaming=False) as client:
        task = await send(client, user_message("hi [no tools]"))
        config = TaskPushNotificationConfig(
            task_id=task.id, id="later", url="http://receiver.invalid/hook"
        )
        await client.create_task_push_notification_config(config)
        got = await client.get_task_push_notification_config(
            GetTaskPushNotificationConfigRequest(task_id=task.id, id="later")
        )
        assert got.url == "http://receiver.invalid/hook"


async def test_push_survives_an_api_restart(
    temporal: str,
    openai_fake: FakeServer,
    tool_server: FakeServer,
    tmp_path: Path,
    receiver: tuple[Receiver, str],
) -> None:
    """The config outlives the API process (spec: it persists until the task ends), and a
    task that went on while no API ran gets its webhook told how things stand, then the rest."""
    hook, url = receiver
    data = push_config(temporal, openai_fake, tool_server, tmp_path)
    async with worker_only(data):
        async with running_stack(data, worker=False) as before:
            async with a2a_client(before.url, streaming=False) as client:
                config = TaskPushNotificationConfig(url=url, id="ops")
                task = await send(
                    client,
                    user_message("Weather in Oslo?", metadata={"require_approval": True}),
                    task_push_notification_config=config,
                )
                assert task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
                await wait_for(lambda: _has(hook, "TASK_STATE_INPUT_REQUIRED"))
        delivered = len(hook.received)
        # no API runs: the task is approved (by Temporal's client) and finishes meanwhile
        async with open_services(Config.model_validate(data)) as services:
            await services.tasks.approve(
                task.id, ApproveInput(decision=ApprovalDecision(approved=True))
            )
            await wait_for(lambda: _ended(services.tasks, task.id))
        assert len(hook.received) == delivered

        async with running_stack(data, worker=False) as after:
            await wait_for(hook.finished)
            async with a2a_client(after.url, streaming=False) as client:
                got = await client.get_task_push_notification_config(
                    GetTaskPushNotificationConfigRequest(task_id=task.id, id="ops")
                )
                assert got.url == url
    # caught up with how it stands now, once: the answer, then the final status with usage
    assert hook.states()[-1] == "TASK_STATE_COMPLETED"
    assert hook.states().count("TASK_STATE_COMPLETED") == 1
    caught_up = [r["body"] for r in hook.received[delivered:]]
    assert [next(iter(b)) for b in caught_up] == ["artifactUpdate", "statusUpdate"]
    assert "sunny" in caught_up[0]["artifactUpdate"]["artifact"]["parts"][0]["text"]
    assert caught_up[1]["statusUpdate"]["metadata"]["usage"]["totalTokens"] > 0


async def _has(hook: Receiver, state: str) -> bool:
    return state in hook.states()


async def _ended(service: TaskService, task_id: str) -> bool:
    return (await service.get(task_id)).status.terminal
