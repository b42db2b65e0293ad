"""What kagent's runtimes need beyond plain A2A (see `deploy/kagent/`): kagent 0.10's
controller posts A2A 0.3 JSON-RPC to `POST /` (`a2a.jsonrpc_at_root`); kagent's API-v2
gateway assigns task ids itself (`a2a.accept_task_ids`) and probes `GET /readyz` on a port of
its own (`server.readiness_port`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from a2a.types import GetTaskRequest, TaskState
from a2a.utils.constants import TransportProtocol
from a2a.utils.errors import InvalidParamsError, TaskNotFoundError

from tests.a2a.conftest import a2a_client, a2a_config, collect, send, send_request, user_message
from tests.conftest import Stack, free_port, running_stack
from tests.fakes.server import FakeServer

GRPC = TransportProtocol.GRPC


@pytest.fixture
async def kagent_stack(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> AsyncIterator[Stack]:
    data = a2a_config(
        temporal, openai_fake, tool_server, tmp_path, jsonrpc_at_root=True, accept_task_ids=True
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
