"""`OpenAIProvider`, `OpenAICompatibleProvider` and `AzureOpenAIProvider` through the official
SDK against the local OpenAI wire fake (whose Azure routes serve the last)."""

from __future__ import annotations

import email.utils
import time
from collections.abc import AsyncIterator, Iterator
from functools import partial
from typing import Any

import httpx
import pytest

from temporal_executor.config import ProviderConfig
from temporal_executor.errors import ConfigError, ProviderError, ProviderNotConfiguredError
from temporal_executor.llm import Message
from temporal_executor.llm.azure import AzureOpenAIProvider
from temporal_executor.llm.openai import OpenAICompatibleProvider, OpenAIProvider
from tests.fakes.openai_fake import openai_fake_server
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
    control,
    counted,
    counted_usage,
    failure,
    refused_url,
    wrong_key_error,
)

KEY = "sk-fake-test-key"
KEY_ENV = "TEST_FAKE_OPENAI_KEY"
MODEL = "gpt-4o-mini"
user = partial(ask, MODEL)


@pytest.fixture(scope="session")
def server() -> Iterator[FakeServer]:
    with openai_fake_server(api_key=KEY) as running:
        yield running


@pytest.fixture(autouse=True)
def environment(sdk_environment: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)


def make_provider(base_url: str, key_env: str = KEY_ENV, **config: Any) -> OpenAIProvider:
    config["base_url"] = base_url
    return OpenAIProvider(ProviderConfig(name="openai", api_key_env=key_env, config=config))


@pytest.fixture
async def provider(server: FakeServer) -> AsyncIterator[OpenAIProvider]:
    adapter = make_provider(server.url)
    yield adapter
    await adapter.aclose()


# --- answers ---------------------------------------------------------------------------------


@BOTH
async def test_plain_answer(provider: OpenAIProvider, fake: FakeControl, stream: bool) -> None:
    response, deltas = await complete(provider, user("hello there, friend"), stream)

    assert response.message.role == "assistant"
    assert response.message.content == "Echo: hello there, friend"
    assert response.message.tool_calls == []
    assert response.finish_reason == "stop"
    if stream:
        assert len(deltas) > 1
    sent = fake.requests()[-1]
    assert sent["model"] == MODEL
    assert sent["messages"] == [{"role": "user", "content": "hello there, friend"}]
    assert "tools" not in sent and "temperature" not in sent and "max_tokens" not in sent
    assert sent.get("stream", False) is stream


@BOTH
async def test_usage_is_reported(provider: OpenAIProvider, stream: bool) -> None:
    response, _ = await complete(provider, counted(MODEL), stream)

    assert response.usage.model_dump() == counted_usage()


@BOTH
async def test_usage_a_server_does_not_report_is_unknown_not_zero(
    provider: OpenAIProvider, fake: FakeControl, stream: bool
) -> None:
    fake.enqueue({"usage": False})  # as llama.cpp's server: no usage, even when asked

    response, _ = await complete(provider, user("hello"), stream)

    assert response.message.content == "Echo: hello"
    assert response.usage.unreported == 1 and response.usage.total_tokens == 0
    assert response.usage.report().total_tokens is None
    if stream:
        assert fake.requests()[-1]["stream_options"] == {"include_usage": True}


@BOTH
async def test_cached_prompt_tokens_are_reported(
    provider: OpenAIProvider, fake: FakeControl, stream: bool
) -> None:
    fake.enqueue({"content": "from the cache", "cache_read_tokens": 3})

    response, _ = await complete(provider, user("a prompt of some length"), stream)

    assert response.usage.cache_read_tokens == 3
    assert response.usage.prompt_tokens >= 3 and response.usage.cache_creation_tokens == 0


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("o1", "max_completion_tokens"),
        ("o3-mini", "max_completion_tokens"),
        ("o4-mini-2025-04-16", "max_completion_tokens"),
        ("gpt-5", "max_completion_tokens"),
        ("gpt-5.4-mini", "max_completion_tokens"),
        ("gpt-4o-mini", "max_tokens"),
        ("gpt-4.1", "max_tokens"),
    ],
)
async def test_reasoning_models_get_max_completion_tokens(
    provider: OpenAIProvider, fake: FakeControl, model: str, key: str
) -> None:
    request = user("hi", max_tokens=64)
    request.model = model
    await provider.chat(request)

    sent = fake.requests()[-1]
    assert sent[key] == 64
    assert len({"max_tokens", "max_completion_tokens"} & set(sent)) == 1


# --- tool calls ------------------------------------------------------------------------------


@BOTH
async def test_tool_call_round_trip(
    provider: OpenAIProvider, fake: FakeControl, stream: bool
) -> None:
    first, deltas = await complete(provider, user("weather in Paris", TOOLS), stream)

    assert first.finish_reason == "tool_calls"
    assert first.message.content is None and deltas == []
    [call] = first.message.tool_calls
    assert call.id.startswith("call_") and call.name == "search"
    assert call.arguments == {"query": "weather in Paris"} and call.arguments_error is None
    sent = fake.requests()[-1]
    assert sent["tools"][0] == {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Search the web",
            "parameters": {"type": "object"},
        },
    }
    assert sent["tools"][1]["function"]["parameters"] == {"type": "object", "properties": {}}

    result = Message(role="tool", tool_call_id=call.id, name="search", content="sunny")
    request = user("weather in Paris", TOOLS)
    request.messages += [first.message, result]
    second, _ = await complete(provider, request, stream)

    assert second.message.content == "Tool results: search=sunny"
    assert second.finish_reason == "stop"
    assistant, tool = fake.requests()[-1]["messages"][1:]
    assert assistant["tool_calls"] == [
        {
            "id": call.id,
            "type": "function",
            "function": {"name": "search", "arguments": '{"query": "weather in Paris"}'},
        }
    ]
    assert tool == {"role": "tool", "content": "sunny", "tool_call_id": call.id}


@BOTH
async def test_two_tool_calls_in_one_turn(provider: OpenAIProvider, stream: bool) -> None:
    first, _ = await complete(provider, user("compare [two tools]", TOOLS), stream)

    assert [c.name for c in first.message.tool_calls] == ["search", "fetch"]
    assert len({c.id for c in first.message.tool_calls}) == 2
    assert all(c.arguments == {"query": "compare [two tools]"} for c in first.message.tool_calls)

    search, fetch = first.message.tool_calls
    request = user("compare [two tools]", TOOLS)
    request.messages += [
        first.message,
        Message(role="tool", tool_call_id=search.id, content="a"),
        Message(role="tool", tool_call_id=fetch.id, content="not found", is_error=True),
    ]
    second, _ = await complete(provider, request, stream)

    assert second.message.content == "Tool results: search=a | fetch=not found"


async def test_fake_rules_for_agent_loops(provider: OpenAIProvider) -> None:
    """The fake's switches that integration tests rely on, seen through the provider."""
    no_tools = await provider.chat(user("just talk [no tools]", TOOLS))
    assert no_tools.message.content == "Echo: just talk [no tools]"

    request = user("[loop] forever", TOOLS)
    for _ in range(3):
        response = await provider.chat(request)
        [call] = response.message.tool_calls
        result = Message(role="tool", tool_call_id=call.id, content="again")
        request.messages += [response.message, result]


@BOTH
@pytest.mark.parametrize(
    ("raw", "arguments", "error"),
    [
        ('{"query": "unterminated', {}, "invalid JSON arguments from the model: "),
        ("[1, 2]", {}, "invalid JSON arguments from the model: expected a JSON object"),
        ("", {}, None),
    ],
    ids=["invalid", "not-object", "empty"],
)
async def test_bad_tool_arguments_are_reported_not_raised(
    provider: OpenAIProvider,
    fake: FakeControl,
    stream: bool,
    raw: str,
    arguments: dict[str, Any],
    error: str | None,
) -> None:
    fake.enqueue({"tool_calls": [{"name": "search", "arguments": raw}]})

    response, _ = await complete(provider, user("go", TOOLS), stream)

    [call] = response.message.tool_calls
    assert_arguments(call, arguments, error)


async def test_stream_delivers_text_as_it_arrives(
    provider: OpenAIProvider, fake: FakeControl
) -> None:
    await assert_stream_arrives_over_time(provider, fake, user("a b c d e"))


# --- failures --------------------------------------------------------------------------------


@BOTH
@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"retry-after": "1"}, 1.0), ({"retry-after-ms": "1500"}, 1.5), ({}, None)],
    ids=["seconds", "milliseconds", "none"],
)
async def test_rate_limit_is_retryable_with_retry_after(
    provider: OpenAIProvider,
    fake: FakeControl,
    stream: bool,
    headers: dict[str, str],
    expected: float | None,
) -> None:
    body = {"error": {"message": "Rate limit reached", "type": "requests", "code": None}}
    fake.enqueue({"status": 429, "headers": headers, "body": body})

    error = await failure(provider, user("hi"), stream)

    assert error.retryable and error.status == 429 and error.retry_after == expected
    assert str(error) == "openai: 429 Rate limit reached"
    assert isinstance(error.__cause__, Exception)


async def test_retry_after_as_http_date(provider: OpenAIProvider, fake: FakeControl) -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    fake.enqueue({"status": 503, "headers": {"retry-after": when}})

    error = await failure(provider, user("hi"), stream=False)

    assert error.retryable and error.retry_after is not None and 25 <= error.retry_after <= 31


@BOTH
@pytest.mark.parametrize(
    ("status", "retryable"),
    [(500, True), (502, True), (409, True), (400, False), (403, False), (404, False), (422, False)],
)
async def test_status_errors(
    provider: OpenAIProvider, fake: FakeControl, stream: bool, status: int, retryable: bool
) -> None:
    body = {"error": {"message": f"problem {status}", "type": "x", "param": None, "code": None}}
    fake.enqueue({"status": status, "body": body})

    error = await failure(provider, user("hi"), stream)

    assert error.retryable is retryable and error.status == status
    assert str(error) == f"openai: {status} problem {status}"
    assert error.retry_after is None


@BOTH
async def test_wrong_key_is_not_retryable_and_not_echoed(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    wrong = "sk-wrong-key-123"
    build = partial(make_provider, server.url)

    error = await wrong_key_error(monkeypatch, build, wrong, user("hi"), stream)

    assert error.status == 401
    assert "Incorrect API key" in str(error)


async def test_missing_key(
    server: FakeServer, fake: FakeControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV)
    provider = make_provider(server.url)

    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-sdk-environment")

    with pytest.raises(ProviderNotConfiguredError):
        provider.check()
    error = await failure(provider, user("hi"), stream=False)
    assert not error.retryable
    assert str(error) == f"openai: missing credentials: environment variable {KEY_ENV} is not set"
    assert fake.requests() == [], "no fallback to OPENAI_API_KEY"


def test_fake_requires_a_bearer_key(server: FakeServer) -> None:
    response = httpx.post(f"{server.url}/chat/completions", json={"model": MODEL})

    assert response.status_code == 401
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


async def test_malformed_reply(provider: OpenAIProvider, fake: FakeControl) -> None:
    fake.enqueue({"malformed": True}, {"truncate": True})

    no_choices = await failure(provider, user("hi"), stream=False)
    cut_json = await failure(provider, user("hi"), stream=False)

    assert not no_choices.retryable and "malformed reply" in str(no_choices)
    assert not cut_json.retryable and "malformed reply" in str(cut_json)


async def test_truncated_stream_is_retryable(provider: OpenAIProvider, fake: FakeControl) -> None:
    fake.enqueue({"truncate": True})
    texts: list[str] = []

    with pytest.raises(ProviderError) as caught:
        async for chunk in provider.chat_stream(user("one two three four five six")):
            assert chunk.response is None
            texts.append(chunk.text)

    assert caught.value.retryable
    assert str(caught.value) == "openai: stream ended before the model finished"
    assert texts, "the deltas before the cut were delivered"


@pytest.mark.parametrize(
    ("fault", "retryable", "says"),
    [
        ("error", True, "openai: error in stream: The server had an error"),
        ("garbage", False, "openai: malformed reply"),
        ("shape", False, "openai: malformed reply: choices that is not a list"),
    ],
)
async def test_stream_that_goes_wrong_midway(
    provider: OpenAIProvider, fake: FakeControl, fault: str, retryable: bool, says: str
) -> None:
    """Chunks are read as plain JSON (not the SDK's models): an error event, a chunk that
    is not JSON and one of the wrong shape are each a clear ProviderError."""
    fake.enqueue({"fault": fault})
    with pytest.raises(ProviderError) as caught:
        async for _ in provider.chat_stream(user("one two three four five six")):
            pass
    assert caught.value.retryable is retryable
    assert str(caught.value).startswith(says)


async def test_connection_refused_is_retryable() -> None:
    provider = make_provider(f"{refused_url()}/v1")

    error = await failure(provider, user("hi"), stream=False)

    assert error.retryable and error.status is None
    await provider.aclose()


async def test_timeout_is_retryable(server: FakeServer, fake: FakeControl) -> None:
    await assert_timeout_is_retryable(make_provider(server.url, timeout=0.2), fake, user("hi"))


async def test_client_is_recreated_after_aclose(provider: OpenAIProvider) -> None:
    await provider.chat(user("one"))
    await provider.aclose()

    response = await provider.chat(user("two"))

    assert response.message.content == "Echo: two"


# --- OpenAI-compatible servers (openai-compatible, ollama) -----------------------------------


def compatible(name: str, url: str | None, key_env: str | None = None) -> OpenAIProvider:
    config = {"base_url": url} if url else {}
    return OpenAICompatibleProvider(ProviderConfig(name=name, api_key_env=key_env, config=config))


async def test_compatible_needs_base_url_and_ignores_the_sdk_environment(
    monkeypatch: pytest.MonkeyPatch, server: FakeServer, fake: FakeControl
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)

    # A config mistake: the service does not start (the same check runs at start-up).
    with pytest.raises(ConfigError) as caught:
        compatible("ollama", None)

    assert str(caught.value) == "config: llm.providers.ollama.config.base_url: Field required"
    assert fake.requests() == []


async def test_compatible_without_a_key_sends_a_placeholder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leave-this-host")
    with openai_fake_server(api_key="unused") as local:
        provider = compatible("ollama", local.url)
        provider.check()
        request = user("hi", max_tokens=10)
        request.model = "o3-mini"  # any name goes, and max_tokens stays max_tokens
        response = await provider.chat(request)
        await provider.aclose()
        [sent] = FakeControl(local.base_url).requests()

    assert response.message.content == "Echo: hi"
    assert sent["max_tokens"] == 10 and "max_completion_tokens" not in sent
    assert OpenAICompatibleProvider.supported_models == ()


async def test_compatible_with_a_key(
    server: FakeServer, fake: FakeControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = compatible("openai-compatible", server.url, key_env=KEY_ENV)
    fake.enqueue({"status": 429, "headers": {"retry-after": "1"}})

    provider.check()
    limited = await failure(provider, user("hi"), stream=True)
    response = await provider.chat(user("hi"))
    monkeypatch.delenv(KEY_ENV)
    unset = compatible("openai-compatible", server.url, key_env=KEY_ENV)
    with pytest.raises(ProviderNotConfiguredError):
        unset.check()
    missing = await failure(unset, user("hi"), stream=False)
    await provider.aclose()

    assert str(limited) == "openai-compatible: 429 canned error 429" and limited.retry_after == 1
    assert response.message.content == "Echo: hi"
    assert not missing.retryable and f"{KEY_ENV} is not set" in str(missing)
    assert len(fake.requests()) == 2


# --- Azure OpenAI ----------------------------------------------------------------------------

TOKEN = "entra-id-token-for-tests"
TOKEN_ENV = "TEST_FAKE_AZURE_TOKEN"
API_VERSION = "2024-10-21"


@pytest.fixture(scope="module")
def azure_server() -> Iterator[FakeServer]:
    with openai_fake_server(KEY, ad_token=TOKEN, deployments=["chat-prod", "o3-prod"]) as running:
        yield running


@pytest.fixture
def azure_fake(azure_server: FakeServer) -> FakeControl:
    return control(azure_server)


def azure(endpoint: str | None, key_env: str | None = KEY_ENV, **config: Any) -> OpenAIProvider:
    config.setdefault("api_version", API_VERSION)
    config.setdefault("deployments", {MODEL: "chat-prod", "o3": "o3-prod"})
    if endpoint:
        config["endpoint"] = endpoint
    config = {k: v for k, v in config.items() if v is not None}
    return AzureOpenAIProvider(
        ProviderConfig(name="azure-openai", api_key_env=key_env, config=config)
    )


@BOTH
async def test_azure_sends_the_model_to_its_deployment(
    azure_server: FakeServer, azure_fake: FakeControl, stream: bool
) -> None:
    provider = azure(azure_server.base_url)
    provider.check()

    response, _ = await complete(provider, user("hello azure"), stream)
    reasoning = user("think", max_tokens=100)
    reasoning.model = "o3"
    await complete(provider, reasoning, stream)
    await provider.aclose()

    assert response.message.content == "Echo: hello azure"
    first, second = azure_fake.requests()
    assert first["_azure"] == {
        "deployment": "chat-prod",
        "api_version": API_VERSION,
        "auth": "api-key",
    }
    assert first["_http"]["path"] == "/openai/deployments/chat-prod/chat/completions"
    assert second["_azure"]["deployment"] == "o3-prod"
    assert second["max_completion_tokens"] == 100 and "max_tokens" not in second
    assert AzureOpenAIProvider.supported_models == OpenAIProvider.supported_models


async def test_azure_entra_id_token(
    azure_server: FakeServer, azure_fake: FakeControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    provider = azure(azure_server.base_url, key_env=None, azure_ad_token_env=TOKEN_ENV)
    provider.check()

    response = await provider.chat(user("hi"))
    await provider.aclose()
    monkeypatch.setenv(TOKEN_ENV, "expired-token")
    expired = azure(azure_server.base_url, key_env=None, azure_ad_token_env=TOKEN_ENV)
    error = await failure(expired, user("hi"), stream=False)
    await expired.aclose()

    assert response.message.content == "Echo: hi"
    assert azure_fake.requests()[0]["_azure"]["auth"] == "bearer"
    assert not error.retryable and error.status == 401 and "expired-token" not in str(error)


@BOTH
async def test_azure_unknown_deployment(
    azure_server: FakeServer, azure_fake: FakeControl, stream: bool
) -> None:
    provider = azure(azure_server.base_url)
    request = user("hi")
    request.model = "gpt-4.1"  # not in `deployments`: its own name, which does not exist

    error = await failure(provider, request, stream)
    await provider.aclose()

    assert not error.retryable and error.status == 404
    assert str(error).startswith("azure-openai: 404 The API deployment for this resource")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"endpoint": None}, "llm.providers.azure-openai.config.endpoint: Field required"),
        ({"api_version": None}, "llm.providers.azure-openai.config.api_version: Field required"),
        ({"key_env": None}, "set api_key_env (an API key) or config.azure_ad_token_env"),
        ({"azure_ad_token_env": TOKEN_ENV}, "set api_key_env or config.azure_ad_token_env, not"),
        ({"deployments": ["chat-prod"]}, "config.deployments: Input should be a valid dict"),
    ],
    ids=["endpoint", "api-version", "no-credentials", "two-credentials", "map"],
)
def test_azure_configuration_errors(
    azure_server: FakeServer,
    azure_fake: FakeControl,
    monkeypatch: pytest.MonkeyPatch,
    change: dict[str, Any],
    message: str,
) -> None:
    # The SDK's own variables must not stand in for the config.
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", azure_server.base_url)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_API_VERSION", API_VERSION)
    settings: dict[str, Any] = {"endpoint": azure_server.base_url, "key_env": KEY_ENV} | change

    # A config mistake: the service does not start (the same check runs at start-up).
    with pytest.raises(ConfigError) as caught:
        azure(settings.pop("endpoint"), settings.pop("key_env"), **settings)

    assert str(caught.value).startswith("config: llm.providers.azure-openai.config")
    assert message in str(caught.value)
    assert azure_fake.requests() == []


async def test_azure_token_variable_unset(
    azure_server: FakeServer, azure_fake: FakeControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_UNSET_TOKEN", raising=False)
    provider = azure(azure_server.base_url, None, azure_ad_token_env="TEST_UNSET_TOKEN")
    message = "environment variable TEST_UNSET_TOKEN is not set"

    with pytest.raises(ProviderNotConfiguredError) as caught:
        provider.check()
    error = await failure(provider, user("hi"), stream=False)

    assert str(caught.value).startswith("provider 'azure-openai': ")
    assert message in str(caught.value)
    assert not error.retryable and message in str(error)
    assert azure_fake.requests() == []
