"""What a task asks for: a model with its sampling (`ModelSettings`), tools (`ToolSpec`), and
how its session's conversation is compacted (`Compaction`).

These are words of the task's contract (workflow inputs carry them: `Payload`s, decoded
leniently, see `versioned.py`), so they sit below requests, config and workflows: the LLM
format (`llm/messages.py`) takes its `Sampling` from here, tool types check a `ToolSpec`'s
`config` (`tools/base.py`). Requests and config give them strictly: `StrictModelSettings` and
`StrictToolSpec` are the same words with unknown keys refused, so a typo is an error there.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from .versioned import Payload

__all__ = [
    "HISTORY_PLACEHOLDER",
    "MAX_JSON_DEPTH",
    "TOOL_NAME_PATTERN",
    "Compaction",
    "ModelChoice",
    "ModelSettings",
    "ReasoningSettings",
    "Sampling",
    "StrictCompaction",
    "StrictModelChoice",
    "StrictModelSettings",
    "StrictToolSpec",
    "ToolChoice",
    "ToolChoiceName",
    "ToolSpec",
    "json_bounds_problem",
]


_STRICT = ConfigDict(extra="forbid")


# What every provider accepts as a function name.
TOOL_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class ReasoningSettings(Payload):
    """`model_config.reasoning`: how hard a reasoning model thinks before it answers
    (`effort`, or a token `budget_tokens`), and whether its reasoning summaries stream to
    clients as `llm.reasoning` events (`summary`). Each provider maps these to its own knob;
    one it cannot honour is refused at submission (`llm/knobs.py`)."""

    effort: Literal["low", "medium", "high"] | None = None
    budget_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    summary: bool = False


class ToolChoiceName(Payload):
    """`model_config.tool_choice: {"name": tool}`: the model must call this tool."""

    name: str = Field(pattern=TOOL_NAME_PATTERN)


# `auto` (the model decides), `required` (some tool), `none` (no tool), or one tool by name.
ToolChoice = Literal["auto", "required", "none"] | ToolChoiceName
# The sampling words added in 0.2.0 (release 0.1.0's `Sampling` refuses unknown keys).
_KNOBS = ("reasoning", "tool_choice", "parallel_tool_calls")


class Sampling(Payload):
    """How the model samples its answer: what every provider maps to its own parameters.
    A forcing `tool_choice` (`required`, a name) holds until the model has called a tool;
    the task then goes on with the provider's default (`auto`)."""

    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    top_p: float | None = Field(default=None, gt=0, le=1)
    stop: list[str] | None = Field(default=None, max_length=4)
    response_format: dict[str, Any] | None = None
    # Added in 0.2.0: None keeps each provider's default.
    reasoning: ReasoningSettings | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None

    @field_validator("tool_choice", mode="wrap")
    @classmethod
    def _one_choice(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        # One message for the field, rather than one per member of the union.
        try:
            return handler(value)
        except ValidationError:
            raise ValueError('must be "auto", "required", "none" or {"name": <tool>}') from None

    @model_serializer(mode="wrap")
    def _omit_unset_knobs(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Written only when set: a task that uses none reads as release 0.1.0 wrote it, whose
        # workers refuse unknown keys here (a rolling upgrade runs old workers beside new APIs).
        data: dict[str, Any] = handler(self)
        for key in _KNOBS:
            if data.get(key) is None:
                data.pop(key, None)
        return data

    @property
    def forces_tool(self) -> bool:
        """Whether `tool_choice` makes the model call a tool (`required` or a name)."""
        return self.tool_choice == "required" or isinstance(self.tool_choice, ToolChoiceName)


class ModelChoice(Sampling):
    """Which provider and model, with its sampling.

    There is deliberately no `base_url` or key here: endpoints and secrets come from server
    config only, so a caller cannot send our API keys elsewhere.
    """

    provider: str = Field(min_length=1, max_length=64)
    model: str = Field(min_length=1, max_length=256)
    stream: bool = True

    @property
    def key(self) -> str:
        """`provider/model`: how usage and events name this model."""
        return f"{self.provider}/{self.model}"


class ModelSettings(ModelChoice):
    """`model_config` of a request: the model, and the `fallbacks` tried in order, with the
    same transcript, when it is down (retries used up) or does not serve the model."""

    fallbacks: list[ModelChoice] = Field(default_factory=list, max_length=4)

    def choices(self) -> list[ModelChoice]:
        """The model, then its fallbacks."""
        return [ModelChoice.model_validate(self.model_dump(exclude={"fallbacks"})), *self.fallbacks]


class _StrictReasoning(ReasoningSettings):
    model_config = _STRICT


class _StrictToolChoiceName(ToolChoiceName):
    model_config = _STRICT


class _StrictSampling(Sampling):
    """The sampling words with their sub-models strict (first base of the strict choices,
    so that its fields win)."""

    model_config = _STRICT

    reasoning: _StrictReasoning | None = None
    tool_choice: Literal["auto", "required", "none"] | _StrictToolChoiceName | None = None


class StrictModelChoice(_StrictSampling, ModelChoice):
    """A fallback's `ModelChoice` as a request or config gives it: unknown keys refused."""

    model_config = _STRICT


class StrictModelSettings(_StrictSampling, ModelSettings):
    """`model_config` as a request or config gives it: unknown keys refused."""

    model_config = _STRICT

    fallbacks: list[StrictModelChoice] = Field(default_factory=list, max_length=4)  # type: ignore[assignment]


# Where a summarizer's prompt template takes the conversation it summarizes.
HISTORY_PLACEHOLDER = "{conversation_history}"


class Compaction(Payload):
    """When and how a session's conversation is compacted (README "Context compaction"): once
    the prompt of an LLM call would reach `token_threshold` tokens (estimated at four
    characters a token), or once `interval` turns could be summarized, the turns before the
    last `overlap` (at least the current one) are summarized by `model` with
    `prompt_template` (None: kagent's prompt), or dropped when no `model` is given. The
    summary goes into the transcript; later calls send it, then the messages after it."""

    token_threshold: int | None = Field(default=None, ge=1)
    interval: int | None = Field(default=None, ge=1)
    overlap: int = Field(default=2, ge=0)
    model: ModelChoice | None = None
    prompt_template: str | None = None


class StrictCompaction(Compaction):
    """`Compaction` as a request or config gives it: unknown keys refused, and checked."""

    model_config = _STRICT

    overlap: int = Field(default=2, ge=0, le=1000)
    model: StrictModelChoice | None = None
    prompt_template: str | None = Field(default=None, min_length=1, max_length=65_536)

    @field_validator("prompt_template")
    @classmethod
    def _takes_history(cls, value: str | None) -> str | None:
        if value is not None and HISTORY_PLACEHOLDER not in value:
            raise ValueError(f"must contain {HISTORY_PLACEHOLDER}, where the conversation goes")
        return value

    @model_validator(mode="after")
    def _has_trigger(self) -> StrictCompaction:
        if self.token_threshold is None and self.interval is None:
            raise ValueError("set token_threshold, interval or both: when to compact")
        return self


MAX_JSON_DEPTH = 32  # deep enough for any real tool schema or metadata


def json_bounds_problem(value: Any, *, max_depth: int, max_bytes: int) -> str | None:
    """Why `value` (parsed JSON) is over the bounds, or None when it is within them."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            return f"nested deeper than {max_depth} levels"
        children = (
            node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        )
        stack.extend((child, depth + 1) for child in children)
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > max_bytes:
        return f"larger than {max_bytes} bytes as JSON ({size})"
    return None


class ToolSpec(Payload):
    """A tool the LLM may call; `type` picks the implementation, `config` is its settings
    (checked by that tool type, see `tools/base.py`)."""

    name: str = Field(pattern=TOOL_NAME_PATTERN)
    description: str = Field(default="", max_length=8192)
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    type: str = Field(default="http", min_length=1, max_length=64)
    config: dict[str, Any] = Field(default_factory=dict)
    # The spec's word that its calls change nothing (added in 0.2.0): HTTP and MCP tools are
    # taken to have side effects without it; built-ins declare their own (`tools/base.py`).
    read_only: bool = False

    @field_validator("parameters")
    @classmethod
    def _object_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("type", "object") != "object":
            raise ValueError('must be a JSON Schema with "type": "object"')
        if "properties" in value and not isinstance(value["properties"], dict):
            raise ValueError('"properties" must be an object')
        return value


class StrictToolSpec(ToolSpec):
    """A `ToolSpec` as a request or config gives it: unknown keys refused."""

    model_config = _STRICT
