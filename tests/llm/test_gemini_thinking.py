"""Gemini's thinking and tool_choice through the official SDK (Developer API and Vertex AI)
against the Gemini wire fake, which refuses, as Gemini 3 does, a tool turn of the current
exchange without its thought signature (`tests/fakes/gemini_rules.py`)."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from temporal_executor.llm import LLMRequest, Message, Sampling
from temporal_executor.spec import ReasoningSettings, ToolChoiceName
from tests.fakes.rules import FakeControl
from tests.fakes.server import FakeServer
from tests.llm.conftest import BOTH, TOOLS, results, tool_steps
from tests.llm.test_gemini_provider import (  # the fake, the providers, a clean environment
    KEY,
    SKIP_SIGNATURE,
    Gemini,
    environment,
    provider,
    server,
)

__all__ = ["environment", "provider", "server"]  # fixtures, used by name

MODEL = "gemini-3-flash-preview"


@BOTH
async def test_a_tool_turn_goes_back_with_its_own_signature(
    provider: Gemini, fake: FakeControl, stream: bool
) -> None:
    """Two sequential tool steps in one exchange: each model turn goes back as it came,
    with the signature Gemini gave it (not the placeholder), and Gemini 3 accepts them."""
    ask = [Message(role="user", content="plan my trip")]
    request = LLMRequest(
        model=MODEL, messages=ask, tools=TOOLS, sampling=Sampling(tool_choice="required")
    )
    (first, _, third), _ = await tool_steps(provider, request, f"gemini/{MODEL}", stream)

    assert third.message.content == "Tool results: search=sunny"
    contents = fake.requests()[-1]["contents"]
    signatures = [contents[i]["parts"][0]["thoughtSignature"] for i in (1, 3)]
    assert len(set(signatures)) == 2 and SKIP_SIGNATURE not in signatures
    assert first.native is not None
    assert contents[1]["parts"][0]["functionCall"] == {
        "name": "search",
        "args": {"query": "plan my trip"},
    }


async def test_a_turn_of_another_model_carries_the_placeholder(
    provider: Gemini, fake: FakeControl
) -> None:
    first = await provider.chat(
        LLMRequest(model=MODEL, messages=[Message(role="user", content="q")], tools=TOOLS)
    )
    foreign = first.message  # no reasoning: as if another model had written it

    second = await provider.chat(
        LLMRequest(
            model=MODEL,
            messages=[Message(role="user", content="q"), foreign, *results(foreign)],
            tools=TOOLS,
        )
    )

    assert second.message.content == "Tool results: search=sunny"
    assert fake.requests()[-1]["contents"][1]["parts"][0]["thoughtSignature"] == SKIP_SIGNATURE


@BOTH
async def test_thoughts_are_reasoning_and_the_text_signature_is_kept(
    provider: Gemini, fake: FakeControl, stream: bool
) -> None:
    """With summaries asked for, thoughts stream as reasoning, never as text; a text answer's
    signature (on a last, empty part in a stream) stays on its text part."""
    sampling = Sampling(reasoning=ReasoningSettings(effort="low", summary=True))
    request = LLMRequest(
        model=MODEL, messages=[Message(role="user", content="hi")], sampling=sampling
    )
    if stream:
        chunks = [chunk async for chunk in provider.chat_stream(request)]
        assert "".join(c.reasoning for c in chunks) == "I think about: hi"
        response = chunks[-1].response
        assert response is not None
    else:
        response = await provider.chat(request)

    assert response.message.content == "Echo: hi"
    config = fake.requests()[-1]["generationConfig"]["thinkingConfig"]
    assert config == {"include_thoughts": True, "thinking_level": "LOW"}
    assert response.native is not None
    thought, text = response.native.items
    assert thought == {"text": "I think about: hi", "thought": True}
    assert text["text"] == "Echo: hi" and text["thought_signature"]
    assert response.usage.completion_tokens > len("Echo: hi") // 4  # thoughts counted


@pytest.mark.parametrize(
    ("model", "reasoning", "expected"),
    [
        ("gemini-2.5-flash", ReasoningSettings(effort="medium"), {"thinking_budget": 8192}),
        ("gemini-2.5-pro", ReasoningSettings(budget_tokens=2048), {"thinking_budget": 2048}),
        ("gemini-3-flash-preview", ReasoningSettings(effort="high"), {"thinking_level": "HIGH"}),
    ],
)
async def test_reasoning_is_a_thinking_level_or_budget(
    provider: Gemini,
    fake: FakeControl,
    model: str,
    reasoning: ReasoningSettings,
    expected: dict[str, Any],
) -> None:
    sampling = Sampling(reasoning=reasoning)
    await provider.chat(
        LLMRequest(model=model, messages=[Message(role="user", content="hi")], sampling=sampling)
    )
    assert fake.requests()[-1]["generationConfig"]["thinkingConfig"] == expected


@pytest.mark.parametrize(
    ("choice", "config", "called"),
    [
        ("required", {"mode": "ANY"}, "search"),
        (ToolChoiceName(name="fetch"), {"allowedFunctionNames": ["fetch"], "mode": "ANY"}, "fetch"),
        ("none", {"mode": "NONE"}, None),
        ("auto", {"mode": "AUTO"}, "search"),
    ],
)
async def test_tool_choice_is_the_function_calling_mode(
    provider: Gemini, fake: FakeControl, choice: Any, config: dict[str, Any], called: str | None
) -> None:
    answer = await provider.chat(
        LLMRequest(
            model=MODEL,
            messages=[Message(role="user", content="hi")],
            tools=TOOLS,
            sampling=Sampling(tool_choice=choice),
        )
    )
    sent = fake.requests()[-1]["toolConfig"]["functionCallingConfig"]
    # The Developer API and Vertex AI spell the inner keys differently; Google takes both.
    assert {
        k.replace("allowed_function_names", "allowedFunctionNames"): v for k, v in sent.items()
    } == config
    assert [c.name for c in answer.message.tool_calls] == ([called] if called else [])


# --- the fake refuses what Gemini 3 refuses ------------------------------------------------------


def test_fake_refuses_a_gemini_3_tool_turn_without_its_signature(
    server: FakeServer, fake: FakeControl
) -> None:
    url = f"{server.url}/v1beta/models/{MODEL}:generateContent"
    tools = [{"functionDeclarations": [{"name": "search"}]}]
    ask = {"role": "user", "parts": [{"text": "q"}]}
    reply = httpx.post(url, params={"key": KEY}, json={"contents": [ask], "tools": tools}).json()
    call = reply["candidates"][0]["content"]["parts"][0]
    answered = {
        "role": "user",
        "parts": [{"functionResponse": {"name": "search", "response": {"output": "x"}}}],
    }

    def send(*contents: dict[str, Any]) -> tuple[int, str]:
        answer = httpx.post(url, params={"key": KEY}, json={"contents": list(contents)})
        return answer.status_code, answer.json().get("error", {}).get("message", "")

    bare = {"functionCall": call["functionCall"]}
    forged = bare | {"thoughtSignature": base64.b64encode(b"forged").decode()}
    urlsafe = bare | {"thought_signature": call["thoughtSignature"].replace("+", "-")}

    missing = send(ask, {"role": "model", "parts": [bare]}, answered)
    assert missing[0] == 400
    assert missing[1].startswith("Function call is missing a thought_signature in functionCall")
    assert "`default_api:search` , position 2" in missing[1]
    assert send(ask, {"role": "model", "parts": [forged]}, answered)[0] == 400
    assert send(ask, {"role": "model", "parts": [call]}, answered)[0] == 200
    assert send(ask, {"role": "model", "parts": [urlsafe]}, answered)[0] == 200
    # Only the current exchange is checked: a later user message starts a new one.
    later = {"role": "user", "parts": [{"text": "thanks"}]}
    assert send(ask, {"role": "model", "parts": [bare]}, answered, later)[0] == 200


def test_fake_refuses_both_a_thinking_level_and_budget(
    server: FakeServer, fake: FakeControl
) -> None:
    url = f"{server.url}/v1beta/models/{MODEL}:generateContent"
    both = {"thinkingConfig": {"thinkingLevel": "LOW", "thinkingBudget": 1024}}
    body = {"contents": [{"role": "user", "parts": [{"text": "q"}]}], "generationConfig": both}
    answer = httpx.post(url, params={"key": KEY}, json=body)
    assert answer.status_code == 400
    assert "both thinking_level and thinking_budget" in answer.json()["error"]["message"]
