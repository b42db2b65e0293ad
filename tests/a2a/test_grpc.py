"""A2A over gRPC: what only gRPC has (its card entry, status codes with ErrorInfo, metadata
for version and auth, the health service, the 0.3 service, the size cap, shutdown). The
calls every transport shares run over gRPC too, in the other A2A tests (`transport`)."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import httpx
import pytest
from a2a.client import A2ACardResolver
from a2a.client.errors import A2AClientError
from a2a.compat.v0_3 import a2a_v0_3_pb2, a2a_v0_3_pb2_grpc
from a2a.types import (
    CancelTaskRequest,
    DeleteTaskPushNotificationConfigRequest,
    GetTaskPushNotificationConfigRequest,
    GetTaskRequest,
    ListTaskPushNotificationConfigsRequest,
    ListTasksRequest,
    SendMessageRequest,
    SubscribeToTaskRequest,
    TaskPushNotificationConfig,
    TaskState,
    a2a_pb2_grpc,
)
from a2a.utils.constants import TransportProtocol
from a2a.utils.errors import TaskNotFoundError
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from temporal_executor.api.a2a.grpc_server import A2A_SERVICE
from tests.a2a.conftest import a2a_client, a2a_config, send, user_message
from tests.conftest import Stack, free_port, read_sse, running_stack, write_config
from tests.fakes.server import FakeServer

GRPC = TransportProtocol.GRPC
COMPLETED = TaskState.TASK_STATE_COMPLETED


def grpc_target(card: Any) -> str:
    (interface,) = [i for i in card.supported_interfaces if i.protocol_binding == "GRPC"]
    target: str = interface.url
    return target


@pytest.fixture
async def target(a2a_stack: Stack) -> str:
    card = await A2ACardResolver(a2a_stack.http, a2a_stack.url).get_agent_card()
    return grpc_target(card)


@pytest.fixture
async def stub(target: str) -> AsyncIterator[a2a_pb2_grpc.A2AServiceStub]:
    async with grpc.aio.insecure_channel(target) as channel:
        yield a2a_pb2_grpc.A2AServiceStub(channel)


def error_info(error: grpc.aio.AioRpcError) -> str:
    """The A2A reason of a gRPC error (spec §10.6: ErrorInfo in the status details)."""
    raw = dict(error.trailing_metadata() or ())["grpc-status-details-bin"]
    status = status_pb2.Status.FromString(raw)
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info) and info.domain == "a2a-protocol.org"
    return str(info.reason)


VERSION = [("a2a-version", "1.0")]


async def test_card_lists_grpc_after_the_http_interfaces(a2a_stack: Stack) -> None:
    card = await A2ACardResolver(a2a_stack.http, a2a_stack.url).get_agent_card()
    bindings = [i.protocol_binding for i in card.supported_interfaces]
    assert bindings == ["JSONRPC", "HTTP+JSON", "GRPC"]
    port = a2a_stack.config.a2a.grpc.port
    assert grpc_target(card) == f"127.0.0.1:{port}"  # the host the card came from, no scheme


async def test_send_get_list_over_grpc(a2a_stack: Stack) -> None:
    async with a2a_client(a2a_stack.url, streaming=False, transport=GRPC) as client:
        task = await send(client, user_message("Over gRPC [no tools]"))
        assert task.status.state == COMPLETED
        again = await client.get_task(GetTaskRequest(id=task.id))
        assert again.artifacts[0].parts[0].text == "Echo: Over gRPC [no tools]"
        listed = await client.list_tasks(ListTasksRequest(context_id=task.context_id))
        assert [t.id for t in listed.tasks] == [task.id]
        with pytest.raises(TaskNotFoundError):
            await client.get_task(GetTaskRequest(id="no-such-task"))


async def test_status_codes_carry_error_info(
    stub: a2a_pb2_grpc.A2AServiceStub, a2a_stack: Stack
) -> None:
    cases: list[tuple[Any, Any, grpc.StatusCode, str]] = [
        (stub.GetTask, GetTaskRequest(id="nope"), grpc.StatusCode.NOT_FOUND, "TASK_NOT_FOUND"),
        (
            stub.CancelTask,
            CancelTaskRequest(id="nope"),
            grpc.StatusCode.NOT_FOUND,
            "TASK_NOT_FOUND",
        ),
        (
            stub.SendMessage,
            SendMessageRequest(message=user_message()),  # no parts
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_PARAMS",
        ),
        (
            stub.GetTask,
            GetTaskRequest(id="nope", history_length=-1),
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_PARAMS",
        ),
    ]
    for method, request, code, reason in cases:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await method(request, metadata=VERSION)
        assert caught.value.code() == code, caught.value.details()
        assert error_info(caught.value) == reason


async def test_ended_task_and_version_are_unimplemented(
    stub: a2a_pb2_grpc.A2AServiceStub, a2a_stack: Stack
) -> None:
    """Spec v1.0.0's table (the one our HTTP+JSON routes and the conformance kit follow)."""
    response = await stub.SendMessage(
        SendMessageRequest(message=user_message("done soon [no tools]")), metadata=VERSION
    )
    assert response.task.status.state == COMPLETED
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in stub.SubscribeToTask(
            SubscribeToTaskRequest(id=response.task.id), metadata=VERSION
        ):
            pass
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert error_info(caught.value) == "UNSUPPORTED_OPERATION"

    for version in ("99.0", "0.3"):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetTask(GetTaskRequest(id="x"), metadata=[("a2a-version", version)])
        assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert error_info(caught.value) == "VERSION_NOT_SUPPORTED"
        assert repr(version) in str(caught.value.details())
    with pytest.raises(grpc.aio.AioRpcError) as caught:  # no version: 1.0, as the name says
        await stub.GetTask(GetTaskRequest(id="x"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_request_over_the_body_cap_is_refused(stub: a2a_pb2_grpc.A2AServiceStub) -> None:
    big = user_message("x" * 1_100_000)  # over server.max_body_bytes (1 MiB)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.SendMessage(SendMessageRequest(message=big), metadata=VERSION)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_health_service(target: str) -> None:
    async with grpc.aio.insecure_channel(target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", A2A_SERVICE, "a2a.v1.A2AService"):
            answer = await health.Check(health_pb2.HealthCheckRequest(service=service))
            assert answer.status == health_pb2.HealthCheckResponse.SERVING


async def test_the_0_3_service_shares_the_port(target: str, a2a_stack: Stack) -> None:
    async with a2a_client(a2a_stack.url, streaming=False, transport=GRPC) as client:
        task = await send(client, user_message("Old and new [no tools]"))
    async with grpc.aio.insecure_channel(target) as channel:
        old = a2a_v0_3_pb2_grpc.A2AServiceStub(channel)
        got = await old.GetTask(a2a_v0_3_pb2.GetTaskRequest(name=f"tasks/{task.id}"))
        assert got.id == task.id and got.status.state == a2a_v0_3_pb2.TASK_STATE_COMPLETED
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await old.GetTask(a2a_v0_3_pb2.GetTaskRequest(name="tasks/nope"))
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.fixture
async def keyed_stack(
    temporal: str,
    openai_fake: FakeServer,
    tool_server: FakeServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Stack]:
    monkeypatch.setenv("TE_TEST_GRPC_KEYS", "key-one,key-two")
    data = a2a_config(temporal, openai_fake, tool_server, tmp_path)
    data["server"]["api_keys_env"] = "TE_TEST_GRPC_KEYS"
    async with running_stack(data) as stack:
        yield stack


async def test_bearer_key_required_when_configured(keyed_stack: Stack) -> None:
    async with a2a_client(keyed_stack.url, streaming=False, transport=GRPC) as client:
        with pytest.raises(A2AClientError, match="UNAUTHENTICATED"):
            await client.get_task(GetTaskRequest(id="x"))
    async with a2a_client(keyed_stack.url, transport=GRPC, token="wrong") as client:
        with pytest.raises(A2AClientError, match="UNAUTHENTICATED"):
            await send(client, user_message("hi [no tools]"))
    async with a2a_client(keyed_stack.url, streaming=False, transport=GRPC, token="key-two") as c:
        task = await send(c, user_message("Authorised [no tools]"))
        assert task.status.state == COMPLETED
    # the streaming call is guarded too
    async with a2a_client(keyed_stack.url, transport=GRPC) as client:
        with pytest.raises(A2AClientError, match="UNAUTHENTICATED"):
            await send(client, user_message("hi [no tools]"))


async def test_push_configs_over_grpc(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> None:
    data = a2a_config(
        temporal,
        openai_fake,
        tool_server,
        tmp_path,
        require_approval=True,
        push_notifications={"allow_private_hosts": ["127.0.0.0/8"]},
    )
    async with (
        running_stack(data) as stack,
        a2a_client(stack.url, streaming=False, transport=GRPC) as client,
    ):
        task = await send(client, user_message("Weather in Oslo?"))  # waits for approval
        url = f"http://127.0.0.1:{free_port()}/hook"
        made = await client.create_task_push_notification_config(
            TaskPushNotificationConfig(task_id=task.id, url=url, token="t")
        )
        assert made.id and made.url == url
        got = await client.get_task_push_notification_config(
            GetTaskPushNotificationConfigRequest(task_id=task.id, id=made.id)
        )
        assert got.url == url and got.token == "t"
        listed = await client.list_task_push_notification_configs(
            ListTaskPushNotificationConfigsRequest(task_id=task.id)
        )
        assert [c.id for c in listed.configs] == [made.id]
        await client.delete_task_push_notification_config(
            DeleteTaskPushNotificationConfigRequest(task_id=task.id, id=made.id)
        )
        listed = await client.list_task_push_notification_configs(
            ListTaskPushNotificationConfigsRequest(task_id=task.id)
        )
        assert list(listed.configs) == []
        with pytest.raises(TaskNotFoundError):
            await client.list_task_push_notification_configs(
                ListTaskPushNotificationConfigsRequest(task_id="nope")
            )


async def test_push_refused_when_off(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> None:
    data = a2a_config(
        temporal, openai_fake, tool_server, tmp_path, push_notifications={"enabled": False}
    )
    async with running_stack(data) as stack:
        card = await A2ACardResolver(stack.http, stack.url).get_agent_card()
        async with grpc.aio.insecure_channel(grpc_target(card)) as channel:
            stub = a2a_pb2_grpc.A2AServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.CreateTaskPushNotificationConfig(
                    TaskPushNotificationConfig(task_id="t", url="http://127.0.0.1:9/h"),
                    metadata=VERSION,
                )
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert error_info(caught.value) == "PUSH_NOTIFICATION_NOT_SUPPORTED"


async def test_stops_with_the_api(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> None:
    data = a2a_config(temporal, openai_fake, tool_server, tmp_path)
    port = data["a2a"]["grpc"]["port"]
    async with running_stack(data):
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            answer = await health.Check(health_pb2.HealthCheckRequest())
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=2
            )
    assert caught.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


async def test_card_names_the_public_host(a2a_stack: Stack) -> None:
    from temporal_executor.api.a2a.card import agent_card
    from temporal_executor.config import Config

    data = a2a_stack.config.model_dump(by_alias=True, exclude_none=True)
    data["a2a"]["url"] = "https://agents.example.com/team-a"
    config = Config.model_validate(data)
    card = agent_card(config, config.a2a.url or "")
    assert grpc_target(card) == f"agents.example.com:{config.a2a.grpc.port}"
    data["a2a"]["grpc"]["url"] = "grpc.example.com:443"
    config = Config.model_validate(data)
    assert grpc_target(agent_card(config, "http://10.0.0.1:8080")) == "grpc.example.com:443"
    card = agent_card(config, "http://[::1]:8080")
    del data["a2a"]["grpc"]["url"]
    assert grpc_target(agent_card(Config.model_validate(data), "http://[::1]:8080")) == (
        f"[::1]:{config.a2a.grpc.port}"
    )


async def test_http_client_sees_the_same_task(a2a_stack: Stack) -> None:
    async with a2a_client(a2a_stack.url, streaming=False, transport=GRPC) as client:
        task = await send(client, user_message("Shared [no tools]"))
    async with httpx.AsyncClient(base_url=a2a_stack.url) as http:
        rest = (await http.get(f"/api/v1/tasks/{task.id}")).json()
    assert rest["status"] == "completed" and rest["result"]["content"] == "Echo: Shared [no tools]"


def test_serve_refuses_a_grpc_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = {
            "server": {"host": "127.0.0.1", "port": free_port()},
            "a2a": {"grpc": {"enabled": True, "port": port}},
        }
        path = write_config(config, tmp_path / "config.yaml")
        result = subprocess.run(
            [sys.executable, "-m", "temporal_executor", "serve", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"a2a.grpc: cannot listen on 127.0.0.1:{port}" in result.stderr


async def test_key_scopes_over_grpc(
    temporal: str,
    openai_fake: FakeServer,
    tool_server: FakeServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A key's scopes hold over gRPC as over JSON-RPC: a read-only key reads and may not
    start a task (PERMISSION_DENIED); the approving key's name is who decided."""
    monkeypatch.setenv("TE_TEST_GRPC_SCOPED", "reader:r-1,ops:o-1")
    data = a2a_config(temporal, openai_fake, tool_server, tmp_path, require_approval=True)
    data["server"]["api_keys_env"] = "TE_TEST_GRPC_SCOPED"
    data["server"]["api_key_scopes"] = {"reader": ["read"]}
    async with running_stack(data) as stack:
        async with a2a_client(stack.url, streaming=False, transport=GRPC, token="o-1") as ops:
            task = await send(ops, user_message("Weather in Turin?"))
            async with a2a_client(
                stack.url, streaming=False, transport=GRPC, token="r-1"
            ) as reader:
                assert (await reader.get_task(GetTaskRequest(id=task.id))).id == task.id
                with pytest.raises(A2AClientError, match="PERMISSION_DENIED"):
                    await send(reader, user_message("approve", task_id=task.id))
            await send(ops, user_message("approve", task_id=task.id))
        async with httpx.AsyncClient(
            base_url=stack.url, headers={"Authorization": "Bearer o-1"}
        ) as http:
            events = await read_sse(http, task.id)
    (decided,) = [e["data"] for e in events if e["event"] == "approval.decided"]
    assert decided["by"] == "ops"
