"""Tenants over A2A, on each transport (JSON-RPC, HTTP+JSON, gRPC) through the SDK's client:
every method bob calls on alice's task is TaskNotFound and changes nothing, ListTasks shows
him none of hers; a request whose `tenant` is not the key's is TaskNotFound too; with her
key (and her tenant, or none) every method works; an admin key acts in the tenant it names.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from a2a.client import Client
from a2a.types import (
    CancelTaskRequest,
    DeleteTaskPushNotificationConfigRequest,
    GetTaskPushNotificationConfigRequest,
    GetTaskRequest,
    ListTaskPushNotificationConfigsRequest,
    ListTasksRequest,
    SendMessageRequest,
    SubscribeToTaskRequest,
    Task,
    TaskPushNotificationConfig,
    TaskState,
)
from a2a.utils.constants import TransportProtocol
from a2a.utils.errors import TaskNotFoundError

from tests.a2a.conftest import a2a_client, collect, user_message
from tests.conftest import Stack, weather_tool
from tests.fakes.server import FakeServer
from tests.tenants import SECRETS, bearer, start, tenant_stack

HOOK = "http://127.0.0.1:9/hook"  # stored, never delivered (one attempt, nothing listens)
TRANSPORTS = [TransportProtocol.JSONRPC, TransportProtocol.HTTP_JSON, TransportProtocol.GRPC]
# Ids end with this run's suffix: every stack shares the session's Temporal server, where a
# workflow id, once used, stays taken.
R = f"-{uuid.uuid4().hex[:6]}"
A_DONE, A_WATCH, B_DONE = f"a-done{R}", f"a-watch{R}", f"b-done{R}"
CANCELS = {transport: f"a-cancel-{n}{R}" for n, transport in enumerate(TRANSPORTS)}


@pytest.fixture(scope="module")
async def tenants(
    temporal: str,
    openai_fake: FakeServer,
    tool_server: FakeServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    """Alice's `A_DONE` (ended), `A_WATCH` (awaiting approval, push config `hook-1`) and one
    task to cancel per transport (`CANCELS`); bob's `B_DONE`."""
    tmp_path = tmp_path_factory.mktemp("a2a-tenants")
    async with tenant_stack(temporal, openai_fake, tool_server, tmp_path) as stack:
        http = stack.http
        parked = {"tools": [weather_tool(tool_server)], "require_approval": True}
        await start(http, "alice", task_id=A_DONE, user_message="hi [no tools]")
        await start(http, "bob", task_id=B_DONE, user_message="hi [no tools]")
        for task_id in (A_WATCH, *CANCELS.values()):
            await start(
                http, "alice", "awaiting_approval", task_id=task_id, user_message="w?", **parked
            )
        config = {"id": "hook-1", "url": HOOK}
        created = await http.post(
            f"/a2a/rest/tasks/{A_WATCH}/pushNotificationConfigs",
            json=config,
            headers=bearer("alice"),
        )
        assert created.status_code == 200, created.text
        yield stack


def calls(task_id: str, tenant: str = "") -> dict[str, Callable[[Client], Awaitable[Any]]]:
    """Every A2A method on `task_id`, each request naming `tenant` (none when empty)."""

    async def first(stream: AsyncIterator[Any]) -> Any:
        async for response in stream:
            await stream.aclose()  # type: ignore[attr-defined]  # an async generator
            return response
        return None

    message = user_message("approve", task_id=task_id)
    config = TaskPushNotificationConfig(task_id=task_id, id="hook-2", url=HOOK, tenant=tenant)
    hook = {"task_id": task_id, "id": "hook-1", "tenant": tenant}
    return {
        "GetTask": lambda c: c.get_task(GetTaskRequest(id=task_id, tenant=tenant)),
        "SubscribeToTask": lambda c: first(
            c.subscribe(SubscribeToTaskRequest(id=task_id, tenant=tenant))
        ),
        "SendMessage": lambda c: first(
            c.send_message(SendMessageRequest(message=message, tenant=tenant))
        ),
        "CreateTaskPushNotificationConfig": lambda c: c.create_task_push_notification_config(
            config
        ),
        "GetTaskPushNotificationConfig": lambda c: c.get_task_push_notification_config(
            GetTaskPushNotificationConfigRequest(**hook)
        ),
        "ListTaskPushNotificationConfigs": lambda c: c.list_task_push_notification_configs(
            ListTaskPushNotificationConfigsRequest(task_id=task_id, tenant=tenant)
        ),
        "DeleteTaskPushNotificationConfig": lambda c: c.delete_task_push_notification_config(
            DeleteTaskPushNotificationConfigRequest(**hook)
        ),
        "CancelTask": lambda c: c.cancel_task(CancelTaskRequest(id=task_id, tenant=tenant)),
    }


async def send_in(client: Client, text: str, tenant: str) -> Task:
    """Start a task with `text`, naming `tenant`; the task once its turn ends."""
    request = SendMessageRequest(message=user_message(text), tenant=tenant)
    first, *_ = await collect(client.send_message(request))
    assert isinstance(first, Task)
    return await client.get_task(GetTaskRequest(id=first.id, tenant=tenant))


async def refusals(client: Client, methods: dict[str, Callable[[Client], Awaitable[Any]]]) -> Any:
    """The methods that were not refused with TaskNotFound, with what they gave."""
    answered = {}
    for name, method in methods.items():
        try:
            answered[name] = await method(client)
        except TaskNotFoundError:
            continue
    return answered


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a2a_keeps_a_tenant_to_itself(tenants: Stack, transport: str) -> None:
    url = tenants.url
    async with a2a_client(url, token=SECRETS["bob"], transport=transport) as bob:
        assert await refusals(bob, calls(A_WATCH)) == {}
        assert await refusals(bob, calls(A_DONE)) == {}
        listed = await bob.list_tasks(ListTasksRequest())
        assert [t.id for t in listed.tasks] == [B_DONE]
    async with a2a_client(url, token=SECRETS["alice"], transport=transport) as a:
        # Her own tasks, named in another tenant: not there either.
        assert await refusals(a, calls(A_WATCH, tenant="team-b")) == {}
        with pytest.raises(TaskNotFoundError):
            await a.list_tasks(ListTasksRequest(tenant="team-b"))
        with pytest.raises(TaskNotFoundError):
            await send_in(a, "hi [no tools]", "team-b")
        # Nothing of hers changed, and every method works for her.
        watched = await a.get_task(GetTaskRequest(id=A_WATCH, tenant="team-a"))
        assert watched.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        snapshot = await calls(A_WATCH)["SubscribeToTask"](a)
        assert isinstance(snapshot.task, Task) and snapshot.task.id == A_WATCH
        assert (await a.get_task(GetTaskRequest(id=A_DONE))).id == A_DONE
        own = await a.list_tasks(ListTasksRequest(tenant="team-a"))
        assert A_DONE in {t.id for t in own.tasks} and B_DONE not in {t.id for t in own.tasks}
        hook = GetTaskPushNotificationConfigRequest(task_id=A_WATCH, id="hook-1")
        assert (await a.get_task_push_notification_config(hook)).url == HOOK
        created = await calls(A_WATCH)["CreateTaskPushNotificationConfig"](a)
        assert created.task_id == A_WATCH and created.id == "hook-2"
        listed = await a.list_task_push_notification_configs(
            ListTaskPushNotificationConfigsRequest(task_id=A_WATCH)
        )
        assert {c.id for c in listed.configs} == {"hook-1", "hook-2"}
        await a.delete_task_push_notification_config(
            DeleteTaskPushNotificationConfigRequest(task_id=A_WATCH, id="hook-2")
        )
        new = await send_in(a, "hello [no tools]", "team-a")
        assert new.status.state == TaskState.TASK_STATE_COMPLETED
        cancelled = await a.cancel_task(CancelTaskRequest(id=CANCELS[transport]))
        assert cancelled.status.state == TaskState.TASK_STATE_CANCELED
    async with a2a_client(url, token=SECRETS["root"], transport=transport) as r:
        # The admin acts in the tenant it names (`default` when none).
        assert (await r.get_task(GetTaskRequest(id=A_DONE, tenant="team-a"))).id == A_DONE
        with pytest.raises(TaskNotFoundError):
            await r.get_task(GetTaskRequest(id=A_DONE))
        theirs = await r.list_tasks(ListTasksRequest(tenant="team-b"))
        assert [t.id for t in theirs.tasks] == [B_DONE]


async def test_a2a_03_names_too(tenants: Stack) -> None:
    """The 0.3 JSON-RPC methods (no tenant field): the key's tenant."""
    for who, code in (("bob", -32001), ("alice", None)):
        body = {"jsonrpc": "2.0", "id": 1, "method": "tasks/get", "params": {"id": A_DONE}}
        answer = (await tenants.http.post("/a2a", json=body, headers=bearer(who))).json()
        assert answer.get("error", {}).get("code") == code, answer
