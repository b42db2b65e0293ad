"""Which request knobs each built-in provider (and model) can honour: `model_config.reasoning`,
`tool_choice`, `parallel_tool_calls`, and `stop` on the Responses API.

Known from config alone (no SDK is imported here), so the API refuses a knob a provider or
model cannot honour with a 400 naming the field before any workflow starts, rather than the
vendor answering 400 mid-task. The adapters map the knobs to each vendor's parameters; this
module only says whether they may. What decides, per family (`_BUILTINS` in `catalog.py`):

- `openai` / `azure-openai` (model names: reasoning models are o-series and gpt-5, the only
  ones that take `reasoning_effort`), `openai-compatible` (any server; knobs passed through):
  `effort`; no token budget; `summary` on the Responses API only (`config.api: responses`),
  where `stop` does not exist.
- `anthropic` and Claude on `vertexai`: thinking by version. Claude 4.6 brought adaptive
  thinking steered by `effort` (earlier models take only `budget_tokens`, ≥ 1024 and below
  `max_tokens`); from 4.7 a budget is refused by the API. While thinking, a forced tool call
  and `temperature` / `top_p` changes are refused by the API.
- `gemini` and Gemini on `vertexai`: thinking from 2.5 (`thinking_level` from Gemini 3,
  `thinking_budget` for 2.5, never both); no switch for parallel calls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..spec import Sampling

__all__ = [
    "GEMINI_EFFORT_BUDGETS",
    "OPENAI_REASONING_MODEL",
    "Problem",
    "claude_version",
    "gemini_version",
    "problem",
    "uses_responses",
]

# OpenAI's reasoning models (o1, o3, o3-mini, o4-mini … and the gpt-5 family, with or
# without a date suffix): they reject `max_tokens`, take `reasoning_effort`, and on the
# Responses API return reasoning items.
OPENAI_REASONING_MODEL = re.compile(r"^(o\d|gpt-5)")
# Google maps OpenAI's reasoning_effort to these Gemini 2.5 thinking budgets (Gemini's
# OpenAI compatibility guide): low 1K, medium 8K, high 24K tokens.
GEMINI_EFFORT_BUDGETS = {"low": 1024, "medium": 8192, "high": 24576}
ANTHROPIC_MIN_BUDGET = 1024
_CLAUDE_VERSION = re.compile(r"(?<![0-9])(\d{1,2})(?:[-.](\d{1,2}))?(?![0-9])")
_GEMINI_VERSION = re.compile(r"^gemini-(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class Problem:
    """Why a knob cannot be honoured: `field` under `model_config` ("reasoning.effort")."""

    field: str
    message: str


def claude_version(model: str) -> tuple[int, int] | None:
    """(major, minor) of a Claude model name: `claude-sonnet-4-6` (4, 6), `claude-opus-5`
    (5, 0), `claude-haiku-4-5-20251001` (4, 5), `claude-3-7-sonnet-20250219` (3, 7); None
    without one (an 8-digit date is not a version)."""
    match = _CLAUDE_VERSION.search(model.split("@")[0])
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2) or 0)


def gemini_version(model: str) -> tuple[int, int] | None:
    """(major, minor) of a Gemini model name: `gemini-2.5-flash` (2, 5); None without one."""
    match = _GEMINI_VERSION.match(model)
    return (int(match.group(1)), int(match.group(2) or 0)) if match else None


def uses_responses(settings: Any) -> bool:
    """Whether an OpenAI-family entry speaks the Responses API (`config.api: responses`)."""
    return getattr(settings, "api", "chat") == "responses"


def problem(family: str | None, settings: Any, model: str, sampling: Sampling) -> Problem | None:
    """The first knob of `sampling` that `model` of a provider of `family` cannot honour;
    None when all can. A provider without a family (a plugin) takes none of them."""
    reasoning = sampling.reasoning
    if family is None:
        for name in ("reasoning", "tool_choice", "parallel_tool_calls"):
            if getattr(sampling, name) is not None:
                return Problem(name, "this provider does not take it")
        return None
    if reasoning is not None and reasoning.effort and reasoning.budget_tokens:
        return Problem("reasoning", "set effort or budget_tokens, not both")
    if family == "vertexai":
        family = "anthropic" if model.startswith("claude") else "gemini"
    check = _FAMILIES[family]
    return check(settings, model, sampling)


def _openai(settings: Any, model: str, sampling: Sampling, *, names_known: bool) -> Problem | None:
    reasoning = sampling.reasoning
    responses = uses_responses(settings)
    if reasoning is not None:
        if names_known and not OPENAI_REASONING_MODEL.match(model):
            return Problem("reasoning", "not a reasoning model (o-series, gpt-5)")
        if reasoning.budget_tokens is not None:
            return Problem(
                "reasoning.budget_tokens", "OpenAI takes reasoning.effort, not a token budget"
            )
        if reasoning.summary and not responses:
            return Problem(
                "reasoning.summary",
                "Chat Completions returns no reasoning summaries (set the provider's "
                "config.api: responses)",
            )
    if responses and sampling.stop:
        return Problem("stop", "the Responses API has no stop sequences")
    return None


def _openai_models(settings: Any, model: str, sampling: Sampling) -> Problem | None:
    return _openai(settings, model, sampling, names_known=True)


def _compatible(settings: Any, model: str, sampling: Sampling) -> Problem | None:
    return _openai(settings, model, sampling, names_known=False)


def _anthropic(settings: Any, model: str, sampling: Sampling) -> Problem | None:
    reasoning = sampling.reasoning
    thinking = reasoning is not None and bool(reasoning.effort or reasoning.budget_tokens)
    version = claude_version(model)
    if reasoning is not None:
        if reasoning.summary and not thinking:
            return Problem("reasoning.summary", "needs reasoning.effort or budget_tokens")
        if reasoning.effort and version is not None and version < (4, 6):
            return Problem(
                "reasoning.effort",
                "this model takes reasoning.budget_tokens (effort came with Claude 4.6)",
            )
        budget = reasoning.budget_tokens
        if budget is not None:
            if version is not None and version >= (4, 7):
                return Problem("reasoning.budget_tokens", "this model takes reasoning.effort only")
            if budget < ANTHROPIC_MIN_BUDGET:
                return Problem("reasoning.budget_tokens", "must be at least 1024 for Claude")
            if sampling.max_tokens is not None and sampling.max_tokens <= budget:
                return Problem("max_tokens", "must be greater than reasoning.budget_tokens")
    if thinking:
        if sampling.forces_tool:
            return Problem(
                "tool_choice",
                "Claude cannot be forced to call a tool while it thinks (use auto or none)",
            )
        if sampling.temperature not in (None, 1):
            return Problem("temperature", "must be unset (or 1) while Claude thinks")
        if sampling.top_p is not None and sampling.top_p < 0.95:
            return Problem("top_p", "must be unset (or at least 0.95) while Claude thinks")
    return None


def _gemini(settings: Any, model: str, sampling: Sampling) -> Problem | None:
    version = gemini_version(model)
    if sampling.reasoning is not None and version is not None and version < (2, 5):
        return Problem("reasoning", "this model does not think (Gemini 2.5 and later do)")
    if sampling.parallel_tool_calls is False:
        return Problem("parallel_tool_calls", "Gemini has no switch for parallel calls")
    return None


_FAMILIES = {
    "openai": _openai_models,
    "compatible": _compatible,
    "anthropic": _anthropic,
    "gemini": _gemini,
}
