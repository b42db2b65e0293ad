"""OpenAI's knobs and reasoning through the official SDK against the OpenAI wire fake: Chat
Completions (`reasoning_effort`, `tool_choice`, `parallel_tool_calls`, `prompt_cache_key`,
cache writes) and the Responses API (`config.api: responses`: stateless, reasoning items with
`encrypted_content` kept and sent back verbatim, summaries as reasoning chunks), on OpenAI's
paths and Azure's. The fake refuses what OpenAI refuses (`tests/fakes/responses_fake.py`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from temporal_executor.config import ProviderConfig
from temporal_executor.llm import LLMRequest, Message, Sampling
from temporal_executor.llm.openai import OpenAICompatibleProvider, OpenAIProvider
from temporal_executor.spec import ReasoningSettings, ToolChoiceName
from tests.fakes.rules import FakeControl
from tests.fakes.server import FakeServer
from tests.llm.conftest import BOTH, TOOLS, complete, failure, results, tool_steps
from tests.llm.test_openai_provider import (  # the fakes, the key, a clean environment
    KEY,
    KEY_ENV,
    azure,
    azure_fake,
    azure_server,
    environment,
    server,
)

__all__ = ["azure_fake", "azure_server", "environment", "server"]  # fixtures, used by name

REASONER = "gpt-5"
SUMMARY = Sampling(reasoning=ReasoningSettings(effort="low", summary=True))


def make(server: FakeServer, api: str = "responses", name: str = "openai") -> OpenAIProvider:
    config = ProviderConfig(
        name=name, api_key_env=KEY_ENV, config={"base_url": server.url, "api": api}
    )
    return OpenAIProvider(config) if name == "openai" else OpenAICompatibleProvider(config)


@pytest.fixture
async def responses(server: FakeServer, fake: FakeControl) -> AsyncIterator[OpenAIProvider]:
    adapter = make(server)
    yield adapter
    await adapter.aclose()


# --- Chat Completions -----------------------------------------------------------------------------


async def test_chat_completions_knobs(server: FakeServer, fake: FakeControl) -> None:
    """reasoning_effort for a reasoning model; tool_choice and parallel_tool_calls only with
    tools (the API refuses them without); a session's prompt_cache_key for OpenAI only; the
    cache writes OpenAI reports."""
    openai, compatible = make(server, "chat"), make(server, "chat", "openai-compatible")
    sampling = Sampling(
        reasoning=ReasoningSettings(effort="high"),
        tool_choice=ToolChoiceName(name="fetch"),
        parallel_tool_calls=False,
    )
    ask = [Message(role="user", content="hi")]
    fake.enqueue({}, {}, {"cache_read_tokens": 2, "cache_creation_tokens": 1})
    called = await openai.chat(
        LLMRequest(model=REASONER, messages=ask, tools=TOOLS, sampling=sampling, cache_key="s1")
    )
    await openai.chat(LLMRequest(model=REASONER, messages=ask, sampling=sampling, cache_key="s1"))
    longer = [Message(role="user", content="a question long enough to be cached in part")]
    cached = await compatible.chat(LLMRequest(model="o3", messages=longer, cache_key="s1"))
    await openai.aclose()
    await compatible.aclose()

    with_tools, without, other = fake.requests()[-3:]
    assert [c.name for c in called.message.tool_calls] == ["fetch"]  # the forced tool
    assert with_tools["reasoning_effort"] == "high"
    assert with_tools["tool_choice"] == {"type": "function", "function": {"name": "fetch"}}
    assert with_tools["parallel_tool_calls"] is False
    assert with_tools["prompt_cache_key"] == "s1"
    assert "tool_choice" not in without and "parallel_tool_calls" not in without
    assert "prompt_cache_key" not in other  # a compatible server may not take it
    assert (cached.usage.cache_read_tokens, cached.usage.cache_creation_tokens) == (2, 1)


def test_chat_fake_refuses_tool_choice_without_tools(server: FakeServer, fake: FakeControl) -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "q"}]}
    headers = {"Authorization": f"Bearer {KEY}"}
    url = f"{server.url}/chat/completions"
    choice = httpx.post(url, json=body | {"tool_choice": "auto"}, headers=headers)
    effort = httpx.post(url, json=body | {"reasoning_effort": "low"}, headers=headers)
    assert choice.status_code == 400 and "only allowed when 'tools' are specified" in choice.text
    assert effort.status_code == 400 and "'reasoning_effort' is not supported" in effort.text


# --- the Responses API ----------------------------------------------------------------------------


@BOTH
async def test_a_plain_model_on_the_responses_api(
    responses: OpenAIProvider, fake: FakeControl, stream: bool
) -> None:
    request = LLMRequest(
        model="gpt-4o",
        messages=[Message(role="system", content="be brief"), Message(role="user", content="hi")],
        sampling=Sampling(max_tokens=50, temperature=0.2, response_format={"type": "json_object"}),
        cache_key="session-digest",
    )
    response, _ = await complete(responses, request, stream)

    assert response.message.content == "Echo: hi" and response.finish_reason == "stop"
    assert response.native is None  # no reasoning items: nothing to keep
    assert response.usage.prompt_tokens > 0 and response.usage.completion_tokens > 0
    sent = fake.requests()[-1]
    assert sent["_http"]["path"] == "/v1/responses"
    assert sent["store"] is False and "include" not in sent  # not a reasoning model
    assert sent["instructions"] == "be brief"
    assert sent["input"] == [{"role": "user", "content": "hi"}]
    assert (sent["max_output_tokens"], sent["temperature"]) == (50, 0.2)
    assert sent["text"] == {"format": {"type": "json_object"}}
    assert sent["prompt_cache_key"] == "session-digest"


@BOTH
async def test_reasoning_items_go_back_verbatim_across_tool_calls(
    responses: OpenAIProvider, fake: FakeControl, stream: bool
) -> None:
    """Two tool steps with a reasoning model: each turn (reasoning item with its encrypted
    content, then the call with its id) goes back as it came; summaries stream as reasoning."""
    ask = [Message(role="user", content="plan my trip")]
    forced = SUMMARY.model_copy(update={"tool_choice": "required"})
    request = LLMRequest(model=REASONER, messages=ask, tools=TOOLS, sampling=forced)
    (first, _, third), thought = await tool_steps(responses, request, f"openai/{REASONER}", stream)

    assert thought == ("I think about: plan my trip" if stream else "")
    sent = fake.requests()[-3]
    assert sent["include"] == ["reasoning.encrypted_content"]
    assert sent["reasoning"] == {"effort": "low", "summary": "auto"}
    assert sent["tool_choice"] == "required"
    assert first.native is not None
    reasoning, call = first.native.items
    assert reasoning["type"] == "reasoning" and reasoning["encrypted_content"]
    assert reasoning["summary"] == [{"type": "summary_text", "text": "I think about: plan my trip"}]
    assert call["type"] == "function_call" and call["id"].startswith("fc_")
    assert first.usage.completion_tokens > 0
    assert third.message.content == "Tool results: search=sunny"
    items = fake.requests()[-1]["input"]
    assert [i.get("type", "message") for i in items] == [
        "message", "reasoning", "function_call", "function_call_output",
        "reasoning", "function_call", "function_call_output",
    ]  # fmt: skip
    assert items[1] == reasoning and items[2] == call


async def test_a_turn_of_another_model_goes_without_ids(
    responses: OpenAIProvider, fake: FakeControl
) -> None:
    first = await responses.chat(
        LLMRequest(model=REASONER, messages=[Message(role="user", content="q")], tools=TOOLS)
    )
    foreign = first.message  # no reasoning kept: as if another model had written it

    second = await responses.chat(
        LLMRequest(
            model=REASONER,
            messages=[Message(role="user", content="q"), foreign, *results(foreign)],
            tools=TOOLS,
        )
    )

    assert second.message.content == "Tool results: search=sunny"
    items = fake.requests()[-1]["input"]
    assert items[1] == {
        "type": "function_call",
        "call_id": foreign.tool_calls[0].id,
        "name": "search",
        "arguments": '{"query": "q"}',
    }


@pytest.mark.parametrize(
    ("entry", "message", "retryable"),
    [
        ({"stream_error": "server_error", "content": "one two three"}, "error in stream", True),
        ({"failed": "server_error"}, "server_error: canned failure", True),
        ({"failed": "invalid_prompt"}, "invalid_prompt", False),
        ({"truncate": True}, "stream ended before the model finished", True),
        ({"status": 429}, "canned error 429", True),
    ],
)
async def test_responses_errors(
    responses: OpenAIProvider,
    fake: FakeControl,
    entry: dict[str, Any],
    message: str,
    retryable: bool,
) -> None:
    fake.enqueue(entry)
    request = LLMRequest(model="gpt-4o", messages=[Message(role="user", content="hi")])
    error = await failure(responses, request, stream=True)
    assert message in str(error) and error.retryable is retryable


async def test_a_cut_off_answer_is_length(responses: OpenAIProvider, fake: FakeControl) -> None:
    fake.enqueue({"incomplete": "max_output_tokens", "content": "partial"})
    response = await responses.chat(
        LLMRequest(model="gpt-4o", messages=[Message(role="user", content="hi")])
    )
    assert response.finish_reason == "length" and response.message.content == "partial"


@BOTH
async def test_azure_responses(
    azure_server: FakeServer, azure_fake: FakeControl, stream: bool
) -> None:
    provider = azure(azure_server.base_url, api="responses", api_version="2025-04-01-preview")
    request = LLMRequest(model="o3", messages=[Message(role="user", content="hi")], cache_key="k")
    response, _ = await complete(provider, request, stream)
    await provider.aclose()

    assert response.message.content == "Echo: hi" and response.native is not None
    sent = azure_fake.requests()[-1]
    assert sent["_http"]["path"] == "/openai/responses"
    assert sent["_azure"] == {
        "deployment": "o3-prod",
        "api_version": "2025-04-01-preview",
        "auth": "api-key",
    }
    assert sent["model"] == "o3-prod" and "prompt_cache_key" not in sent


# --- the fake refuses what OpenAI refuses ---------------------------------------------------------


def test_fake_refuses_what_the_responses_api_refuses(server: FakeServer, fake: FakeControl) -> None:
    url, headers = f"{server.url}/responses", {"Authorization": f"Bearer {KEY}"}
    tools = [
        {"type": "function", "name": "search", "parameters": {"type": "object"}, "strict": False}
    ]
    ask = {"role": "user", "content": "q"}
    body = {
        "model": REASONER,
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "tools": tools,
    }
    reasoning, call = httpx.post(url, json=body | {"input": [ask]}, headers=headers).json()[
        "output"
    ]
    output = {"type": "function_call_output", "call_id": call["call_id"], "output": "x"}

    def send(*items: dict[str, Any], **extra: Any) -> tuple[int, str]:
        answer = httpx.post(url, json=body | {"input": list(items)} | extra, headers=headers)
        return answer.status_code, (answer.json().get("error") or {}).get("message", "")

    bare = {k: v for k, v in reasoning.items() if k != "encrypted_content"}
    forged = reasoning | {"encrypted_content": "Zm9yZ2Vk"}
    assert send(ask, reasoning, call, output)[0] == 200
    without = send(ask, call, output)
    assert without[0] == 400
    assert without[1] == (
        f"Item '{call['id']}' of type 'function_call' was provided without its required "
        f"'reasoning' item: '{reasoning['id']}'."
    )
    assert (
        "Items are not persisted when `store` is set to false" in send(ask, bare, call, output)[1]
    )
    assert "could not be verified" in send(ask, forged, call, output)[1]
    assert "without its required following item" in send(ask, reasoning, output)[1]
    assert "No tool call found" in send(ask, output)[1]
    assert (
        send(ask, model="gpt-4o", tools=[])[1]
        == "Encrypted content is not supported with this model."
    )
    assert "'stop'" in send(ask, stop=["x"])[1]
