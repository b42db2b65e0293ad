"""What kagent's runtimes need beyond plain A2A (see `deploy/kagent/`): kagent 0.10's
controller posts A2A 0.3 JSON-RPC to `POST /` (`a2a.jsonrpc_at_root`); kagent's API-v2
gateway assigns task ids itself (`a2a.accept_task_ids`), reads TaskNotFound from
SubscribeToTask as "nothing runs" (`a2a.subscribe_ended_task`), and probes `GET /readyz` on a
port of its own (`server.readiness_port`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from a2a.types import GetTaskRequest, Message, Role, SubscribeToTaskRequest, TaskState
from a2a.utils.constants import TransportProtocol
from a2a.utils.errors import InvalidParamsError, TaskNotFoundError, UnsupportedOperationError

from temporal_executor.api.a2a.view import TERMINAL as ENDED
from tests.a2a.conftest import (
    a2a_client,
    a2a_config,
    answer_text,
    collect,
    send,
    send_request,
    slow_stream,
    user_message,
)
from tests.conftest import Stack, free_port, running_stack
from tests.fakes.server import FakeServer

GRPC = TransportProtocol.GRPC


@pytest.fixture
async def kagent_stack(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> AsyncIterator[Stack]:
    data = a2a_config(
        temporal,
        openai_fake,
        tool_server,
        tmp_path,
        jsonrpc_at_root=True,
        accept_task_ids=True,
        subscribe_ended_task="task_not_found",
    )
    data["server"]["readiness_port"] = free_port()
    async with running_stack(data) as s:
        yield s


async def test_0_3_json_rpc_at_the_root(kagent_stack: Stack) -> None:
    """As kagent 0.10's controller calls a BYO agent: `message/send` to `/`, with the
    session as contextId and the user in `X-User-Id`."""
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "message/send",
        "params": {
            "message": {
                "kind": "message",
                "messageId": uuid.uuid4().hex,
                "role": "user",
                "contextId": "session-0-10",
                "parts": [{"kind": "text", "text": "Hello kagent [no tools]"}],
            }
        },
    }
    response = await kagent_stack.http.post("/", json=body, headers={"X-User-Id": "admin@kagent"})
    assert response.status_code == 200, response.text
    task = response.json()["result"]
    assert task["kind"] == "task" and task["contextId"] == "session-0-10"
    assert task["status"]["state"] == "completed"
    assert task["artifacts"][0]["parts"][0]["text"] == "Echo: Hello kagent [no tools]"


async def test_root_is_no_json_rpc_by_default(a2a_stack: Stack) -> None:
    response = await a2a_stack.http.post("/", json={"jsonrpc": "2.0", "id": 1, "method": "x"})
    assert response.status_code in (404, 405)


async def test_gateway_assigned_task_id_over_grpc(kagent_stack: Stack) -> None:
    """kagent's API-v2 gateway: contextId the AgentInstance's id, a new taskId of its own;
    every event carries both, and GetTask finds the task under that id."""
    task_id, instance = f"gw-{uuid.uuid4().hex}", f"instance-{uuid.uuid4().hex[:8]}"
    message = user_message("From the gateway [no tools]", task_id=task_id, context_id=instance)
    async with a2a_client(kagent_stack.url, transport=GRPC) as client:
        events = await collect(client.send_message(send_request(message)))
        assert {(getattr(e, "task_id", None) or e.id, e.context_id) for e in events} == {
            (task_id, instance)
        }
        assert events[-1].status.state == TaskState.TASK_STATE_COMPLETED
        task = await client.get_task(GetTaskRequest(id=task_id))
        assert task.context_id == instance and task.status.state == TaskState.TASK_STATE_COMPLETED
        with pytest.raises(InvalidParamsError):
            await send(client, user_message("bad id", task_id="no spaces allowed"))


async def test_the_gateways_rules(
    kagent_stack: Stack, openai_fake: FakeServer, transport: str
) -> None:
    """kagent's API-v2 gateway (over gRPC; JSON-RPC alike): one task at a time in an
    AgentInstance (its context), a message sent again answers with the task it started, the
    same message id with another request is refused, and SubscribeToTask on a task that has
    ended is TaskNotFound while GetTask still returns it."""
    await slow_stream(openai_fake, 0.1)  # the first task runs a second or so
    instance = f"instance-{uuid.uuid4().hex[:8]}"
    first = user_message("Write slowly [no tools]", task_id=gw_id(), context_id=instance)
    async with a2a_client(kagent_stack.url, streaming=False, transport=transport) as client:
        running = await send(client, first, return_immediately=True)
        assert running.id == first.task_id and running.status.state not in ENDED
        # The gateway reads the task after each event it relays: readable from the start.
        midway = await client.get_task(GetTaskRequest(id=first.task_id))
        assert midway.context_id == instance and midway.status.state not in ENDED

        second = user_message("Me too [no tools]", task_id=gw_id(), context_id=instance)
        with pytest.raises(UnsupportedOperationError, match="runs one task at a time"):
            await send(client, second)

        # The gateway's retry, while the task runs: the same task, followed to its end.
        replayed = await send(client, first)
        assert replayed.id == first.task_id
        assert replayed.status.state == TaskState.TASK_STATE_COMPLETED
        assert answer_text(replayed) == "Echo: Write slowly [no tools]"
        # Sent again once it has ended, with another task id or none: the same task, at once.
        for task_id in ("", gw_id()):
            again = copy(first, task_id=task_id)
            assert (await send(client, again)).id == first.task_id
        task = await client.get_task(GetTaskRequest(id=first.task_id))
        assert [m.message_id for m in task.history if m.role == Role.ROLE_USER] == [
            first.message_id
        ]

        other = copy(first, text="Something else [no tools]")
        with pytest.raises(InvalidParamsError, match="already used with a different request"):
            await send(client, other)

        assert task.status.state == TaskState.TASK_STATE_COMPLETED
    async with a2a_client(kagent_stack.url, transport=transport) as client:
        with pytest.raises(TaskNotFoundError, match="has ended"):
            await collect(client.subscribe(SubscribeToTaskRequest(id=first.task_id)))
        task = await client.get_task(GetTaskRequest(id=first.task_id))
        assert task.status.state == TaskState.TASK_STATE_COMPLETED


def gw_id() -> str:
    return f"gw-{uuid.uuid4().hex}"


def copy(message: Message, *, task_id: str | None = None, text: str | None = None) -> Message:
    """`message` as sent again: the same id, with another task id or text when given."""
    again = Message()
    again.CopyFrom(message)
    if task_id is not None:
        again.task_id = task_id
    if text is not None:
        again.parts[0].text = text
    return again


async def test_unknown_task_id_is_not_found_by_default(a2a_stack: Stack) -> None:
    async with a2a_client(a2a_stack.url, streaming=False, transport=GRPC) as client:
        with pytest.raises(TaskNotFoundError):
            await send(client, user_message("hi", task_id=f"gw-{uuid.uuid4().hex}"))


async def test_readiness_port_answers_readyz_only(kagent_stack: Stack) -> None:
    port = kagent_stack.config.server.readiness_port
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        ready = await http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == (await kagent_stack.http.get("/readyz")).json()
        for path in ("/healthz", "/api/v1/tasks", "/.well-known/agent-card.json"):
            assert (await http.get(path)).status_code == 404
