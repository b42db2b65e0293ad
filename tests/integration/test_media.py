"""Images and files through whole tasks, on every vendor's wire: a user message with a PNG
(inline) and a PDF (by URL, fetched at submission) reaches each provider's wire fake in that
vendor's form (the fakes check parts as their vendors do: a wrong form is a 400 and the task
fails), a tool's image comes back to the model as an image on the next turn, and both are
downloadable: the user's files and the task's artifacts. What cannot be taken is refused at
submission, naming the part."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import Stack, config_data, running_stack
from tests.fakes.rules import FakeControl
from tests.fakes.samples import PDF, PNG
from tests.fakes.server import FakeServer
from tests.integration.test_providers import providers

CASES = [
    ("openai", "gpt-4o-mini"),
    ("azure-openai", "gpt-4o-mini"),
    ("openai-compatible", "gpt-4o-mini"),  # on the Responses API (`media_stack`)
    ("anthropic", "claude-sonnet-4-6"),
    ("gemini", "gemini-2.5-flash"),
    ("vertexai", "gemini-2.5-flash"),
]
PNG_DATA = base64.b64encode(PNG).decode()


@pytest.fixture(scope="module")
async def media_stack(
    temporal: str,
    openai_fake: FakeServer,
    vendor_fakes: dict[str, FakeServer],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    data = config_data(temporal, openai_fake.url, tmp_path_factory.mktemp("media"))
    data["llm"]["providers"] = providers(openai_fake.url, vendor_fakes, "vertex-gemini")
    # openai-compatible speaks the Responses API here, to a vision model.
    responses = {"api": "responses", "accepts": ["image/png", "application/pdf"]}
    (compatible,) = [p for p in data["llm"]["providers"] if p["name"] == "openai-compatible"]
    compatible["config"] |= responses
    data["executor"]["inputs"] = {"max_part_bytes": 4096, "max_total_bytes": 6000}
    async with running_stack(data) as stack:
        yield stack


def chart_tool(tool_server: FakeServer) -> dict[str, Any]:
    """An http tool whose answer is a PNG."""
    return {
        "name": "chart",
        "description": "Draw the chart",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
        "type": "http",
        "config": {"endpoint": tool_server.base_url + "/files/chart.png", "method": "GET"},
    }


def message(tool_server: FakeServer) -> list[dict[str, Any]]:
    return [
        {"type": "text", "text": "What do these show?"},
        {"type": "image", "data": PNG_DATA, "media_type": "image/png", "name": "photo.png"},
        {"type": "file", "url": tool_server.base_url + "/files/report.pdf"},
    ]


def fake_of(provider: str, openai_fake: FakeServer, fakes: dict[str, FakeServer]) -> FakeControl:
    server = {"vertexai": fakes["vertex-gemini"]}.get(provider) or fakes.get(provider)
    return FakeControl((server or openai_fake).base_url)


def sent_files(provider: str, body: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The media types of the files a request's first user message has, and of those that
    came with its tool results, read from the vendor's own form."""
    if provider == "openai-compatible":  # the Responses API
        items = body["input"]
        first = [_responses(p) for p in items[0]["content"] if p["type"] != "input_text"]
        after = [
            _responses(p)
            for item in items
            if item.get("type") == "function_call_output" and isinstance(item["output"], list)
            for p in item["output"]
            if p["type"] != "input_text"
        ]
        return first, after
    if provider in ("openai", "azure-openai"):
        messages = body["messages"]
        users = [m for m in messages if m["role"] == "user"]
        first = [_openai(p) for p in users[0]["content"] if p["type"] != "text"]
        after = [
            _openai(p)
            for m in users[1:]
            for p in m["content"]
            if messages[messages.index(m) - 1]["role"] == "tool" and p["type"] != "text"
        ]
        return first, after
    if provider == "anthropic":
        first = [b["source"]["media_type"] for b in body["messages"][0]["content"] if "source" in b]
        after = [
            b["source"]["media_type"]
            for m in body["messages"][1:]
            for r in m["content"]
            if isinstance(m["content"], list) and r.get("type") == "tool_result"
            for b in r.get("content") or []
            if "source" in b
        ]
        return first, after
    contents = body["contents"]
    first = [_gemini(p) for p in contents[0]["parts"] if "text" not in p]
    after = [
        _gemini(p)
        for c in contents[1:]
        for part in c["parts"]
        for p in part.get("functionResponse", {}).get("parts") or []
    ]
    return first, after


def _openai(part: dict[str, Any]) -> str:
    if part["type"] == "image_url":
        return part["image_url"]["url"].split(";")[0].removeprefix("data:")
    assert part["file"]["filename"] == "report.pdf", part
    return part["file"]["file_data"].split(";")[0].removeprefix("data:")


def _responses(part: dict[str, Any]) -> str:
    if part["type"] == "input_image":
        assert part["detail"] == "auto", part
        return part["image_url"].split(";")[0].removeprefix("data:")
    assert part["filename"] == "report.pdf", part
    return part["file_data"].split(";")[0].removeprefix("data:")


def _gemini(part: dict[str, Any]) -> str:
    blob = part.get("inlineData") or part["inline_data"]
    return str(blob.get("mimeType") or blob["mime_type"])


async def test_files_reach_each_vendor_in_its_form_and_a_tools_image_comes_back(
    media_stack: Stack,
    openai_fake: FakeServer,
    vendor_fakes: dict[str, FakeServer],
    tool_server: FakeServer,
) -> None:
    http = media_stack.http
    for provider, model in CASES:
        fake = fake_of(provider, openai_fake, vendor_fakes)
        fake.reset()
        response = await http.post(
            "/api/v1/execute?wait=true",
            json={
                "user_message": message(tool_server),
                "model_config": {"provider": provider, "model": model},
                "tools": [chart_tool(tool_server)],
            },
        )
        assert response.status_code == 200, (provider, response.text)
        task = response.json()
        assert task["status"] == "completed", (provider, task)
        # The fake answered from the tool result it got: its text, and an image with it.
        answer = task["result"]["content"]
        assert answer.startswith(
            "Tool results: chart=HTTP 200: a file chart.png (image/png, "
            f"{len(PNG)} bytes), kept as an artifact"
        ), provider
        assert answer.endswith(" | [image/png]"), (provider, answer)
        first, second = (request for request in fake.requests())
        assert sent_files(provider, first) == (["image/png", "application/pdf"], []), provider
        assert sent_files(provider, second) == (["image/png", "application/pdf"], ["image/png"])

        (artifact,) = task["artifacts"]
        assert artifact | {"artifact_id": "", "tool_call_id": ""} == {
            "artifact_id": "",
            "tool_call_id": "",
            "type": "image",
            "media_type": "image/png",
            "name": "chart.png",
            "size": len(PNG),
            "blob": f"{task['task_id']}/artifact/{artifact['artifact_id']}",
            "url": None,
            "data": None,
        }
        path = f"/api/v1/tasks/{task['task_id']}"
        download = await http.get(f"{path}/artifacts/{artifact['artifact_id']}")
        assert (download.status_code, download.content) == (200, PNG)
        assert download.headers["content-type"] == "image/png"
        assert download.headers["content-disposition"] == "attachment; filename*=UTF-8''chart.png"
        assert download.headers["x-content-type-options"] == "nosniff"
        photo, pdf = [await http.get(f"{path}/inputs/{n}") for n in range(2)]
        assert (photo.content, photo.headers["content-type"]) == (PNG, "image/png")
        assert (pdf.content, pdf.headers["content-type"]) == (PDF, "application/pdf")
        assert (await http.get(f"{path}/inputs/2")).status_code == 404

    # What the task started with, as its event says (no contents, no store keys).
    events = await media_stack.events(task["task_id"])
    started = events[0]["data"]["parts"]
    assert [(p["type"], p["media_type"], p["name"], p["size"]) for p in started] == [
        ("image", "image/png", "photo.png", len(PNG)),
        ("file", "application/pdf", "report.pdf", len(PDF)),
    ]
    assert started[1]["url"] == tool_server.base_url + "/files/report.pdf"
    (created,) = [e["data"] for e in events if e["event"] == "artifact.created"]
    assert base64.b64decode(created["content"]) == PNG  # small: whole in the event
    assert "blob" not in created and "blob" not in started[0]


@pytest.mark.parametrize(
    ("provider", "parts", "status", "code", "says"),
    [
        (
            "ollama",
            [{"type": "image", "data": PNG_DATA, "media_type": "image/png"}],
            400,
            "unsupported_content",
            "user_message.1: the task's model does not read image/png",
        ),
        (
            "gemini",
            [{"type": "image", "data": PNG_DATA, "media_type": "image/gif"}],
            400,
            "unsupported_content",
            "user_message.1: the task's model does not read image/gif",
        ),
        (
            "openai",
            [{"type": "file", "data": PNG_DATA, "media_type": "application/zip"}],
            400,
            "unsupported_content",
            "user_message.1: media type application/zip is not taken here",
        ),
        (
            "openai",
            [
                {
                    "type": "image",
                    "data": base64.b64encode(b"x" * 5000).decode(),
                    "media_type": "image/png",
                }
            ],
            400,
            "invalid_request",
            "user_message.1: 5000 bytes, more than executor.inputs.max_part_bytes (4096)",
        ),
        (
            "openai",
            [{"type": "file", "url": "{tools}/files/missing.pdf"}],
            400,
            "invalid_request",
            "user_message.1.url: {tools}/files/missing.pdf answered HTTP 404",
        ),
        (
            "openai",
            [{"type": "image", "url": "http://10.0.0.7/cat.png"}],
            400,
            "invalid_request",
            "user_message.1.url: cannot fetch http://10.0.0.7/cat.png: ",
        ),
        (
            "openai",
            [{"type": "image", "url": "{tools}/files/report.pdf"}],
            400,
            "invalid_request",
            "user_message.1: an image's media type is image/..., not application/pdf",
        ),
        (
            "openai",
            [{"type": "image", "data": "not base64!", "media_type": "image/png"}],
            422,
            "invalid_request",
            "user_message.parts.1.image: data is not base64",
        ),
    ],
    ids=[
        "text-only-model",
        "gif-to-gemini",
        "type-not-taken",
        "too-big",
        "url-404",
        "private-address",
        "not-an-image",
        "not-base64",
    ],
)
async def test_what_cannot_be_taken_is_refused_naming_the_part(
    media_stack: Stack,
    tool_server: FakeServer,
    provider: str,
    parts: list[dict[str, Any]],
    status: int,
    code: str,
    says: str,
) -> None:
    body = {
        "user_message": [
            {"type": "text", "text": "look"},
            *[
                {k: str(v).replace("{tools}", tool_server.base_url) for k, v in p.items()}
                for p in parts
            ],
        ],
        "model_config": {"provider": provider, "model": "some-model"},
    }
    response = await media_stack.http.post("/api/v1/execute", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    assert error["message"].startswith(says.replace("{tools}", tool_server.base_url)), error


async def test_a_structured_answer_is_a_data_artifact(
    media_stack: Stack, openai_fake: FakeServer
) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    format = {"type": "json_schema", "json_schema": {"name": "place", "schema": schema}}
    model = {"provider": "openai", "model": "gpt-4o-mini", "response_format": format}
    fake = FakeControl(openai_fake.base_url)
    fake.enqueue({"content": '{"city": "Lyon"}'}, {"content": "not JSON: cut short"})
    body = {"user_message": "Where? [no tools]", "model_config": model}
    done = (await media_stack.http.post("/api/v1/execute?wait=true", json=body)).json()
    (artifact,) = done["artifacts"]
    assert (artifact["artifact_id"], artifact["type"], artifact["media_type"]) == (
        "result",
        "data",
        "application/json",
    )
    path = f"/api/v1/tasks/{done['task_id']}/artifacts/result"
    assert (await media_stack.http.get(path)).json() == {"city": "Lyon"}
    events = await media_stack.events(done["task_id"])
    (created,) = [e["data"] for e in events if e["event"] == "artifact.created"]
    assert created["data"] == {"city": "Lyon"}
    # An answer that is not JSON (cut off by the token limit, say) makes no artifact.
    cut = (await media_stack.http.post("/api/v1/execute?wait=true", json=body)).json()
    assert cut["status"] == "completed" and cut["artifacts"] == []


async def test_a_schedules_template_takes_no_files(media_stack: Stack) -> None:
    """A run's task starts from a workflow, where nothing stores a message's files."""
    template = {
        "user_message": [{"type": "image", "data": PNG_DATA, "media_type": "image/png"}],
        "model_config": {"provider": "openai", "model": "gpt-4o-mini"},
    }
    body = {"schedule_id": "with-files", "template": template, "interval": "1h"}
    response = await media_stack.http.post("/api/v1/schedules", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"].startswith(
        "template.user_message: a template's message is text"
    )
