"""Files over A2A, on JSON-RPC, HTTP+JSON and gRPC alike: a message's FileParts (bytes, a URL)
reach the model as images and files, a tool's images come back to the model and out as the
task's artifacts (a FilePart with the bytes when small, else our authenticated download URL,
the answer last), and a file of a type nobody here takes is ContentTypeNotSupportedError."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest
from a2a.helpers import get_message_text, new_raw_part, new_url_part
from a2a.types import TaskArtifactUpdateEvent, TaskState
from a2a.utils.constants import TransportProtocol
from a2a.utils.errors import ContentTypeNotSupportedError

from tests.a2a.conftest import a2a_client, a2a_config, collect, send, send_request, user_message
from tests.conftest import Stack, fake_requests, running_stack
from tests.fakes.samples import PDF, PNG
from tests.fakes.server import FakeServer
from tests.fakes.tool_server import FILES

TRANSPORTS = [TransportProtocol.JSONRPC, TransportProtocol.HTTP_JSON, TransportProtocol.GRPC]


def file_tool(tool_server: FakeServer, name: str) -> dict[str, Any]:
    return {
        "name": name.replace(".", "_"),
        "description": f"Make {name}",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
        "type": "http",
        "config": {"endpoint": f"{tool_server.base_url}/files/{name}", "method": "GET"},
    }


@pytest.fixture(scope="module")
async def files_stack(
    temporal: str,
    openai_fake: FakeServer,
    tool_server: FakeServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    data = a2a_config(temporal, openai_fake, tool_server, tmp_path_factory.mktemp("files"))
    tools = [file_tool(tool_server, "chart.png"), file_tool(tool_server, "large.png")]
    data["a2a"]["default_agent"]["tools"] = tools
    data["executor"]["inline_bytes"] = 1024  # what A2A gets whole; large.png is bigger
    async with running_stack(data) as stack:
        yield stack


@pytest.mark.parametrize("transport", TRANSPORTS, ids=["jsonrpc", "http_json", "grpc"])
async def test_files_in_and_artifacts_out(
    files_stack: Stack, openai_fake: FakeServer, tool_server: FakeServer, transport: str
) -> None:
    message = user_message("What is this? [two tools]")
    pdf_url = f"{tool_server.base_url}/files/report.pdf"
    message.parts.extend(
        [
            new_raw_part(PNG, "image/png", "photo.png"),
            new_url_part(pdf_url, "application/pdf", "report.pdf"),
        ]
    )
    async with a2a_client(files_stack.url, streaming=False, transport=transport) as client:
        task = await send(client, message)
    assert task.status.state == TaskState.TASK_STATE_COMPLETED, task.status

    # The user's files are in the history: ours as our download URL, the client's URL as is.
    _, photo, pdf = task.history[0].parts
    assert get_message_text(task.history[0]) == "What is this? [two tools]"
    assert (photo.url, photo.media_type, photo.filename) == (
        f"http://127.0.0.1:{files_stack.config.server.port}/api/v1/tasks/{task.id}/inputs/0",
        "image/png",
        "photo.png",
    )
    assert (pdf.url, pdf.filename) == (pdf_url, "report.pdf")
    assert (await files_stack.http.get(photo.url)).content == PNG

    # The model got both, and the tools' images with their results.
    first, second = [
        r for r in await fake_requests(openai_fake) if r["messages"][1]["role"] == "user"
    ][-2:]
    kinds = [p["type"] for p in first["messages"][1]["content"]]
    assert kinds == ["image_url", "file", "text"]
    attached = second["messages"][-1]
    assert [p["type"] for p in attached["content"]] == ["text", "image_url", "image_url"]

    # The tools' files are the task's artifacts, before the answer: the small one whole, the
    # other one a link to its download.
    *made, answer = task.artifacts
    assert answer.artifact_id == f"{task.id}-answer"
    assert answer.parts[0].text.startswith("Tool results: ")
    by_name = {a.name: a.parts[0] for a in made}
    assert set(by_name) == {"chart.png", "large.png"}
    assert (by_name["chart.png"].raw, by_name["chart.png"].media_type) == (PNG, "image/png")
    assert by_name["chart.png"].filename == "chart.png"
    link = by_name["large.png"]
    assert link.WhichOneof("content") == "url" and link.filename == "large.png"
    assert link.url.startswith(f"http://127.0.0.1:{files_stack.config.server.port}/api/v1/tasks/")
    assert (await files_stack.http.get(link.url)).content == FILES["large.png"][0]


async def test_artifacts_stream_as_their_own_updates(files_stack: Stack) -> None:
    async with a2a_client(files_stack.url) as client:
        events = await collect(client.send_message(send_request(user_message("Draw it"))))
    updates = [e for e in events if isinstance(e, TaskArtifactUpdateEvent)]
    files = [u for u in updates if u.artifact.name == "chart.png"]
    assert len(files) == 1 and files[0].last_chunk and not files[0].append
    assert files[0].artifact.parts[0].raw == PNG
    # It came before the answer's first chunk: the model answered after the tool.
    assert updates.index(files[0]) < min(
        updates.index(u) for u in updates if u.artifact.name == "answer"
    )


@pytest.mark.parametrize("transport", TRANSPORTS, ids=["jsonrpc", "http_json", "grpc"])
async def test_a_file_nobody_takes_is_content_type_not_supported(
    files_stack: Stack, transport: str
) -> None:
    message = user_message("look")
    message.parts.append(new_raw_part(b"tck", "application/x-unsupported-tck-type"))
    async with a2a_client(files_stack.url, streaming=False, transport=transport) as client:
        with pytest.raises(ContentTypeNotSupportedError, match="is not taken here"):
            await send(client, message)


async def test_the_simplified_a2a_message_takes_files_too(
    files_stack: Stack, openai_fake: FakeServer
) -> None:
    body = {
        "content": [
            {"type": "text", "text": "Describe [no tools]"},
            {
                "type": "file",
                "data": base64.b64encode(PDF).decode(),
                "media_type": "application/pdf",
                "name": "r.pdf",
            },
        ]
    }
    response = await files_stack.http.post("/a2a/message?wait=true", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["result"]["content"] == "Echo: Describe [no tools] [application/pdf]"
    bad = {"content": [{"type": "image", "data": "AAAA", "media_type": "image/bmp"}]}
    refused = await files_stack.http.post("/a2a/message", json=bad)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["message"].startswith("content.0: media type image/bmp")
