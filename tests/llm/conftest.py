"""What the per-vendor provider tests (`test_*_provider.py`) share: requests, the stream
contract, the fakes' control API and a clean SDK environment.

The scenarios every provider must pass alike live in `test_conformance.py`; the per-vendor
files keep only what is particular to their vendor (its wire format, errors, credentials).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from temporal_executor.errors import ProviderError
from temporal_executor.llm import (
    LLMRequest,
    LLMResponse,
    Message,
    Provider,
    Sampling,
    ToolCall,
    ToolDefinition,
)
from temporal_executor.llm.messages import NativeTurn, Reasoning
from tests.conftest import free_port
from tests.fakes.rules import FakeControl
from tests.fakes.server import FakeServer

# The stream contract is checked by the conformance suite's own helpers; use the same ones.

__all__ = ["complete", "failure"]  # re-exported for the per-vendor files

BOTH = pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
TOOLS = [
    ToolDefinition(name="search", description="Search the web", parameters={"type": "object"}),
    ToolDefinition(name="fetch", description="Fetch a page"),
]
# What the official SDKs read on their own; only our config may decide where they go and
# with which credentials.
SDK_ENVIRONMENT = (
    "OPENAI_API_KEY OPENAI_BASE_URL OPENAI_ORG_ID OPENAI_PROJECT_ID OPENAI_CUSTOM_HEADERS "
    "AZURE_OPENAI_API_KEY AZURE_OPENAI_AD_TOKEN AZURE_OPENAI_ENDPOINT OPENAI_API_VERSION "
    "ANTHROPIC_API_KEY ANTHROPIC_AUTH_TOKEN ANTHROPIC_BASE_URL ANTHROPIC_CUSTOM_HEADERS "
    "ANTHROPIC_PROFILE ANTHROPIC_VERTEX_BASE_URL ANTHROPIC_VERTEX_PROJECT_ID CLOUD_ML_REGION "
    "GOOGLE_API_KEY GEMINI_API_KEY GOOGLE_GEMINI_BASE_URL GOOGLE_VERTEX_BASE_URL "
    "GOOGLE_GENAI_USE_VERTEXAI GOOGLE_GENAI_USE_ENTERPRISE GOOGLE_CLOUD_PROJECT "
    "GOOGLE_CLOUD_LOCATION GOOGLE_GENAI_API_VERSION GOOGLE_API_USE_CLIENT_CERTIFICATE "
    "GOOGLE_CLOUD_QUOTA_PROJECT CLOUDSDK_CONFIG"
).split()


@pytest.fixture
def sdk_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """None of the SDKs' own environment variables is set."""
    for name in SDK_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


def control(server: FakeServer) -> FakeControl:
    """The running fake's control API, with its queue and recorded requests emptied."""
    fake = FakeControl(server.base_url)
    fake.reset()
    return fake


@pytest.fixture
def fake(server: FakeServer) -> FakeControl:
    """The control API of the module's `server` fixture, reset for each test."""
    return control(server)


def ask(
    model: str, text: str, tools: list[ToolDefinition] | None = None, **settings: Any
) -> LLMRequest:
    """One user message to `model`; each file binds its model: `partial(ask, MODEL)`."""
    return LLMRequest(
        model=model,
        messages=[Message(role="user", content=text)],
        tools=tools or [],
        sampling=Sampling(**settings),
    )


def counted(model: str) -> LLMRequest:
    """A request whose usage the fakes count as characters / 4: `counted_usage()`."""
    return LLMRequest(
        model=model,
        messages=[
            Message(role="system", content="be brief"),  # 8 characters
            Message(role="user", content="hello world!"),  # 12
        ],
    )


def counted_usage(cache_read: int = 0, cache_creation: int = 0) -> dict[str, int]:
    """The usage of `counted(...)`: (8 + 12) / 4 and len("Echo: hello world!") // 4."""
    return {
        "prompt_tokens": 5,
        "completion_tokens": 4,
        "total_tokens": 9,
        "cache_read_tokens": cache_read,
        "cache_creation_tokens": cache_creation,
        # Reported (so not unknown); priced later, by `invoke_llm`.
        "unreported": 0,
        "unpriced": 0,
        "cost": 0.0,
    }


def refused_url() -> str:
    """A local URL where nothing listens: connecting is refused at once."""
    return f"http://127.0.0.1:{free_port()}"


async def assert_stream_arrives_over_time(
    provider: Provider, fake: FakeControl, request: LLMRequest
) -> None:
    """Chunks reach the caller as the fake sends them, not all at the end."""
    fake.configure(chunk_delay=0.05)
    started = time.monotonic()
    arrivals = [time.monotonic() - started async for _ in provider.chat_stream(request)]

    assert len(arrivals) >= 6
    assert arrivals[-1] - arrivals[0] >= 0.2, "chunks arrive over time, not all at the end"


async def assert_timeout_is_retryable(
    provider: Provider, fake: FakeControl, request: LLMRequest
) -> None:
    """A reply slower than the provider's `timeout` (under 1 s) fails, retryably."""
    fake.enqueue({"delay": 1})

    error = await failure(provider, request, stream=False)

    assert error.retryable and "timed out" in str(error)
    await provider.aclose()


async def wrong_key_error(
    monkeypatch: pytest.MonkeyPatch,
    build: Callable[[str], Provider],
    wrong: str,
    request: LLMRequest,
    stream: bool,
) -> ProviderError:
    """The error of a provider built by `build(key_env)` with a key the fake rejects; it is
    not retryable and does not repeat the key."""
    monkeypatch.setenv("TEST_WRONG_KEY", wrong)
    provider = build("TEST_WRONG_KEY")

    error = await failure(provider, request, stream)
    await provider.aclose()

    assert not error.retryable and wrong not in str(error)
    return error


def assert_arguments(call: ToolCall, arguments: dict[str, Any], error: str | None) -> None:
    """`call` has these arguments, and an `arguments_error` starting with `error` (or none)."""
    assert call.name == "search" and call.arguments == arguments
    if error is None:
        assert call.arguments_error is None
    else:
        assert call.arguments_error is not None and call.arguments_error.startswith(error)


async def complete(
    provider: Provider, request: LLMRequest, stream: bool
) -> tuple[LLMResponse, list[str]]:
    """The response and, when streaming, the text deltas; checks the stream contract."""
    if not stream:
        return await provider.chat(request), []
    final, deltas, _ = await streamed(provider, request)
    return final, deltas


async def streamed(provider: Provider, request: LLMRequest) -> tuple[LLMResponse, list[str], str]:
    """A streamed response, its text deltas and its reasoning; checks the stream contract."""
    chunks = [chunk async for chunk in provider.chat_stream(request)]
    assert [c.response is not None for c in chunks].count(True) == 1
    final = chunks[-1].response
    assert final is not None, "the whole response comes last"
    deltas = [c.text for c in chunks[:-1]]
    assert "".join(deltas) == (final.message.content or "")
    return final, deltas, "".join(c.reasoning for c in chunks)


async def tool_steps(
    provider: Provider, request: LLMRequest, source: str, stream: bool, steps: int = 2
) -> tuple[list[LLMResponse], str]:
    """A reasoning model's exchange: `request`, then `steps` times the answer's calls answered
    ("sunny") and its turn kept by reference (as `source`'s) and sent on; the last request
    goes with the provider's default tool choice. Every answer, and the first's reasoning
    (streamed, else "")."""
    answers: list[LLMResponse] = []
    reasoning = ""
    for step in range(steps + 1):
        if step == steps:
            sampling = request.sampling.model_copy(update={"tool_choice": None})
            request = request.model_copy(update={"sampling": sampling})
        if stream:
            answer, _, thought = await streamed(provider, request)
            reasoning = reasoning or thought
        else:
            answer = await provider.chat(request)
        answers.append(answer)
        if step < steps:
            message, turns = kept(answer, source)
            request = request.model_copy(
                update={
                    "messages": [*request.messages, message, *results(message)],
                    "reasoning": request.reasoning | turns,
                }
            )
    return answers, reasoning


async def failure(provider: Provider, request: LLMRequest, stream: bool) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await complete(provider, request, stream)
    return caught.value


def kept(response: LLMResponse, source: str) -> tuple[Message, dict[str, NativeTurn]]:
    """A reasoning model's answer as the transcript holds it (`invoke_llm` kept its native
    turn by reference, written by `source`), and that turn by its key, as `invoke_llm` loads
    it back for the next call of the same model (`LLMRequest.reasoning`)."""
    native = response.native
    assert native is not None, "the answer has reasoning to keep"
    blob = f"blob-{id(response)}"
    reasoning = Reasoning(source=source, kind=native.kind, blob=blob)
    return response.message.model_copy(update={"reasoning": reasoning}), {blob: native}


def results(message: Message, content: str = "sunny") -> list[Message]:
    """A result for each of the message's tool calls."""
    return [
        Message(role="tool", tool_call_id=call.id, name=call.name, content=content)
        for call in message.tool_calls
    ]
