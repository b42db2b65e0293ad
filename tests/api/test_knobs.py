"""`model_config.reasoning`, `tool_choice` and `parallel_tool_calls`: a knob a provider or
model cannot honour is a 400 at submission naming the field, decided from config alone (the
API builds no SDK client); one it can honour reaches the workflow input as given."""

from __future__ import annotations

from typing import Any

import pytest

from temporal_executor.api import Submissions
from temporal_executor.api.bodies import ExecuteRequest
from temporal_executor.config import Config, DefaultAgent
from temporal_executor.errors import ConfigError, RequestError
from temporal_executor.llm.catalog import ProviderCatalog
from temporal_executor.llm.knobs import claude_version, gemini_version
from temporal_executor.tools import ToolRegistry

HTTP = "http://127.0.0.1:9"


def submissions() -> Submissions:
    config = Config.model_validate(
        {
            "llm": {
                "providers": [
                    {"name": "openai", "api_key_env": "X", "config": {"base_url": HTTP}},
                    {
                        "name": "azure-openai",
                        "api_key_env": "X",
                        "config": {
                            "endpoint": HTTP,
                            "api_version": "2025-04-01-preview",
                            "api": "responses",
                        },
                    },
                    {"name": "openai-compatible", "config": {"base_url": HTTP}},
                    {"name": "anthropic", "api_key_env": "X"},
                    {"name": "gemini", "api_key_env": "X"},
                    {"name": "vertexai", "config": {"project_id": "p", "location": "l"}},
                    {
                        "name": "scripted",
                        "class": "temporal_executor.testing:ScriptedProvider",
                        "config": {"steps": [{"text": "hi"}]},
                    },
                ]
            }
        }
    )
    catalog = ProviderCatalog(config.llm)
    return Submissions(config, catalog, ToolRegistry(config.tools))


def request(model: dict[str, Any], *, tools: bool = True) -> ExecuteRequest:
    # With its description and parameters given, a builtin is no spec to expand: the tool
    # names are known at submission.
    ask_user = {
        "name": "ask_user",
        "type": "builtin",
        "description": "Ask the user",
        "parameters": {"type": "object", "properties": {"questions": {"type": "array"}}},
    }
    return ExecuteRequest.model_validate(
        {"user_message": "hi", "model_config": model, "tools": [ask_user] if tools else []}
    )


REFUSED = [
    # OpenAI: effort for reasoning models only, no budget, summaries on the Responses API only.
    ({"provider": "openai", "model": "gpt-4o", "reasoning": {"effort": "low"}},
     "model_config.reasoning: openai/gpt-4o: not a reasoning model"),
    ({"provider": "openai", "model": "o3", "reasoning": {"budget_tokens": 2048}},
     "model_config.reasoning.budget_tokens"),
    ({"provider": "openai", "model": "gpt-5", "reasoning": {"effort": "high", "summary": True}},
     "model_config.reasoning.summary: openai/gpt-5: Chat Completions returns no reasoning"),
    ({"provider": "azure-openai", "model": "gpt-5", "stop": ["END"]},
     "model_config.stop: azure-openai/gpt-5: the Responses API has no stop sequences"),
    ({"provider": "openai-compatible", "model": "qwen3", "reasoning": {"budget_tokens": 2048}},
     "model_config.reasoning.budget_tokens"),
    # Claude: effort from 4.6, budget up to 4.6 (≥ 1024, < max_tokens), no forcing or
    # sampling changes while thinking, a summary only of thinking.
    ({"provider": "anthropic", "model": "claude-sonnet-4-5", "reasoning": {"effort": "low"}},
     "model_config.reasoning.effort: anthropic/claude-sonnet-4-5: this model takes "
     "reasoning.budget_tokens"),
    ({"provider": "anthropic", "model": "claude-opus-4-7", "reasoning": {"budget_tokens": 2048}},
     "model_config.reasoning.budget_tokens: anthropic/claude-opus-4-7: this model takes "
     "reasoning.effort only"),
    ({"provider": "anthropic", "model": "claude-sonnet-4-5", "reasoning": {"budget_tokens": 512}},
     "must be at least 1024"),
    ({"provider": "anthropic", "model": "claude-sonnet-4-5", "max_tokens": 2000,
      "reasoning": {"budget_tokens": 2048}}, "model_config.max_tokens: "),
    ({"provider": "anthropic", "model": "claude-sonnet-4-6", "tool_choice": "required",
      "reasoning": {"effort": "low"}}, "model_config.tool_choice: anthropic/claude-sonnet-4-6"),
    ({"provider": "anthropic", "model": "claude-sonnet-4-6", "temperature": 0.2,
      "reasoning": {"effort": "low"}}, "model_config.temperature"),
    ({"provider": "anthropic", "model": "claude-sonnet-4-6", "reasoning": {"summary": True}},
     "model_config.reasoning.summary"),
    ({"provider": "vertexai", "model": "claude-sonnet-4-5", "reasoning": {"effort": "low"}},
     "model_config.reasoning.effort: vertexai/claude-sonnet-4-5"),
    # Gemini: thinking from 2.5, no switch for parallel calls, effort or budget.
    ({"provider": "gemini", "model": "gemini-2.0-flash", "reasoning": {"effort": "low"}},
     "model_config.reasoning: gemini/gemini-2.0-flash: this model does not think"),
    ({"provider": "vertexai", "model": "gemini-3-flash-preview", "parallel_tool_calls": False},
     "model_config.parallel_tool_calls: vertexai/gemini-3-flash-preview"),
    ({"provider": "gemini", "model": "gemini-2.5-flash",
      "reasoning": {"effort": "low", "budget_tokens": 2048}}, "not both"),
    # A plugin takes none of the knobs unless it says so.
    ({"provider": "scripted", "model": "s", "tool_choice": "auto"},
     "model_config.tool_choice: scripted/s: this provider does not take it"),
    # tool_choice names a tool of the task; forcing needs tools. Fallbacks are checked too.
    ({"provider": "openai", "model": "gpt-4o", "tool_choice": {"name": "nope"}},
     "model_config.tool_choice.name: no tool 'nope' (tools: ask_user)"),
    ({"provider": "openai", "model": "gpt-4o", "fallbacks": [
        {"provider": "gemini", "model": "gemini-2.5-pro", "parallel_tool_calls": False}]},
     "model_config.fallbacks.0.parallel_tool_calls: gemini/gemini-2.5-pro"),
]  # fmt: skip


@pytest.mark.parametrize(("model", "message"), REFUSED)
def test_a_knob_the_model_cannot_honour_is_refused(model: dict[str, Any], message: str) -> None:
    with pytest.raises(RequestError) as refused:
        submissions().prepare(request(model))
    assert refused.value.http_status == 400
    assert message in refused.value.message
    field = refused.value.message.split(": ")[0]
    assert refused.value.details == {"field": field}


def test_forcing_a_tool_call_needs_tools() -> None:
    model = {"provider": "openai", "model": "gpt-4o", "tool_choice": "required"}
    with pytest.raises(RequestError, match=r"model_config\.tool_choice: forces a tool call"):
        submissions().prepare(request(model, tools=False))


ACCEPTED = [
    {"provider": "openai", "model": "o4-mini", "reasoning": {"effort": "low"},
     "tool_choice": {"name": "ask_user"}, "parallel_tool_calls": False},
    {"provider": "azure-openai", "model": "gpt-5",
     "reasoning": {"effort": "high", "summary": True}},
    {"provider": "openai-compatible", "model": "qwen3", "reasoning": {"effort": "low"},
     "tool_choice": "none"},
    {"provider": "anthropic", "model": "claude-sonnet-4-5", "max_tokens": 8000,
     "reasoning": {"budget_tokens": 2048, "summary": True}, "tool_choice": "auto",
     "parallel_tool_calls": False},
    {"provider": "anthropic", "model": "claude-opus-4-8", "reasoning": {"effort": "medium"},
     "temperature": 1},
    {"provider": "anthropic", "model": "claude-haiku-4-5", "tool_choice": "required"},
    {"provider": "vertexai", "model": "claude-sonnet-4-6", "reasoning": {"budget_tokens": 1024}},
    {"provider": "gemini", "model": "gemini-2.5-flash", "reasoning": {"effort": "high"},
     "tool_choice": "required", "parallel_tool_calls": True},
    {"provider": "vertexai", "model": "gemini-3-flash-preview",
     "reasoning": {"effort": "low", "summary": True}},
]  # fmt: skip


@pytest.mark.parametrize("model", ACCEPTED)
def test_a_knob_the_model_honours_reaches_the_workflow(model: dict[str, Any]) -> None:
    prepared = submissions().prepare(request(model)).input.model.model_dump(mode="json")
    for key, value in model.items():
        if key == "reasoning":
            assert {k: v for k, v in prepared[key].items() if k in value} == value
        else:
            assert prepared[key] == value


@pytest.mark.parametrize(
    ("model", "version"),
    [
        ("claude-sonnet-4-6", (4, 6)),
        ("claude-opus-5", (5, 0)),
        ("claude-haiku-4-5-20251001", (4, 5)),
        ("claude-opus-4-5@20251101", (4, 5)),
        ("claude-3-7-sonnet-20250219", (3, 7)),
        ("claude-fable-5-2", (5, 2)),
        ("claude-latest", None),
    ],
)
def test_claude_versions(model: str, version: tuple[int, int] | None) -> None:
    assert claude_version(model) == version


def test_gemini_versions() -> None:
    assert gemini_version("gemini-2.5-flash-lite") == (2, 5)
    assert gemini_version("gemini-3-flash-preview") == (3, 0)
    assert gemini_version("gemini-4-argon") == (4, 0)
    assert gemini_version("learnlm") is None


def test_the_default_agent_is_checked_at_start() -> None:
    """A default agent (kagent's definition sets it) whose model has a knob its provider
    cannot honour stops the start-up naming the key: every message would be refused."""
    checked = submissions()
    bad = {"provider": "openai", "model": "gpt-4o", "reasoning": {"effort": "low"}}
    with pytest.raises(ConfigError) as refused:
        checked.check_default_agent(DefaultAgent.model_validate({"model_config": bad}))
    assert refused.value.message.startswith(
        "config: a2a.default_agent.model_config.reasoning: openai/gpt-4o: not a reasoning model"
    )
    fallback = {**ACCEPTED[1], "fallbacks": [bad]}
    with pytest.raises(ConfigError, match=r"default_agent\.model_config\.fallbacks\.0\."):
        checked.check_default_agent(DefaultAgent.model_validate({"model_config": fallback}))
    for model in ({**ACCEPTED[1]}, {"provider": "openai", "model": "gpt-4o-mini"}):
        checked.check_default_agent(DefaultAgent.model_validate({"model_config": model}))
    # A provider this server lacks is each request's 400, as before (the default names one).
    only = Config.model_validate(
        {"llm": {"providers": [{"name": "anthropic", "api_key_env": "X"}]}}
    )
    elsewhere = Submissions(only, ProviderCatalog(only.llm), ToolRegistry(only.tools))
    elsewhere.check_default_agent(DefaultAgent.model_validate({"model_config": bad}))
