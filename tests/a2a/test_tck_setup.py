"""The setup the A2A conformance kit runs against (`tests/a2a/tck.yaml`, the scenario model of
`tests/a2a/tck_model.py`): its scenarios through the real service, so that setup keeps
working. The model's message-id routing reaches it through the transcript, which keeps the
client's message ids."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from a2a.helpers import get_message_text
from a2a.types import Message, Role, TaskState
from a2a.utils.constants import TransportProtocol
from google.protobuf.json_format import MessageToDict

from temporal_executor.config import load_config
from tests.a2a.conftest import a2a_client, answer_text, send, user_message
from tests.conftest import Stack, config_data, free_port, running_stack

TCK_CONFIG = Path(__file__).with_name("tck.yaml")
TRANSPORTS = [TransportProtocol.JSONRPC, TransportProtocol.HTTP_JSON, TransportProtocol.GRPC]
ROOT = Path(__file__).parents[2]


def tck_message(prefix: str, text: str = "TCK", **ids: str) -> Message:
    message = user_message(text, **ids)
    message.message_id = f"{prefix}-{message.message_id}"
    return message


@pytest.fixture(scope="module")  # one stack for the module's tests: each task is its own
async def tck_stack(
    temporal: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    shipped = yaml.safe_load(TCK_CONFIG.read_text())
    data = config_data(temporal, "http://127.0.0.1:9/v1", tmp_path_factory.mktemp("tck"))
    data.update(llm=shipped["llm"], a2a=shipped["a2a"])
    data["a2a"]["grpc"]["port"] = free_port()
    # As the run command sets it: the MCP server runs from the repository root, on our Python.
    server = shipped["tools"]["mcp_servers"]["tck"]
    server.update(command=sys.executable, cwd=str(ROOT))
    data["tools"]["mcp_servers"] = {"tck": server}
    async with running_stack(data) as stack:
        yield stack


def test_the_shipped_config_loads() -> None:
    config = load_config(TCK_CONFIG, env={})
    assert config.llm.providers[0].class_ == "tests.a2a.tck_model:ScenarioModel"
    assert config.server.port == 9999


async def test_scenarios(tck_stack: Stack) -> None:
    async with a2a_client(tck_stack.url, streaming=False) as client:
        done = await send(client, tck_message("tck-complete-task"))
        assert done.status.state == TaskState.TASK_STATE_COMPLETED
        assert answer_text(done) == "Hello from TCK"

        first = tck_message("tck-input-required", "first")
        waiting = await send(client, first)
        assert waiting.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        # a follow-up that keeps it waiting, then one that completes it
        more = tck_message("tck-input-required", "more", task_id=waiting.id)
        assert (await send(client, more)).status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        last = tck_message("tck-complete-task", "last", task_id=waiting.id)
        finished = await send(client, last)
        assert finished.status.state == TaskState.TASK_STATE_COMPLETED
        assert answer_text(finished) == "Hello from TCK"
        users = [m for m in finished.history if m.role == Role.ROLE_USER]
        assert [(m.message_id, get_message_text(m)) for m in users] == [
            (first.message_id, "first"),
            (more.message_id, "more"),
            (last.message_id, "last"),
        ]

        failed = await send(client, tck_message("tck-reject-task"))
        assert failed.status.state == TaskState.TASK_STATE_FAILED


@pytest.mark.parametrize("transport", TRANSPORTS, ids=["jsonrpc", "http_json", "grpc"])
async def test_artifact_scenarios(tck_stack: Stack, transport: str) -> None:
    """DM-ART-001 as the kit checks it: the task's first artifact, its first part."""
    async with a2a_client(tck_stack.url, streaming=False, transport=transport) as client:
        file = await send(client, tck_message("tck-artifact-file", "TCK artifact test"))
        url = await send(client, tck_message("tck-artifact-file-url", "TCK artifact test"))
        data = await send(client, tck_message("tck-artifact-data", "TCK artifact test"))
        text = await send(client, tck_message("tck-artifact-text", "TCK artifact test"))
    for task in (file, url, data, text):
        assert task.status.state == TaskState.TASK_STATE_COMPLETED, task.status
    part = file.artifacts[0].parts[0]
    assert file.artifacts[0].artifact_id
    assert (part.WhichOneof("content"), part.raw) == ("raw", b"tck")
    assert (part.filename, part.media_type) == ("output.txt", "text/plain")
    part = url.artifacts[0].parts[0]
    assert (part.WhichOneof("content"), part.url) == ("url", "https://example.com/output.txt")
    assert (part.filename, part.media_type) == ("output.txt", "text/plain")
    part = data.artifacts[0].parts[0]
    assert part.WhichOneof("content") == "data"
    assert MessageToDict(part.data) == {"key": "value", "count": 42}
    assert text.artifacts[0].parts[0].text == "Generated text content"
