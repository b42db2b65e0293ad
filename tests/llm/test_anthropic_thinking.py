"""Claude's thinking, tool_choice and prompt caching through the official SDK against the
Anthropic wire fake, which refuses what the API refuses (`tests/fakes/anthropic_rules.py`):
thinking blocks must come back unchanged, signed for the model, before the tool results that
answer their turn; cache breakpoints at most 4, never on thinking."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from temporal_executor.config import ProviderConfig
from temporal_executor.llm import LLMRequest, Message, Sampling
from temporal_executor.llm.anthropic import AnthropicProvider
from temporal_executor.llm.vertex import AnthropicVertexProvider
from temporal_executor.spec import ReasoningSettings, ToolChoiceName
from tests.fakes.anthropic_fake import anthropic_fake_server
from tests.fakes.rules import FakeControl
from tests.fakes.server import FakeServer
from tests.llm.conftest import BOTH, TOOLS, complete, kept, results

KEY = "sk-ant-fake-thinking-key"
KEY_ENV = "TEST_FAKE_ANTHROPIC_THINKING_KEY"
MODEL = "claude-sonnet-4-5"  # manual thinking (a budget)
ADAPTIVE = "claude-opus-4-8"  # adaptive thinking (an effort)
BUDGET = Sampling(reasoning=ReasoningSettings(budget_tokens=2048, summary=True))


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with anthropic_fake_server(api_key=KEY, access_token=KEY) as running:
        yield running


@pytest.fixture(params=["anthropic", "vertexai"])
async def provider(
    request: pytest.FixtureRequest,
    server: FakeServer,
    fake: FakeControl,
    sdk_environment: None,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[AnthropicProvider]:
    """Claude through Anthropic's API, and on Vertex AI (the same adapter, Google's auth)."""
    monkeypatch.setenv(KEY_ENV, KEY)
    adapter: AnthropicProvider
    if request.param == "anthropic":
        config = {"base_url": server.url, "default_max_tokens": 1000}
        adapter = AnthropicProvider(
            ProviderConfig(name="anthropic", api_key_env=KEY_ENV, config=config)
        )
    else:
        config = {
            "base_url": f"{server.url}/v1",
            "project_id": "p",
            "location": "us-east5",
            "access_token_env": KEY_ENV,
            "default_max_tokens": 1000,
        }
        adapter = AnthropicVertexProvider(ProviderConfig(name="vertexai", config=config))
    yield adapter
    await adapter.aclose()


@BOTH
async def test_thinking_comes_back_verbatim_before_the_tool_results(
    provider: AnthropicProvider, fake: FakeControl, stream: bool
) -> None:
    """A budget is manual thinking (max_tokens leaves the default for the answer); the
    streamed thinking is reasoning, never text; the whole turn, signed, goes back with the
    tool results, and the fake (the API's rule) accepts it."""
    ask = [Message(role="user", content="weather in Paris?")]
    first, deltas = await complete(
        provider, LLMRequest(model=MODEL, messages=ask, tools=TOOLS, sampling=BUDGET), stream
    )

    sent = fake.requests()[-1]
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048, "display": "summarized"}
    assert sent["max_tokens"] == 2048 + 1000
    assert first.message.content is None and [c.name for c in first.message.tool_calls] == [
        "search"
    ]
    native = first.native
    assert native is not None
    thinking, tool_use = native.items
    assert (
        thinking["type"] == "thinking"
        and thinking["thinking"] == "I think about: weather in Paris?"
    )
    assert thinking["signature"] and tool_use["type"] == "tool_use"
    assert tool_use["id"] == first.message.tool_calls[0].id
    if stream:
        assert not "".join(deltas)  # no text: the thinking streamed as reasoning

    answer_msg, turns = kept(first, f"anthropic/{MODEL}")
    follow = [*ask, answer_msg, *results(answer_msg)]
    second, _ = await complete(
        provider,
        LLMRequest(model=MODEL, messages=follow, tools=TOOLS, sampling=BUDGET, reasoning=turns),
        stream,
    )

    assert second.message.content is not None and "sunny" in second.message.content
    replayed = fake.requests()[-1]
    assert replayed["thinking"]["type"] == "enabled"
    assert replayed["messages"][1] == {"role": "assistant", "content": native.items}


async def test_streamed_thinking_is_reasoning(
    provider: AnthropicProvider, fake: FakeControl
) -> None:
    request = LLMRequest(
        model=MODEL, messages=[Message(role="user", content="hello")], sampling=BUDGET
    )
    chunks = [chunk async for chunk in provider.chat_stream(request)]

    reasoning = "".join(c.reasoning for c in chunks)
    assert reasoning == "I think about: hello"
    final = chunks[-1].response
    assert final is not None and final.message.content == "Echo: hello"
    assert "".join(c.text for c in chunks) == "Echo: hello"


async def test_a_turn_without_its_thinking_goes_without_thinking(
    provider: AnthropicProvider, fake: FakeControl
) -> None:
    """A fallback from another model (or an edit) leaves the tool turn without its thinking:
    that request goes without thinking, as the API's error advises, and succeeds."""
    first = await provider.chat(
        LLMRequest(
            model=MODEL, messages=[Message(role="user", content="q")], tools=TOOLS, sampling=BUDGET
        )
    )
    foreign = first.message  # no reasoning: as if another model had written it
    follow = [Message(role="user", content="q"), foreign, *results(foreign)]

    second = await provider.chat(
        LLMRequest(model=MODEL, messages=follow, tools=TOOLS, sampling=BUDGET)
    )

    assert second.message.content is not None
    assert "thinking" not in fake.requests()[-1]


async def test_adaptive_thinking_with_effort_and_redacted_blocks(
    provider: AnthropicProvider, fake: FakeControl
) -> None:
    fake.enqueue({"redacted_thinking": True})
    sampling = Sampling(
        reasoning=ReasoningSettings(effort="low"),
        response_format={"type": "json_schema", "schema": {"type": "object"}},
    )
    ask = [Message(role="user", content="weather?")]
    first = await provider.chat(
        LLMRequest(model=ADAPTIVE, messages=ask, tools=TOOLS, sampling=sampling)
    )

    sent = fake.requests()[-1]
    assert sent["thinking"] == {"type": "adaptive"}
    assert sent["output_config"] == {
        "effort": "low",
        "format": {"type": "json_schema", "schema": {"type": "object"}},
    }
    assert first.native is not None and first.native.items[0]["type"] == "redacted_thinking"

    message, turns = kept(first, f"anthropic/{ADAPTIVE}")
    follow = [*ask, message, *results(message)]
    await provider.chat(
        LLMRequest(model=ADAPTIVE, messages=follow, tools=TOOLS, sampling=sampling, reasoning=turns)
    )
    assert fake.requests()[-1]["messages"][1]["content"][0]["type"] == "redacted_thinking"


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("required", None, {"type": "any"}),
        (
            ToolChoiceName(name="fetch"),
            False,
            {"type": "tool", "name": "fetch", "disable_parallel_tool_use": True},
        ),
        ("none", False, {"type": "none"}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        (None, None, None),
    ],
)
async def test_tool_choice(
    provider: AnthropicProvider,
    fake: FakeControl,
    choice: Any,
    parallel: bool | None,
    expected: Any,
) -> None:
    sampling = Sampling(tool_choice=choice, parallel_tool_calls=parallel)
    ask = [Message(role="user", content="hi")]
    await provider.chat(LLMRequest(model=MODEL, messages=ask, tools=TOOLS, sampling=sampling))
    await provider.chat(LLMRequest(model=MODEL, messages=ask, sampling=sampling))

    with_tools, without = fake.requests()[-2:]
    assert with_tools.get("tool_choice") == expected
    assert "tool_choice" not in without  # no tools: nothing to choose


async def test_prompt_cache_breakpoints_are_read_back(
    server: FakeServer, fake: FakeControl, sdk_environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stable prefix (system, the previous call's last message) is marked, at most 4
    breakpoints and none on thinking; the next call of the loop reads what this one wrote."""
    monkeypatch.setenv(KEY_ENV, KEY)
    config = {"base_url": server.url}  # prompt_cache: on by default
    provider = AnthropicProvider(
        ProviderConfig(name="anthropic", api_key_env=KEY_ENV, config=config)
    )
    system = Message(role="system", content="You are a careful assistant. " * 200)  # ~1500 tokens
    ask = [system, Message(role="user", content="weather in Paris?")]
    first = await provider.chat(LLMRequest(model=MODEL, messages=ask, tools=TOOLS, sampling=BUDGET))
    message, turns = kept(first, f"anthropic/{MODEL}")
    follow = [*ask, message, *results(message)]
    second = await provider.chat(
        LLMRequest(model=MODEL, messages=follow, tools=TOOLS, sampling=BUDGET, reasoning=turns)
    )
    await provider.aclose()

    one, two = fake.requests()[-2:]
    assert one["system"] == [
        {"type": "text", "text": system.content, "cache_control": {"type": "ephemeral"}}
    ]
    assert one["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    marked = [
        (i, j)
        for i, m in enumerate(two["messages"])
        for j, block in enumerate(m["content"])
        if "cache_control" in block
    ]
    assert marked == [(0, 0), (2, 0)]  # the previous call's last message, and this call's
    assert "cache_control" not in two["messages"][1]["content"][0]  # the thinking block
    assert first.usage.cache_creation_tokens > 1000 and first.usage.cache_read_tokens == 0
    assert second.usage.cache_read_tokens == first.usage.cache_creation_tokens
    assert second.usage.prompt_tokens > second.usage.cache_read_tokens


# --- the fake refuses what the API refuses -------------------------------------------------------


def post(server: FakeServer, body: dict[str, Any]) -> httpx.Response:
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
    return httpx.post(f"{server.url}/v1/messages", json=body, headers=headers)


def test_fake_refuses_a_tool_turn_without_its_thinking(
    server: FakeServer, fake: FakeControl
) -> None:
    tools = [{"name": "search", "input_schema": {"type": "object"}}]
    thinking = {"type": "enabled", "budget_tokens": 1024}
    ask = {"role": "user", "content": "q"}
    body = {"model": MODEL, "max_tokens": 2000, "thinking": thinking, "tools": tools}
    thought, call = post(server, body | {"messages": [ask]}).json()["content"]
    result = {"type": "tool_result", "tool_use_id": call["id"], "content": "x"}

    def replay(turn: list[dict[str, Any]], model: str = MODEL) -> tuple[int, str]:
        turns = [ask, {"role": "assistant", "content": turn}, {"role": "user", "content": [result]}]
        answer = post(server, body | {"model": model, "messages": turns})
        return answer.status_code, answer.json().get("error", {}).get("message", "")

    edited = {**thought, "thinking": thought["thinking"] + "!"}
    missing, changed = replay([call]), replay([edited, call])
    other_model = replay([thought, call], model="claude-haiku-4-5")

    assert missing[0] == 400
    assert "Expected `thinking` or `redacted_thinking`, but found `tool_use`" in missing[1]
    assert changed[0] == 400 and "Invalid `signature` in `thinking` block" in changed[1]
    assert other_model[0] == 400 and "Invalid `signature`" in other_model[1]
    assert replay([thought, call])[0] == 200


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"thinking": {"type": "enabled", "budget_tokens": 512}}, "greater than or equal to 1024"),
        ({"thinking": {"type": "enabled", "budget_tokens": 4000}}, "`max_tokens` must be greater"),
        ({"temperature": 0.5}, "`temperature` may only be set to 1"),
        ({"tool_choice": {"type": "any"}}, "Thinking may not be enabled when tool_choice forces"),
        ({"model": "claude-opus-4-7"}, '"thinking.type.enabled" is not supported'),
        (
            {"model": "claude-sonnet-4-5", "thinking": {"type": "adaptive"}},
            "adaptive thinking is not supported",
        ),
    ],
)
def test_fake_refuses_what_thinking_forbids(
    server: FakeServer, fake: FakeControl, change: dict[str, Any], message: str
) -> None:
    body = {
        "model": MODEL,
        "max_tokens": 2000,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "tools": [{"name": "search", "input_schema": {"type": "object"}}],
        "messages": [{"role": "user", "content": "q"}],
    }
    refused = post(server, body | change)
    assert refused.status_code == 400 and message in refused.json()["error"]["message"]


def test_fake_allows_four_breakpoints_at_most(server: FakeServer, fake: FakeControl) -> None:
    marked = {"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}}
    body = {"model": MODEL, "max_tokens": 100, "system": [marked, marked, marked],
            "messages": [{"role": "user", "content": [marked, marked]}]}  # fmt: skip
    refused = post(server, body)
    assert refused.status_code == 400
    assert "A maximum of 4 blocks with cache_control" in refused.json()["error"]["message"]
