"""`AnthropicProvider` and `AnthropicVertexProvider` through the official SDK against the local
Anthropic wire fake."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from temporal_executor.config import ProviderConfig
from temporal_executor.errors import ConfigError, ProviderError, ProviderNotConfiguredError
from temporal_executor.llm import LLMRequest, Message
from temporal_executor.llm.anthropic import AnthropicProvider
from temporal_executor.llm.catalog import PROVIDERS
from temporal_executor.llm.vertex import AnthropicVertexProvider
from tests.fakes.anthropic_fake import anthropic_fake_server
from tests.fakes.rules import FakeControl
from tests.fakes.server import FakeServer
from tests.llm.conftest import (
    BOTH,
    TOOLS,
    ask,
    assert_arguments,
    assert_stream_arrives_over_time,
    assert_timeout_is_retryable,
    complete,
    counted,
    counted_usage,
    failure,
    refused_url,
    wrong_key_error,
)

KEY = "sk-ant-fake-test-key"
KEY_ENV = "TEST_FAKE_ANTHROPIC_KEY"
TOKEN = "ya29.fake-access-token"
TOKEN_ENV = "TEST_FAKE_VERTEX_TOKEN"
MODEL = "claude-sonnet-4-6"
user = partial(ask, MODEL)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with anthropic_fake_server(api_key=KEY, access_token=TOKEN) as running:
        yield running


@pytest.fixture(autouse=True)
def environment(sdk_environment: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No SDK configuration file either: the SDK's config directory is empty."""
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.setenv(TOKEN_ENV, TOKEN)


def make_provider(base_url: str, key_env: str | None = KEY_ENV, **config: Any) -> AnthropicProvider:
    config["base_url"] = base_url
    return AnthropicProvider(ProviderConfig(name="anthropic", api_key_env=key_env, config=config))


def make_vertex(server: FakeServer, **config: Any) -> AnthropicVertexProvider:
    settings = {
        "base_url": f"{server.base_url}/v1",
        "project_id": "my-project",
        "location": "us-east5",
        "access_token_env": TOKEN_ENV,
    }
    return AnthropicVertexProvider(ProviderConfig(name="vertexai", config=settings | config))


@pytest.fixture
async def provider(server: FakeServer, fake: FakeControl) -> AsyncIterator[AnthropicProvider]:
    """The wire as it is without prompt caching (`test_anthropic_thinking.py` has that)."""
    adapter = make_provider(server.url, prompt_cache=False)
    yield adapter
    await adapter.aclose()


@pytest.fixture
async def vertex(server: FakeServer, fake: FakeControl) -> AsyncIterator[AnthropicVertexProvider]:
    adapter = make_vertex(server)
    yield adapter
    await adapter.aclose()


# --- answers ---------------------------------------------------------------------------------


@BOTH
async def test_plain_answer(provider: AnthropicProvider, fake: FakeControl, stream: bool) -> None:
    response, deltas = await complete(provider, user("hello there, friend"), stream)

    assert response.message.role == "assistant"
    assert response.message.content == "Echo: hello there, friend"
    assert response.message.tool_calls == [] and response.finish_reason == "stop"
    if stream:
        assert len(deltas) > 1
    sent = fake.requests()[-1]
    assert sent["model"] == MODEL and sent["max_tokens"] == 4096
    assert sent["messages"] == [{"role": "user", "content": "hello there, friend"}]
    for absent in ("system", "tools", "temperature", "top_p", "stop_sequences", "output_config"):
        assert absent not in sent
    assert sent.get("stream", False) is stream


@BOTH
async def test_system_messages_go_to_the_system_parameter(
    provider: AnthropicProvider, fake: FakeControl, stream: bool
) -> None:
    request = LLMRequest(
        model=MODEL,
        messages=[
            Message(role="system", content="be brief"),
            Message(role="system", content="be kind"),
            Message(role="user", content="first"),
            Message(role="assistant", content="Echo: first"),
            Message(role="user", content="second"),
        ],
    )
    response, _ = await complete(provider, request, stream)

    assert response.message.content == "Echo: second"
    sent = fake.requests()[-1]
    assert sent["system"] == "be brief\n\nbe kind"
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]


async def test_sampling_settings_and_response_format(
    provider: AnthropicProvider, fake: FakeControl
) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    response_format = {"type": "json_schema", "json_schema": {"name": "a", "schema": schema}}
    request = user(
        "hi",
        temperature=0.2,
        max_tokens=50,
        top_p=0.9,
        stop=["END"],
        response_format=response_format,
    )
    await provider.chat(request)
    await provider.chat(user("hi", response_format={"type": "json_object"}))

    with_settings, json_object = fake.requests()[-2:]
    assert (with_settings["temperature"], with_settings["top_p"]) == (0.2, 0.9)
    assert with_settings["max_tokens"] == 50 and with_settings["stop_sequences"] == ["END"]
    assert with_settings["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert "output_config" not in json_object, "json_object has no equivalent: dropped"


async def test_default_max_tokens_from_config(server: FakeServer, fake: FakeControl) -> None:
    provider = make_provider(server.url, default_max_tokens=1000)

    await provider.chat(user("hi"))
    await provider.aclose()

    assert fake.requests()[-1]["max_tokens"] == 1000


@BOTH
async def test_usage_counts_cached_prompt_tokens(
    provider: AnthropicProvider, fake: FakeControl, stream: bool
) -> None:
    fake.enqueue({}, {"cache_read_tokens": 2, "cache_creation_tokens": 1})

    plain, _ = await complete(provider, counted(MODEL), stream)
    cached, _ = await complete(provider, counted(MODEL), stream)

    assert plain.usage.model_dump() == counted_usage()
    # Anthropic's input_tokens (2) leave out the cache reads (2) and writes (1).
    assert cached.usage.model_dump() == counted_usage(cache_read=2, cache_creation=1)


# --- tool calls ------------------------------------------------------------------------------


@BOTH
async def test_tool_call_round_trip(
    provider: AnthropicProvider, fake: FakeControl, stream: bool
) -> None:
    first, deltas = await complete(provider, user("weather in Paris", TOOLS), stream)

    assert first.finish_reason == "tool_calls"
    assert first.message.content is None and deltas == []
    [call] = first.message.tool_calls
    assert call.id.startswith("toolu_") and call.name == "search"
    assert call.arguments == {"query": "weather in Paris"} and call.arguments_error is None
    sent_tools = fake.requests()[-1]["tools"]
    assert sent_tools == [
        {"name": "search", "description": "Search the web", "input_schema": {"type": "object"}},
        {
            "name": "fetch",
            "description": "Fetch a page",
            "input_schema": {"type": "object", "properties": {}},
        },
    ]

    result = Message(role="tool", tool_call_id=call.id, name="search", content="sunny")
    request = user("weather in Paris", TOOLS)
    request.messages += [first.message, result]
    second, _ = await complete(provider, request, stream)

    assert second.message.content == "Tool results: search=sunny"
    assert second.finish_reason == "stop"
    assistant, tool = fake.requests()[-1]["messages"][1:]
    assert assistant == {
        "role": "assistant",
        "content": [
            {
                "type": "tool_use",
                "id": call.id,
                "name": "search",
                "input": {"query": "weather in Paris"},
            }
        ],
    }
    assert tool == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}],
    }


@BOTH
async def test_two_tool_results_travel_in_one_user_message(
    provider: AnthropicProvider, fake: FakeControl, stream: bool
) -> None:
    first, _ = await complete(provider, user("compare [two tools]", TOOLS), stream)

    search, fetch = first.message.tool_calls
    assert (search.name, fetch.name) == ("search", "fetch") and search.id != fetch.id
    request = user("compare [two tools]", TOOLS)
    request.messages += [
        first.message,
        Message(role="tool", tool_call_id=search.id, content="a"),
        Message(role="tool", tool_call_id=fetch.id, content="not found", is_error=True),
    ]
    second, _ = await complete(provider, request, stream)

    assert second.message.content == "Tool results: search=a | fetch=not found"
    sent = fake.requests()[-1]["messages"]
    assert len(sent) == 3
    assert sent[2] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": search.id, "content": "a"},
            {
                "type": "tool_result",
                "tool_use_id": fetch.id,
                "content": "not found",
                "is_error": True,
            },
        ],
    }


async def test_empty_messages_are_left_out(provider: AnthropicProvider, fake: FakeControl) -> None:
    """The API rejects empty text blocks; the fake checks that as it does."""
    first = await provider.chat(user("look [loop]", TOOLS))
    [call] = first.message.tool_calls
    request = LLMRequest(
        model=MODEL,
        messages=[
            Message(role="system", content=""),
            Message(role="user", content="look [loop]"),
            Message(role="assistant", content="", tool_calls=first.message.tool_calls),
            Message(role="tool", tool_call_id=call.id, content=""),
            Message(role="assistant", content="  "),
            Message(role="user", content="and now? [no tools]"),
        ],
        tools=TOOLS,
    )

    await provider.chat(request)

    sent = fake.requests()[-1]
    assert "system" not in sent
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user", "user"]
    assert sent["messages"][1]["content"][0]["type"] == "tool_use"
    assert sent["messages"][2]["content"] == [{"type": "tool_result", "tool_use_id": call.id}]


def test_streamed_tool_input_arrives_in_pieces(server: FakeServer, fake: FakeControl) -> None:
    """The wire format the stream test relies on, read without the SDK."""
    body = {
        "model": MODEL,
        "max_tokens": 100,
        "stream": True,
        "messages": [{"role": "user", "content": "weather in Paris"}],
        "tools": [{"name": "search", "input_schema": {"type": "object"}}],
    }
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
    response = httpx.post(f"{server.url}/v1/messages", json=body, headers=headers)

    lines = [line for line in response.text.splitlines() if line]
    names = [line.removeprefix("event: ") for line in lines if line.startswith("event: ")]
    events = [json.loads(line.removeprefix("data: ")) for line in lines if line.startswith("data")]
    assert names == [e["type"] for e in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    pieces = [e["delta"]["partial_json"] for e in events if e["type"] == "content_block_delta"]
    assert pieces[0] == "" and len(pieces) > 2
    assert json.loads("".join(pieces)) == {"query": "weather in Paris"}
    assert events[-2]["delta"]["stop_reason"] == "tool_use"


@BOTH
@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ('{"query": "unterminated', "invalid JSON arguments from the model: "),
        ("", None),
    ],
    ids=["invalid", "empty"],
)
async def test_bad_tool_input_is_reported_not_raised(
    provider: AnthropicProvider,
    fake: FakeControl,
    stream: bool,
    raw: str,
    error: str | None,
) -> None:
    fake.enqueue({"tool_calls": [{"name": "search", "arguments": raw}]})

    response, _ = await complete(provider, user("go", TOOLS), stream)

    # Without a stream the fake sends unparsable text as a string `input`: not an object.
    [call] = response.message.tool_calls
    assert_arguments(call, {}, error)


async def test_stream_delivers_text_as_it_arrives(
    provider: AnthropicProvider, fake: FakeControl
) -> None:
    await assert_stream_arrives_over_time(provider, fake, user("a b c d e"))


# --- failures --------------------------------------------------------------------------------


@BOTH
async def test_rate_limit_is_retryable_with_retry_after(
    provider: AnthropicProvider, fake: FakeControl, stream: bool
) -> None:
    body = {"type": "error", "error": {"type": "rate_limit_error", "message": "Rate limited"}}
    fake.enqueue({"status": 429, "headers": {"retry-after": "1"}, "body": body})

    error = await failure(provider, user("hi"), stream)

    assert error.retryable and error.status == 429 and error.retry_after == 1.0
    assert str(error) == "anthropic: 429 Rate limited"
    assert isinstance(error.__cause__, Exception)


@BOTH
@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (529, True),
        (500, True),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (413, False),
        (422, False),
    ],
)
async def test_status_errors(
    provider: AnthropicProvider,
    fake: FakeControl,
    stream: bool,
    status: int,
    retryable: bool,
) -> None:
    fake.enqueue({"status": status})

    error = await failure(provider, user("hi"), stream)

    assert error.retryable is retryable and error.status == status
    assert str(error) == f"anthropic: {status} canned error {status}"
    assert error.retry_after is None


@pytest.mark.parametrize(
    ("kind", "retryable"),
    [("overloaded_error", True), ("api_error", True), ("invalid_request_error", False)],
)
async def test_error_event_in_stream(
    provider: AnthropicProvider, fake: FakeControl, kind: str, retryable: bool
) -> None:
    fake.enqueue({"stream_error": kind})
    texts: list[str] = []

    with pytest.raises(ProviderError) as caught:
        async for chunk in provider.chat_stream(user("one two three four")):
            texts.append(chunk.text)

    assert caught.value.retryable is retryable
    assert str(caught.value) == f"anthropic: error in stream: {kind}: canned {kind}"
    assert texts == ["Echo: "], "the text before the error was delivered"


@BOTH
async def test_wrong_key_is_not_retryable_and_not_echoed(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    wrong = "sk-ant-wrong-key-123"
    build = partial(make_provider, server.url)

    error = await wrong_key_error(monkeypatch, build, wrong, user("hi"), stream)

    assert error.status == 401
    assert "invalid x-api-key" in str(error)


async def test_missing_key(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-the-sdk-environment")
    provider = make_provider(server.url)

    with pytest.raises(ProviderNotConfiguredError):
        provider.check()
    error = await failure(provider, user("hi"), stream=False)
    assert (
        not error.retryable
        and str(error) == f"anthropic: environment variable {KEY_ENV} is not set"
    )


def test_fake_requires_a_key(server: FakeServer) -> None:
    body = {"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"anthropic-version": "2023-06-01"}

    missing = httpx.post(f"{server.url}/v1/messages", json=body, headers=headers)
    documented = httpx.post(
        f"{server.url}/v1/messages", json=body, headers=headers | {"x-api-key": KEY}
    )

    assert missing.status_code == 401
    assert missing.json()["type"] == "error"
    assert missing.json()["error"]["type"] == "authentication_error"
    assert documented.status_code == 200 and documented.json()["content"][0]["type"] == "text"


@BOTH
async def test_malformed_reply(
    provider: AnthropicProvider, fake: FakeControl, stream: bool
) -> None:
    fake.enqueue({"malformed": True})

    error = await failure(provider, user("hi"), stream)

    assert not error.retryable and "malformed reply" in str(error)


async def test_reply_cut_short(provider: AnthropicProvider, fake: FakeControl) -> None:
    fake.enqueue({"truncate": True})

    error = await failure(provider, user("hi"), stream=False)

    assert not error.retryable and "malformed reply" in str(error)


async def test_truncated_stream_is_retryable(
    provider: AnthropicProvider, fake: FakeControl
) -> None:
    fake.enqueue({"truncate": True})
    texts: list[str] = []

    with pytest.raises(ProviderError) as caught:
        async for chunk in provider.chat_stream(user("one two three four five six")):
            assert chunk.response is None
            texts.append(chunk.text)

    assert caught.value.retryable
    assert str(caught.value) == "anthropic: stream ended before the model finished"
    assert texts, "the deltas before the cut were delivered"


@BOTH
async def test_refusal_is_not_retryable(
    provider: AnthropicProvider, fake: FakeControl, stream: bool
) -> None:
    fake.enqueue({"stop_reason": "refusal"})

    error = await failure(provider, user("hi"), stream)

    assert not error.retryable and str(error).startswith("anthropic: content refused")


async def test_connection_refused_is_retryable() -> None:
    provider = make_provider(refused_url())

    error = await failure(provider, user("hi"), stream=False)

    assert error.retryable and error.status is None
    await provider.aclose()


async def test_timeout_is_retryable(server: FakeServer, fake: FakeControl) -> None:
    await assert_timeout_is_retryable(make_provider(server.url, timeout=0.2), fake, user("hi"))


def test_registered_by_name() -> None:
    assert PROVIDERS.load("anthropic") is AnthropicProvider


# --- Claude on Vertex AI ---------------------------------------------------------------------


@BOTH
async def test_vertex_plain_answer(
    vertex: AnthropicVertexProvider, fake: FakeControl, stream: bool
) -> None:
    vertex.check()
    response, deltas = await complete(vertex, user("hello from vertex"), stream)

    assert response.message.content == "Echo: hello from vertex"
    if stream:
        assert len(deltas) > 1
    sent = fake.requests()[-1]
    method = "streamRawPredict" if stream else "rawPredict"
    assert sent["_http"]["path"] == (
        f"/v1/projects/my-project/locations/us-east5/publishers/anthropic/models/{MODEL}:{method}"
    )
    assert "model" not in sent and sent["anthropic_version"]


async def test_vertex_wrong_token(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "ya29.wrong-token")
    provider = make_vertex(server)

    error = await failure(provider, user("hi"), stream=False)
    await provider.aclose()

    assert not error.retryable and error.status == 401
    assert "invalid authentication credentials" in str(error) and "wrong-token" not in str(error)


@pytest.mark.parametrize("missing", ["project_id", "location"])
def test_vertex_check_needs_project_and_location(server: FakeServer, missing: str) -> None:
    # A config mistake: the service does not start (the same check runs at start-up).
    with pytest.raises(ConfigError, match=rf"config\.{missing}"):
        make_vertex(server, **{missing: None})


def test_vertex_check_needs_its_token_variable(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV)
    provider = make_vertex(server)

    with pytest.raises(ProviderNotConfiguredError, match=TOKEN_ENV):
        provider.check()


def test_vertex_check_without_token_or_google_credentials(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    provider = make_vertex(server, access_token_env=None)

    with pytest.raises(ProviderNotConfiguredError, match="Application Default Credentials"):
        provider.check()
