"""A2A tests: the official `a2a-sdk` client against the running service (real Temporal, the
OpenAI wire fake, the tool server), over JSON-RPC, HTTP+JSON or gRPC (every A2A stack here
serves gRPC too)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc.aio
import httpx
import pytest
from a2a.client import A2ACardResolver, Client, ClientCallContext, ClientConfig, ClientFactory
from a2a.client.interceptors import AfterArgs, BeforeArgs, ClientCallInterceptor
from a2a.helpers import get_artifact_text, new_data_part, new_text_part
from a2a.types import (
    Message,
    Part,
    Role,
    SendMessageConfiguration,
    SendMessageRequest,
    StreamResponse,
    Task,
)
from a2a.utils.constants import TransportProtocol

from temporal_executor.api.a2a.hitl import HITL_EXTENSION_URI
from temporal_executor.config import Config
from temporal_executor.runtime import open_services, run_services
from tests.conftest import Stack, config_data, free_port, running_stack, weather_tool
from tests.fakes.server import FakeServer

MODEL = {"provider": "openai", "model": "gpt-4o-mini"}


def a2a_config(
    temporal: str,
    openai_fake: FakeServer,
    tool_server: FakeServer,
    tmp_path: Path,
    *,
    require_approval: bool = False,
    **a2a: Any,
) -> dict[str, Any]:
    """The test config with an A2A agent: the echoing fake model and the weather tool."""
    data = config_data(temporal, openai_fake.url, tmp_path)
    data["a2a"] = {
        "name": "weather-agent",
        "description": "Answers weather questions.",
        "default_agent": {
            "system_message": "You are a helpful weather assistant.",
            "model_config": MODEL,
            "tools": [weather_tool(tool_server)],
            "require_approval": require_approval,
        },
        "grpc": {"enabled": True, "port": free_port()},
        **a2a,
    }
    return data


@pytest.fixture
async def a2a_stack(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> AsyncIterator[Stack]:
    async with running_stack(a2a_config(temporal, openai_fake, tool_server, tmp_path)) as s:
        yield s


@pytest.fixture
async def approval_stack(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> AsyncIterator[Stack]:
    data = a2a_config(temporal, openai_fake, tool_server, tmp_path, require_approval=True)
    async with running_stack(data) as s:
        yield s


@contextlib.asynccontextmanager
async def a2a_client(
    url: str,
    *,
    streaming: bool = True,
    polling: bool = False,
    hitl: bool = False,
    token: str | None = None,
    transport: str = TransportProtocol.JSONRPC,
) -> AsyncIterator[Client]:
    """The SDK's client for the agent at `url`, built from its card; `token` is sent as a
    bearer token, `hitl` asks for kagent's extension (as HTTP headers or gRPC metadata)."""
    parameters = {"A2A-Extensions": HITL_EXTENSION_URI} if hitl else {}
    if token is not None:
        parameters["Authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(timeout=60, headers=parameters) as http:
        card = await A2ACardResolver(http, url).get_agent_card()
        config = ClientConfig(
            streaming=streaming,
            polling=polling,
            httpx_client=http,
            grpc_channel_factory=grpc.aio.insecure_channel,
            supported_protocol_bindings=[transport],
        )
        grpc_metadata = (
            [ServiceParameters(parameters)] if transport == TransportProtocol.GRPC else []
        )
        client = ClientFactory(config).create(card, interceptors=grpc_metadata)
        try:
            yield client
        finally:
            await client.close()


class ServiceParameters(ClientCallInterceptor):
    """Sends `parameters` with every call (gRPC metadata; over HTTP the client's headers
    carry them)."""

    def __init__(self, parameters: dict[str, str]) -> None:
        self.parameters = parameters

    async def before(self, args: BeforeArgs) -> None:
        args.context = args.context or ClientCallContext()
        args.context.service_parameters = {
            **self.parameters,
            **(args.context.service_parameters or {}),
        }

    async def after(self, args: AfterArgs) -> None:
        pass


TRANSPORTS = [TransportProtocol.JSONRPC, TransportProtocol.GRPC]


@pytest.fixture(params=TRANSPORTS, ids=["jsonrpc", "grpc"])
def transport(request: pytest.FixtureRequest) -> str:
    """Run the test over JSON-RPC and over gRPC."""
    value: str = request.param
    return value


def user_message(
    text: str | None = None,
    *,
    data: dict[str, Any] | None = None,
    task_id: str = "",
    context_id: str = "",
    metadata: dict[str, Any] | None = None,
    extensions: list[str] | None = None,
) -> Message:
    parts: list[Part] = []
    if text is not None:
        parts.append(new_text_part(text))
    if data is not None:
        parts.append(new_data_part(data))
    message = Message(
        message_id=uuid.uuid4().hex,
        role=Role.ROLE_USER,
        parts=parts,
        task_id=task_id,
        context_id=context_id,
        extensions=extensions or [],
    )
    if metadata:
        message.metadata.update(metadata)
    return message


def send_request(message: Message, **configuration: Any) -> SendMessageRequest:
    return SendMessageRequest(
        message=message, configuration=SendMessageConfiguration(**configuration)
    )


async def collect(stream: AsyncIterator[StreamResponse], limit: int = 10_000) -> list[Any]:
    """The payloads of a stream (Task, TaskStatusUpdateEvent, …), to its end."""
    events: list[Any] = []
    async for response in stream:
        events.append(getattr(response, response.WhichOneof("payload")))
        if len(events) >= limit:
            break
    return events


async def drop(stream: AsyncIterator[StreamResponse]) -> None:
    """Close a stream early, as a dropped connection would."""
    await stream.aclose()  # type: ignore[attr-defined]  # an async generator


async def send(client: Client, message: Message, **configuration: Any) -> Task:
    """Send and return the one task a non-streaming client gets."""
    (task,) = await collect(client.send_message(send_request(message, **configuration)))
    assert isinstance(task, Task)
    return task


def answer_text(task: Task) -> str:
    return "".join(get_artifact_text(a) for a in task.artifacts)


async def wait_for(check: Any, seconds: float = 20.0) -> Any:
    """Poll the async `check` until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def slow_stream(openai_fake: FakeServer, chunk_delay: float) -> None:
    """Make the fake LLM stream its answers slowly (reset after each test)."""
    async with httpx.AsyncClient() as http:
        await http.post(openai_fake.base_url + "/_fake/config", json={"chunk_delay": chunk_delay})


async def jsonrpc(
    stack: Stack, method: str, params: dict[str, Any], *, version: str | None = "1.0"
) -> dict[str, Any]:
    """A raw JSON-RPC call, as curl would make it."""
    headers = {"A2A-Version": version} if version else {}
    body = {"jsonrpc": "2.0", "id": 7, "method": method, "params": params}
    response = await stack.http.post("/a2a", json=body, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


@contextlib.asynccontextmanager
async def worker_only(data: dict[str, Any]) -> AsyncIterator[None]:
    config = Config.model_validate(data)
    async with open_services(config) as services:
        stop = asyncio.Event()
        runner = asyncio.create_task(run_services(services, api=False, worker=True, stop=stop))
        try:
            yield
        finally:
            stop.set()
            await asyncio.wait_for(runner, 30)
