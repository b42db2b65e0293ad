"""Gemini's reasoning and request knobs: `thinking_config` and `tool_config` from our
`Sampling`, and the model's whole turn kept as it came (`Turn`), thought signatures and all.

Gemini signs its thinking with a `thought_signature` on a part of its answer (the first
function call of each step, or the last part of a text answer), and from Gemini 3 refuses a
function-call turn of the current exchange whose signature is missing: "you must return this
signature in the exact part where it was received". So every part of a reply is kept (thought
summaries and signature-only parts too) and a turn this very model wrote goes back as those
parts. A stream gives a text in pieces and may put its signature on a later, empty part:
consecutive pieces of text are joined into one part, carrying the signature that came last,
as a whole reply has it. A turn from another model (a fallback) or with calls a person
edited has no signature to send: its first function call gets Google's documented
placeholder (`skip_thought_signature_validator`, `gemini.py`) and never a real one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from google.genai import types

from ..spec import Sampling, ToolChoiceName
from .knobs import GEMINI_EFFORT_BUDGETS, gemini_version

__all__ = ["KIND", "Turn", "model_content", "thinking_config", "tool_config"]

KIND = "gemini"  # `NativeTurn.kind` of a Gemini turn: its parts, as the SDK dumps them
_LEVELS = {"low": types.ThinkingLevel.LOW, "medium": types.ThinkingLevel.MEDIUM,
           "high": types.ThinkingLevel.HIGH}  # fmt: skip


def thinking_config(model: str, sampling: Sampling) -> types.ThinkingConfig | None:
    """`reasoning` as Gemini's thinking: an effort is a `thinking_level` from Gemini 3, a
    budget for 2.5 (Google's own mapping of OpenAI's efforts); `budget_tokens` a
    `thinking_budget`; never both, which Gemini refuses. `summary` asks for thought summaries."""
    reasoning = sampling.reasoning
    if reasoning is None:
        return None
    config = types.ThinkingConfig(include_thoughts=True if reasoning.summary else None)
    if reasoning.budget_tokens is not None:
        config.thinking_budget = reasoning.budget_tokens
    elif reasoning.effort is not None:
        version = gemini_version(model)
        if version is not None and version < (3, 0):
            config.thinking_budget = GEMINI_EFFORT_BUDGETS[reasoning.effort]
        else:
            config.thinking_level = _LEVELS[reasoning.effort]
    return config


def tool_config(sampling: Sampling) -> types.ToolConfig | None:
    """`tool_choice` as Gemini's function calling mode: `required` is ANY, a name ANY limited
    to that function (Gemini has no switch for parallel calls: refused at submission)."""
    choice = sampling.tool_choice
    if choice is None:
        return None
    mode = {"auto": "AUTO", "none": "NONE"}.get(choice, "ANY") if isinstance(choice, str) else "ANY"
    names = [choice.name] if isinstance(choice, ToolChoiceName) else None
    calling = types.FunctionCallingConfig(
        mode=types.FunctionCallingConfigMode(mode), allowed_function_names=names
    )
    return types.ToolConfig(function_calling_config=calling)


def model_content(items: list[dict[str, Any]]) -> types.Content:
    """A kept turn as it goes back: the model's parts, verbatim."""
    return types.Content(role="model", parts=[types.Part.model_validate(item) for item in items])


@dataclass
class Turn:
    """The parts of a reply as they come (one reply, or a stream's chunks), joined as the
    module docstring says."""

    parts: list[types.Part] = field(default_factory=list)

    def add(self, part: types.Part) -> None:
        last = self.parts[-1] if self.parts else None
        if (
            last is not None
            and _text_only(last)
            and _text_only(part)
            and bool(last.thought) == bool(part.thought)
            and not last.thought_signature
        ):
            self.parts[-1] = last.model_copy(
                update={
                    "text": (last.text or "") + (part.text or ""),
                    "thought_signature": part.thought_signature,
                }
            )
        else:
            self.parts.append(part)

    def native(self) -> list[dict[str, Any]] | None:
        """The turn to keep, when it holds thinking (a signature, a thought); else None."""
        if not any(part.thought_signature or part.thought for part in self.parts):
            return None
        return [part.model_dump(mode="json", exclude_none=True) for part in self.parts]


def _text_only(part: types.Part) -> bool:
    fields = part.model_dump(exclude_none=True, exclude={"text", "thought", "thought_signature"})
    return part.text is not None and not fields
