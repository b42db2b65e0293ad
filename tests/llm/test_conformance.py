"""The provider contract (`llm/base.py`), checked the same way for every provider.

Each scenario goes ProviderRegistry → provider → the vendor's official SDK → the vendor's
wire fake over HTTP. Every fake answers by the vendor-neutral rules of `tests/fakes/rules.py`
and has its `/_fake/*` control API, so one list of `Entry`s is all that differs.

Adding a provider is one `Entry` in `ENTRIES`:
- `provider`: the name as configured (a key of `llm.registry.PROVIDERS`);
- `model`: a model name the fake accepts;
- `create_app()`: the fake's ASGI app, accepting the key `KEY` (served at the root, no path);
- `config(url)`: the `ProviderConfig` pointing at the fake, given its base URL
  (`http://127.0.0.1:PORT`), with `api_key_env=KEY_ENV` when the vendor takes a key;
- `sampling(body)`: from one recorded request (`/_fake/requests`), what was sent as
  `{"temperature", "max_tokens", "top_p", "stop", "response_format"}` (missing → None);
- `expected` (optional): values that differ from `SAMPLING` on this vendor's wire, e.g. a
  `response_format` it spells as its own schema, or None for one it does not support;
- `defaults` (optional): what the provider sends when the request leaves a setting unset,
  e.g. `{"max_tokens": 4096}` for a vendor that requires a limit.

The fake must follow `rules.py`: the neutral rules, the `/_fake/*` control API, and the
queued entries (`status` with `headers`, the default body's "canned error <status>",
`malformed`, `truncate`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from temporal_executor.config import LLMConfig, ProviderConfig
from temporal_executor.errors import ProviderError
from temporal_executor.llm import (
    LLMRequest,
    LLMResponse,
    Message,
    Provider,
    Sampling,
    ToolDefinition,
)
from temporal_executor.llm.catalog import ProviderCatalog
from temporal_executor.llm.registry import ProviderRegistry
from tests.fakes import anthropic_fake, gemini_fake, openai_fake
from tests.fakes.rules import FakeControl
from tests.fakes.server import FakeServer
from tests.llm.conftest import complete, failure

KEY = "sk-conformance-key"
KEY_ENV = "TEST_CONFORMANCE_KEY"
TOOLS = [
    ToolDefinition(
        name="search",
        description="Search the web",
        parameters={"type": "object", "properties": {"query": {"type": "string"}}},
    ),
    ToolDefinition(name="fetch", description="Fetch a page"),
]
RESPONSE_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "answer",
        "schema": {"type": "object", "properties": {"answer": {"type": "string"}}},
    },
}
SAMPLING: dict[str, Any] = {
    "temperature": 0.3,
    "max_tokens": 77,
    "top_p": 0.9,
    "stop": ["END"],
    "response_format": RESPONSE_FORMAT,
}
BOTH = pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])


@dataclass(frozen=True)
class Entry:
    """One provider under test; see the module docstring."""

    provider: str
    model: str
    create_app: Callable[[], Any]
    config: Callable[[str], ProviderConfig]
    sampling: Callable[[dict[str, Any]], dict[str, Any]]
    expected: Mapping[str, Any] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)


def openai_sampling(body: dict[str, Any]) -> dict[str, Any]:
    return {key: body.get(key) for key in SAMPLING}


def anthropic_sampling(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "temperature": body.get("temperature"),
        "max_tokens": body.get("max_tokens"),
        "top_p": body.get("top_p"),
        "stop": body.get("stop_sequences"),
        "response_format": (body.get("output_config") or {}).get("format"),
    }


def gemini_sampling(body: dict[str, Any]) -> dict[str, Any]:
    config = body.get("generationConfig") or {}
    response_format = None
    if "responseMimeType" in config:
        response_format = {
            "mime_type": config["responseMimeType"],
            "schema": config.get("responseJsonSchema"),
        }
    return {
        "temperature": config.get("temperature"),
        "max_tokens": config.get("maxOutputTokens"),
        "top_p": config.get("topP"),
        "stop": config.get("stopSequences"),
        "response_format": response_format,
    }


def vertex(url: str) -> ProviderConfig:
    """Vertex AI through an access token (the fakes accept KEY as one), so no Google ADC."""
    config = {
        "project_id": "p",
        "location": "us-east5",
        "base_url": url,
        "access_token_env": KEY_ENV,
    }
    return ProviderConfig(name="vertexai", config=config)


ANTHROPIC_FORMAT = {"type": "json_schema", "schema": RESPONSE_FORMAT["json_schema"]["schema"]}
GEMINI_FORMAT = {
    "mime_type": "application/json",
    "schema": RESPONSE_FORMAT["json_schema"]["schema"],
}


ENTRIES = [
    Entry(
        provider="openai",
        model="gpt-4o-mini",
        create_app=lambda: openai_fake.create_app(KEY),
        config=lambda url: ProviderConfig(
            name="openai", api_key_env=KEY_ENV, config={"base_url": f"{url}/v1"}
        ),
        sampling=openai_sampling,
    ),
    Entry(
        provider="openai-compatible",
        model="qwen2.5:7b-instruct",
        create_app=lambda: openai_fake.create_app(KEY),
        config=lambda url: ProviderConfig(
            name="openai-compatible", api_key_env=KEY_ENV, config={"base_url": f"{url}/v1"}
        ),
        sampling=openai_sampling,
    ),
    Entry(
        provider="ollama",
        model="llama3.2",
        create_app=lambda: openai_fake.create_app(),  # no key: any bearer token goes
        config=lambda url: ProviderConfig(name="ollama", config={"base_url": f"{url}/v1"}),
        sampling=openai_sampling,
    ),
    Entry(
        provider="azure-openai",
        model="gpt-4o-mini",
        create_app=lambda: openai_fake.create_app(KEY, deployments=["chat-prod"]),
        config=lambda url: ProviderConfig(
            name="azure-openai",
            api_key_env=KEY_ENV,
            config={
                "endpoint": url,
                "api_version": "2024-10-21",
                "deployments": {"gpt-4o-mini": "chat-prod"},
            },
        ),
        sampling=openai_sampling,
    ),
    Entry(
        provider="anthropic",
        model="claude-sonnet-4-6",
        create_app=lambda: anthropic_fake.create_app(KEY),
        config=lambda url: ProviderConfig(
            name="anthropic", api_key_env=KEY_ENV, config={"base_url": url}
        ),
        sampling=anthropic_sampling,
        expected={"response_format": ANTHROPIC_FORMAT},
        defaults={"max_tokens": 4096},
    ),
    Entry(
        provider="gemini",
        model="gemini-2.5-flash",
        create_app=lambda: gemini_fake.create_app(KEY),
        config=lambda url: ProviderConfig(
            name="gemini", api_key_env=KEY_ENV, config={"base_url": url}
        ),
        sampling=gemini_sampling,
        expected={"response_format": GEMINI_FORMAT},
    ),
    Entry(
        provider="vertexai",
        model="gemini-2.5-flash",
        create_app=lambda: gemini_fake.create_app(access_token=KEY),
        config=vertex,
        sampling=gemini_sampling,
        expected={"response_format": GEMINI_FORMAT},
    ),
    Entry(
        provider="vertexai",
        model="claude-sonnet-4-6",
        create_app=lambda: anthropic_fake.create_app(access_token=KEY),
        config=vertex,
        sampling=anthropic_sampling,
        expected={"response_format": ANTHROPIC_FORMAT},
        defaults={"max_tokens": 4096},
    ),
]


@dataclass
class Subject:
    """What a test gets: the entry, the provider built through the registry, its fake."""

    entry: Entry
    provider: Provider
    fake: FakeControl

    def request(self, *messages: Message, tools: bool = False, **settings: Any) -> LLMRequest:
        return LLMRequest(
            model=self.entry.model,
            messages=list(messages),
            tools=TOOLS if tools else [],
            sampling=Sampling(**settings),
        )


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the config decides where each SDK goes and with which key."""
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_ORG_ID",
        "OPENAI_PROJECT_ID",
        "AZURE_OPENAI_API_KEY",
        "AZURE_OPENAI_AD_TOKEN",
        "AZURE_OPENAI_ENDPOINT",
        "OPENAI_API_VERSION",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_AUTH_TOKEN",
        "ANTHROPIC_BASE_URL",
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "GOOGLE_CLOUD_PROJECT",
        "GOOGLE_CLOUD_LOCATION",
        "GOOGLE_GENAI_USE_VERTEXAI",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(KEY_ENV, KEY)


@pytest.fixture(scope="module", params=ENTRIES, ids=[f"{e.provider}:{e.model}" for e in ENTRIES])
async def served(request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    """The entry's fake and provider, for all of this module's tests of that entry."""
    entry: Entry = request.param
    with pytest.MonkeyPatch.context() as env, FakeServer(entry.create_app()) as server:
        env.setenv(KEY_ENV, KEY)
        registry = ProviderRegistry(
            ProviderCatalog(LLMConfig(providers=[entry.config(server.base_url)]))
        )
        registry.check(entry.provider, entry.model)
        yield Subject(entry, registry.get(entry.provider), FakeControl(server.base_url))
        await registry.aclose()


@pytest.fixture
def subject(served: Subject, environment: None) -> Subject:
    served.fake.reset()
    return served


def user(text: str) -> Message:
    return Message(role="user", content=text)


async def call_tools(s: Subject, text: str, stream: bool) -> LLMResponse:
    response, _ = await complete(s.provider, s.request(user(text), tools=True), stream)
    assert response.message.tool_calls, "the fake calls a tool when there are tools"
    return response


# --- answers -------------------------------------------------------------------------------


@BOTH
async def test_plain_answer(subject: Subject, stream: bool) -> None:
    response, deltas = await complete(
        subject.provider, subject.request(user("hello there, friend")), stream
    )

    assert response.message.role == "assistant"
    assert response.message.content == "Echo: hello there, friend"
    assert response.message.tool_calls == []
    if stream:
        assert len(deltas) > 1, "text arrives in pieces"


@BOTH
async def test_system_message_and_history(subject: Subject, stream: bool) -> None:
    request = subject.request(
        Message(role="system", content="be brief"),
        user("first"),
        Message(role="assistant", content="Echo: first"),
        user("second"),
    )
    response, _ = await complete(subject.provider, request, stream)

    assert response.message.content == "Echo: second"


@BOTH
async def test_usage(subject: Subject, stream: bool) -> None:
    response, _ = await complete(
        subject.provider, subject.request(user("count these tokens please")), stream
    )

    usage = response.usage
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


async def test_sampling_settings_reach_the_wire(subject: Subject) -> None:
    await subject.provider.chat(subject.request(user("hi"), **SAMPLING))

    sent = subject.entry.sampling(subject.fake.requests()[-1])
    assert sent == SAMPLING | dict(subject.entry.expected)


async def test_unset_sampling_settings_are_not_sent(subject: Subject) -> None:
    await subject.provider.chat(subject.request(user("hi")))

    sent = subject.entry.sampling(subject.fake.requests()[-1])
    assert sent == {key: subject.entry.defaults.get(key) for key in SAMPLING}


# --- tool calls ------------------------------------------------------------------------------


@BOTH
async def test_tool_call_round_trip(subject: Subject, stream: bool) -> None:
    first = await call_tools(subject, "weather in Paris", stream)

    assert not first.message.content, "no text with the tool call"
    [call] = first.message.tool_calls
    assert call.id and call.name == "search"
    assert call.arguments == {"query": "weather in Paris"} and call.arguments_error is None

    result = Message(role="tool", tool_call_id=call.id, name="search", content="sunny, 21 C")
    request = subject.request(user("weather in Paris"), first.message, result, tools=True)
    second, _ = await complete(subject.provider, request, stream)

    assert second.message.content == "Tool results: search=sunny, 21 C"
    assert second.message.tool_calls == []


@BOTH
async def test_two_tool_calls_in_one_turn(subject: Subject, stream: bool) -> None:
    first = await call_tools(subject, "compare [two tools]", stream)

    search, fetch = first.message.tool_calls
    assert (search.name, fetch.name) == ("search", "fetch")
    assert search.id and fetch.id and search.id != fetch.id

    results = [
        Message(role="tool", tool_call_id=search.id, name="search", content="a"),
        Message(role="tool", tool_call_id=fetch.id, name="fetch", content="b"),
    ]
    request = subject.request(user("compare [two tools]"), first.message, *results, tools=True)
    second, _ = await complete(subject.provider, request, stream)

    assert second.message.content == "Tool results: search=a | fetch=b"


@BOTH
async def test_tool_result_with_is_error(subject: Subject, stream: bool) -> None:
    first = await call_tools(subject, "look it up", stream)
    [call] = first.message.tool_calls

    result = Message(
        role="tool", tool_call_id=call.id, name="search", content="HTTP 503", is_error=True
    )
    request = subject.request(user("look it up"), first.message, result, tools=True)
    second, _ = await complete(subject.provider, request, stream)

    assert second.message.content == "Tool results: search=HTTP 503"


@BOTH
@pytest.mark.parametrize("content", [None, ""], ids=["none", "empty"])
async def test_assistant_with_tool_calls_and_no_text(
    subject: Subject, stream: bool, content: str | None
) -> None:
    first = await call_tools(subject, "find it", stream)
    [call] = first.message.tool_calls

    assistant = Message(role="assistant", content=content, tool_calls=first.message.tool_calls)
    result = Message(role="tool", tool_call_id=call.id, name="search", content="found")
    request = subject.request(user("find it"), assistant, result, tools=True)
    second, _ = await complete(subject.provider, request, stream)

    assert second.message.content == "Tool results: search=found"


# --- failures --------------------------------------------------------------------------------


@BOTH
async def test_rate_limit_then_success(subject: Subject, stream: bool) -> None:
    subject.fake.enqueue({"status": 429, "headers": {"retry-after": "2"}})

    error = await failure(subject.provider, subject.request(user("hi")), stream)
    response, _ = await complete(subject.provider, subject.request(user("hi")), stream)

    assert error.retryable and error.retry_after == 2.0 and error.status == 429
    assert response.message.content == "Echo: hi"


@BOTH
async def test_bad_request_is_not_retryable(subject: Subject, stream: bool) -> None:
    subject.fake.enqueue({"status": 400})

    error = await failure(subject.provider, subject.request(user("hi")), stream)

    assert not error.retryable and error.status == 400
    assert "canned error 400" in str(error), "the vendor's message is kept"


@BOTH
async def test_server_error_is_retryable(subject: Subject, stream: bool) -> None:
    subject.fake.enqueue({"status": 500})

    error = await failure(subject.provider, subject.request(user("hi")), stream)

    assert error.retryable and error.status == 500


@BOTH
async def test_malformed_reply(subject: Subject, stream: bool) -> None:
    subject.fake.enqueue({"malformed": True})

    error = await failure(subject.provider, subject.request(user("hi")), stream)

    if not stream:
        assert not error.retryable


async def test_reply_cut_short(subject: Subject) -> None:
    subject.fake.enqueue({"truncate": True})

    error = await failure(subject.provider, subject.request(user("hi")), stream=False)

    assert not error.retryable


async def test_truncated_stream_is_retryable(subject: Subject) -> None:
    subject.fake.enqueue({"truncate": True})
    texts: list[str] = []

    with pytest.raises(ProviderError) as caught:
        async for chunk in subject.provider.chat_stream(subject.request(user("one two three"))):
            assert chunk.response is None, "no final response from a cut stream"
            texts.append(chunk.text)

    assert caught.value.retryable
