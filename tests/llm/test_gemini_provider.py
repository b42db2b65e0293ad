"""`GeminiProvider` and `VertexGeminiProvider` through the official `google-genai` SDK against
the local Gemini wire fake.

No test may reach Google: the environment variables the SDK and google-auth read are cleared,
`GOOGLE_APPLICATION_CREDENTIALS` names a file that does not exist (so application-default
credentials fail at once, before google-auth would probe the GCE metadata server), and that
probe is made to fail the test should it happen anyway.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import google.auth.compute_engine._metadata as gce_metadata
import httpx
import pytest

from temporal_executor.config import ProviderConfig
from temporal_executor.errors import ConfigError, ProviderError, ProviderNotConfiguredError
from temporal_executor.llm import Message
from temporal_executor.llm.gemini import GeminiProvider
from temporal_executor.llm.vertex import VertexGeminiProvider
from tests.fakes.gemini_fake import gemini_fake_server
from tests.fakes.rules import FakeControl
from tests.fakes.server import FakeServer
from tests.llm.conftest import (
    BOTH,
    TOOLS,
    ask,
    assert_stream_arrives_over_time,
    assert_timeout_is_retryable,
    complete,
    counted,
    counted_usage,
    failure,
    refused_url,
    wrong_key_error,
)

KEY, KEY_ENV = "gemini-fake-test-key", "TEST_FAKE_GEMINI_KEY"
TOKEN, TOKEN_ENV = "ya29.fake-access-token", "TEST_FAKE_VERTEX_TOKEN"
MODEL = "gemini-2.5-flash"
PROJECT, LOCATION = "test-project", "us-central1"
SKIP_SIGNATURE = base64.urlsafe_b64encode(b"skip_thought_signature_validator").decode()
user = partial(ask, MODEL)

Gemini = GeminiProvider | VertexGeminiProvider


@pytest.fixture(scope="session")
def server() -> Iterator[FakeServer]:
    with gemini_fake_server(api_key=KEY, access_token=TOKEN) as running:
        yield running


@pytest.fixture(autouse=True)
def environment(sdk_environment: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No Google credentials either, and no probe of the GCE metadata server."""
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "no-such-file.json"))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "true")  # read by google-auth when first imported

    def no_metadata_server(*args: Any, **kwargs: Any) -> bool:
        raise AssertionError("google-auth probed the GCE metadata server")

    monkeypatch.setattr(gce_metadata, "ping", no_metadata_server)


def make_gemini(base_url: str, key_env: str | None = KEY_ENV, **config: Any) -> GeminiProvider:
    config["base_url"] = base_url
    return GeminiProvider(ProviderConfig(name="gemini", api_key_env=key_env, config=config))


def make_vertex(base_url: str, key_env: str | None = None, **config: Any) -> VertexGeminiProvider:
    settings = {
        "project_id": PROJECT,
        "location": LOCATION,
        "access_token_env": TOKEN_ENV,
        "base_url": base_url,
    }
    settings.update(config)
    settings = {k: v for k, v in settings.items() if v is not None}
    return VertexGeminiProvider(
        ProviderConfig(name="vertexai", api_key_env=key_env, config=settings)
    )


def make(flavor: str, base_url: str, **config: Any) -> Gemini:
    return (
        make_gemini(base_url, **config) if flavor == "gemini" else make_vertex(base_url, **config)
    )


@pytest.fixture(scope="session", params=["gemini", "vertex"])
async def provider(request: pytest.FixtureRequest, server: FakeServer) -> AsyncIterator[Gemini]:
    """One provider per flavor for the whole session: building an SDK client takes ~40 ms."""
    adapter = make(request.param, server.url)
    yield adapter
    await adapter.aclose()


def sent_path(fake: FakeControl) -> str:
    path: str = fake.requests()[-1]["_http"]["path"]
    return path


# --- answers ---------------------------------------------------------------------------------


@BOTH
async def test_plain_answer(provider: Gemini, fake: FakeControl, stream: bool) -> None:
    response, deltas = await complete(provider, user("hello there, friend"), stream)

    assert response.message.role == "assistant"
    assert response.message.content == "Echo: hello there, friend"
    assert response.message.tool_calls == []
    assert response.finish_reason == "stop"
    if stream:
        assert len(deltas) > 1
    sent = fake.requests()[-1]
    assert sent["contents"] == [{"role": "user", "parts": [{"text": "hello there, friend"}]}]
    assert "tools" not in sent and "systemInstruction" not in sent
    assert not sent.get("generationConfig")
    method = "streamGenerateContent" if stream else "generateContent"
    if isinstance(provider, VertexGeminiProvider):
        prefix = f"/v1beta1/projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/"
    else:
        prefix = "/v1/models/"
    assert sent["_http"]["path"] == f"{prefix}{MODEL}:{method}"
    assert sent["_http"]["query"] == ({"alt": "sse"} if stream else {})


async def test_system_instruction_and_settings_are_sent(
    provider: Gemini, fake: FakeControl
) -> None:
    request = user("hi", temperature=0.2, max_tokens=50, top_p=0.9, stop=["END"])
    request.messages.insert(0, Message(role="system", content="be brief"))
    request.sampling.response_format = {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": {"type": "object"}},
    }

    await provider.chat(request)

    sent = fake.requests()[-1]
    assert sent["systemInstruction"] == {"parts": [{"text": "be brief"}]}
    assert sent["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]
    assert sent["generationConfig"] == {
        "temperature": 0.2,
        "topP": 0.9,
        "maxOutputTokens": 50,
        "stopSequences": ["END"],
        "responseMimeType": "application/json",
        "responseJsonSchema": {"type": "object"},
    }


async def test_json_object_and_unsupported_response_formats(
    provider: Gemini, fake: FakeControl
) -> None:
    await provider.chat(user("hi", response_format={"type": "json_object"}))
    assert fake.requests()[-1]["generationConfig"] == {"responseMimeType": "application/json"}

    with pytest.raises(ProviderError) as caught:
        await provider.chat(user("hi", response_format={"type": "xml"}))
    assert not caught.value.retryable and "unsupported response_format" in str(caught.value)


@BOTH
async def test_usage_with_cached_tokens(provider: Gemini, fake: FakeControl, stream: bool) -> None:
    fake.enqueue({"cache_read_tokens": 2})

    response, _ = await complete(provider, counted(MODEL), stream)

    assert response.usage.model_dump() == counted_usage(cache_read=2)


@BOTH
async def test_thought_parts_are_not_the_answer(
    provider: Gemini, fake: FakeControl, stream: bool
) -> None:
    fake.enqueue({"thought": "let me think about it", "content": "forty two"})

    response, deltas = await complete(provider, user("question"), stream)

    assert response.message.content == "forty two"
    assert "think" not in "".join(deltas)


@BOTH
async def test_max_tokens_is_length(provider: Gemini, fake: FakeControl, stream: bool) -> None:
    fake.enqueue({"content": "a cut answer", "finish_reason": "MAX_TOKENS"})

    response, _ = await complete(provider, user("go on"), stream)

    assert response.message.content == "a cut answer" and response.finish_reason == "length"


# --- tool calls ------------------------------------------------------------------------------


@BOTH
async def test_tool_call_round_trip(provider: Gemini, fake: FakeControl, stream: bool) -> None:
    first, deltas = await complete(provider, user("weather in Paris", TOOLS), stream)

    assert first.finish_reason == "tool_calls"
    assert first.message.content is None and deltas == []
    [call] = first.message.tool_calls
    assert call.id.startswith("gcall_") and call.name == "search"
    assert call.arguments == {"query": "weather in Paris"} and call.arguments_error is None
    sent = fake.requests()[-1]
    [tool] = sent["tools"]
    # The SDK sends this one field in snake case; Google's JSON parser takes both spellings.
    assert tool["functionDeclarations"] == [
        {
            "name": "search",
            "description": "Search the web",
            "parameters_json_schema": {"type": "object"},
        },
        {
            "name": "fetch",
            "description": "Fetch a page",
            "parameters_json_schema": {"type": "object", "properties": {}},
        },
    ]

    result = Message(role="tool", tool_call_id=call.id, name="search", content="sunny")
    request = user("weather in Paris", TOOLS)
    request.messages += [first.message, result]
    second, _ = await complete(provider, request, stream)

    assert second.message.content == "Tool results: search=sunny"
    assert second.finish_reason == "stop"
    model, results = fake.requests()[-1]["contents"][1:]
    # Gemini sent no id, so none goes back; the call carries the documented stand-in for
    # the thought signature we cannot keep.
    assert model == {
        "role": "model",
        "parts": [
            {
                "functionCall": {"name": "search", "args": {"query": "weather in Paris"}},
                "thoughtSignature": SKIP_SIGNATURE,
            }
        ],
    }
    assert results == {
        "role": "user",
        "parts": [{"functionResponse": {"name": "search", "response": {"output": "sunny"}}}],
    }


@BOTH
async def test_two_function_calls_in_one_turn(
    provider: Gemini, fake: FakeControl, stream: bool
) -> None:
    first, _ = await complete(provider, user("compare [two tools]", TOOLS), stream)

    assert [c.name for c in first.message.tool_calls] == ["search", "fetch"]
    assert len({c.id for c in first.message.tool_calls}) == 2
    assert all(c.arguments == {"query": "compare [two tools]"} for c in first.message.tool_calls)

    search, fetch = first.message.tool_calls
    request = user("compare [two tools]", TOOLS)
    request.messages += [
        first.message,
        Message(role="tool", tool_call_id=search.id, name="search", content="a"),
        Message(role="tool", tool_call_id=fetch.id, name="fetch", content="gone", is_error=True),
    ]
    second, _ = await complete(provider, request, stream)

    assert second.message.content == "Tool results: search=a | fetch=gone"
    contents = fake.requests()[-1]["contents"]
    assert len(contents) == 3, "both results travel in one user turn"
    calls = contents[1]["parts"]
    assert [("thoughtSignature" in p) for p in calls] == [True, False]
    assert contents[2]["parts"] == [
        {"functionResponse": {"name": "search", "response": {"output": "a"}}},
        {"functionResponse": {"name": "fetch", "response": {"error": "gone"}}},
    ]


async def test_gemini_call_ids_are_kept_and_sent_back(provider: Gemini, fake: FakeControl) -> None:
    fake.enqueue({"tool_calls": [{"id": "fc-7", "name": "search", "arguments": {"q": "x"}}]})

    first = await provider.chat(user("go", TOOLS))
    [call] = first.message.tool_calls
    assert call.id == "fc-7" and call.arguments == {"q": "x"}

    # A result without a name is named after its call.
    request = user("go", TOOLS)
    request.messages += [first.message, Message(role="tool", tool_call_id="fc-7", content="ok")]
    second = await provider.chat(request)

    assert second.message.content == "Tool results: search=ok"
    model, results = fake.requests()[-1]["contents"][1:]
    assert model["parts"][0]["functionCall"]["id"] == "fc-7"
    assert results["parts"][0]["functionResponse"]["id"] == "fc-7"


async def test_made_up_ids_differ_between_turns(provider: Gemini) -> None:
    """The fake's "[loop]" rule calls a tool every turn; HTTP tools use the call id as an
    idempotency key, so two turns must never share one."""
    request = user("[loop] forever", TOOLS)
    ids: list[str] = []
    for _ in range(3):
        response = await provider.chat(request)
        [call] = response.message.tool_calls
        ids.append(call.id)
        result = Message(role="tool", tool_call_id=call.id, name=call.name, content="again")
        request.messages += [response.message, result]

    assert len(set(ids)) == 3


async def test_fake_rules_for_agent_loops(provider: Gemini) -> None:
    no_tools = await provider.chat(user("just talk [no tools]", TOOLS))
    assert no_tools.message.content == "Echo: just talk [no tools]"


async def test_stream_delivers_text_as_it_arrives(provider: Gemini, fake: FakeControl) -> None:
    await assert_stream_arrives_over_time(provider, fake, user("a b c d e"))


# --- failures --------------------------------------------------------------------------------


def resource_exhausted(delay: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {
        "code": 429,
        "message": "Resource has been exhausted (e.g. check quota).",
        "status": "RESOURCE_EXHAUSTED",
    }
    if delay:
        error["details"] = [
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}
        ]
    return {"error": error}


@BOTH
@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"retry-after": "1"}, resource_exhausted(), 1.0),
        ({}, resource_exhausted("2.5s"), 2.5),
        ({}, resource_exhausted(), None),
    ],
    ids=["retry-after", "retry-info", "none"],
)
async def test_rate_limit_is_retryable_with_retry_after(
    provider: Gemini,
    fake: FakeControl,
    stream: bool,
    headers: dict[str, str],
    body: dict[str, Any],
    expected: float | None,
) -> None:
    fake.enqueue({"status": 429, "headers": headers, "body": body})

    error = await failure(provider, user("hi"), stream)

    assert error.retryable and error.status == 429 and error.retry_after == expected
    assert str(error) == f"{provider.name}: 429 Resource has been exhausted (e.g. check quota)."
    assert isinstance(error.__cause__, Exception)
    assert len(fake.requests()) == 1, "the SDK did not retry on its own"


@BOTH
@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (500, True),
        (503, True),
        (504, True),
        (408, True),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
    ],
)
async def test_status_errors(
    provider: Gemini, fake: FakeControl, stream: bool, status: int, retryable: bool
) -> None:
    body = {"error": {"code": status, "message": f"problem {status}", "status": "X"}}
    fake.enqueue({"status": status, "body": body})

    error = await failure(provider, user("hi"), stream)

    assert error.retryable is retryable and error.status == status
    assert str(error) == f"{provider.name}: {status} problem {status}"
    assert error.retry_after is None
    assert len(fake.requests()) == 1


@BOTH
async def test_wrong_key_is_not_retryable_and_not_echoed(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    wrong = "wrong-gemini-key-123"
    build = partial(make_gemini, server.url)

    error = await wrong_key_error(monkeypatch, build, wrong, user("hi"), stream)

    assert error.status == 400
    assert "API key not valid" in str(error)


async def test_wrong_vertex_token_is_not_retryable(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "ya29.expired")
    provider = make_vertex(server.url)

    error = await failure(provider, user("hi"), stream=False)
    await provider.aclose()

    assert not error.retryable and error.status == 401 and "ya29" not in str(error)


async def test_vertex_express_mode_uses_the_api_key(server: FakeServer, fake: FakeControl) -> None:
    provider = make_vertex(
        server.url, key_env=KEY_ENV, project_id=None, location=None, access_token_env=None
    )
    provider.check()

    response = await provider.chat(user("hi"))
    await provider.aclose()

    assert response.message.content == "Echo: hi"
    assert sent_path(fake) == f"/v1beta1/publishers/google/models/{MODEL}:generateContent"


def test_missing_gemini_key(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(ProviderNotConfiguredError, match=KEY_ENV):
        make_gemini(server.url).check()
    with pytest.raises(ProviderNotConfiguredError, match="api_key_env"):
        make_gemini(server.url, key_env=None).check()


def test_vertex_without_credentials(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    provider = make_vertex(server.url, access_token_env=None)

    with pytest.raises(ProviderNotConfiguredError) as caught:
        provider.check()
    assert "no credentials: set api_key_env or access_token_env" in str(caught.value)
    assert "application-default credentials" in str(caught.value)

    monkeypatch.delenv(TOKEN_ENV)
    with pytest.raises(ProviderNotConfiguredError, match=TOKEN_ENV):
        make_vertex(server.url).check()
    with pytest.raises(ConfigError, match=r"config\.project_id"):
        make_vertex(server.url, project_id=None)
    make_vertex(server.url, key_env=KEY_ENV, project_id=None).check()


async def test_vertex_without_credentials_fails_the_call(server: FakeServer) -> None:
    provider = make_vertex(server.url, access_token_env=None)

    error = await failure(provider, user("hi"), stream=False)

    assert not error.retryable and "no credentials" in str(error)


@BOTH
async def test_malformed_reply(provider: Gemini, fake: FakeControl, stream: bool) -> None:
    fake.enqueue({"malformed": True})

    error = await failure(provider, user("hi"), stream)

    assert not error.retryable and str(error) == f"{provider.name}: malformed reply: no candidates"


async def test_cut_json_reply_is_malformed(provider: Gemini, fake: FakeControl) -> None:
    fake.enqueue({"truncate": True})

    error = await failure(provider, user("hi"), stream=False)

    assert not error.retryable and "malformed reply" in str(error)


async def test_truncated_stream_is_retryable(provider: Gemini, fake: FakeControl) -> None:
    fake.enqueue({"truncate": True})
    texts: list[str] = []

    with pytest.raises(ProviderError) as caught:
        async for chunk in provider.chat_stream(user("one two three four five six")):
            assert chunk.response is None
            texts.append(chunk.text)

    assert caught.value.retryable
    assert str(caught.value) == f"{provider.name}: stream ended before the model finished"
    assert texts, "the deltas before the cut were delivered"


@BOTH
@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ({"finish_reason": "SAFETY"}, "content refused: SAFETY"),
        ({"finish_reason": "PROHIBITED_CONTENT"}, "content refused: PROHIBITED_CONTENT"),
        ({"block_reason": "SAFETY"}, "content refused: the prompt was blocked (SAFETY)"),
    ],
    ids=["safety", "prohibited", "prompt-blocked"],
)
async def test_refusals_are_not_retryable(
    provider: Gemini, fake: FakeControl, stream: bool, entry: dict[str, Any], reason: str
) -> None:
    fake.enqueue(entry)

    error = await failure(provider, user("something bad"), stream)

    assert not error.retryable and str(error) == f"{provider.name}: {reason}"


async def test_malformed_function_call_is_retryable(provider: Gemini, fake: FakeControl) -> None:
    fake.enqueue({"finish_reason": "MALFORMED_FUNCTION_CALL"})

    error = await failure(provider, user("go", TOOLS), stream=False)

    assert error.retryable and "MALFORMED_FUNCTION_CALL" in str(error)


def test_fake_requires_credentials(server: FakeServer) -> None:
    developer = httpx.post(f"{server.url}/v1beta/models/{MODEL}:generateContent", json={})
    vertex = httpx.post(
        f"{server.url}/v1/projects/p/locations/l/publishers/google/models/{MODEL}:generateContent",
        json={},
    )

    assert developer.status_code == 403 and vertex.status_code == 401
    assert set(developer.json()["error"]) == {"code", "message", "status"}
    assert vertex.json()["error"]["status"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("flavor", ["gemini", "vertex"])
async def test_connection_refused_is_retryable(flavor: str) -> None:
    provider = make(flavor, refused_url())

    error = await failure(provider, user("hi"), stream=False)

    assert error.retryable and error.status is None
    await provider.aclose()


@pytest.mark.parametrize("flavor", ["gemini", "vertex"])
async def test_timeout_is_retryable(server: FakeServer, fake: FakeControl, flavor: str) -> None:
    await assert_timeout_is_retryable(make(flavor, server.url, timeout=0.2), fake, user("hi"))


async def test_client_is_recreated_after_aclose(provider: Gemini) -> None:
    await provider.chat(user("one"))
    await provider.aclose()

    response = await provider.chat(user("two"))

    assert response.message.content == "Echo: two"
