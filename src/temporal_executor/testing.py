"""Test doubles for the extension points, for fast, focused tests of the workflow and the
service: a provider and a tool type that answer from a script, in this process.

`ScriptedProvider` is a real `Provider` (configured like any other, by class path):

```yaml
llm:
  providers:
    - name: scripted
      class: temporal_executor.testing:ScriptedProvider
      config:
        steps:
          - {tool_calls: [{name: lookup, arguments: {q: x}}], times: 3}
          - {text: "done"}
```

The step it plays is picked by how many LLM answers the current turn already has (the
assistant messages since the last user message), so a retried call plays the same step and a
task plays its script from the top on every turn. `ScriptedTool` (tool type `scripted`, added
with `ToolRegistry(settings, types=SCRIPTED_TOOL_TYPES)`) answers each call with its spec's
`config.result`, after `config.delay` seconds, or fails with `config.error`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from .errors import ProviderError, ToolError
from .llm.base import Provider
from .llm.messages import LLMRequest, LLMResponse, Message, StreamChunk, ToolCall, Usage
from .llm.settings import ProviderSettings
from .spec import ToolSpec
from .tools.base import ToolType

__all__ = [
    "SCRIPTED_TOOL_TYPES",
    "ScriptStep",
    "ScriptedProvider",
    "ScriptedSettings",
    "ScriptedTool",
    "ScriptedToolConfig",
]


class ScriptedCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ScriptStep(BaseModel):
    """One answer: `text`, `tool_calls`, or a failure (`error`, `retryable`), played `times`
    times in a row; `delay` seconds before it."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    tool_calls: list[ScriptedCall] = Field(default_factory=list)
    error: str | None = None
    retryable: bool = True
    delay: float = Field(default=0.0, ge=0)
    times: int = Field(default=1, ge=1)


class ScriptedSettings(ProviderSettings):
    model_config = ConfigDict(extra="forbid")

    steps: list[ScriptStep] = Field(default_factory=lambda: [ScriptStep(text="done")])


class ScriptedProvider(Provider[None]):
    """Answers from `config.steps`; after the last step it plays the last one again."""

    name = "scripted"
    settings_model: ClassVar[type[ProviderSettings]] = ScriptedSettings
    settings: ScriptedSettings

    def check(self) -> None:
        pass  # no key

    def _step(self, request: LLMRequest) -> tuple[int, ScriptStep]:
        turn = 0
        for message in request.messages:
            turn = 0 if message.role == "user" else turn + (message.role == "assistant")
        plan = [step for step in self.settings.steps for _ in range(step.times)]
        return turn, plan[min(turn, len(plan) - 1)]

    async def chat(self, request: LLMRequest) -> LLMResponse:
        turn, step = self._step(request)
        if step.delay:
            await asyncio.sleep(step.delay)
        if step.error is not None:
            raise ProviderError(f"scripted: {step.error}", retryable=step.retryable)
        position = len(request.messages)
        calls = [
            ToolCall(id=f"call-{position}-{n}", name=call.name, arguments=call.arguments)
            for n, call in enumerate(step.tool_calls)
        ]
        text = step.text if step.text is not None or calls else f"answer {turn + 1}"
        message = Message(role="assistant", content=text, tool_calls=calls)
        usage = Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15)
        finish = "tool_calls" if calls else "stop"
        return LLMResponse(message=message, usage=usage, finish_reason=finish)

    async def chat_stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        response = await self.chat(request)
        for word in (response.message.content or "").split(" "):
            yield StreamChunk(text=word + " ")
        yield StreamChunk(response=response)


class ScriptedToolConfig(BaseModel):
    """A `scripted` tool's `config`."""

    model_config = ConfigDict(extra="forbid")

    result: str = "ok"
    delay: float = Field(default=0.0, ge=0)
    error: str | None = None
    retryable: bool = False


class ScriptedTool(ToolType):
    """Answers every call with its spec's `config.result` (after `delay` seconds), or fails
    with `config.error`; counts the calls it ran by tool call id (`calls`) and keeps the
    arguments each ran with (`arguments`)."""

    type = "scripted"
    config_model = ScriptedToolConfig

    calls: ClassVar[dict[str, int]] = {}
    arguments: ClassVar[dict[str, dict[str, Any]]] = {}

    async def call(self, spec: ToolSpec, call: ToolCall) -> str:
        config: ScriptedToolConfig = self.parse_config(spec)
        ScriptedTool.calls[call.id] = ScriptedTool.calls.get(call.id, 0) + 1
        ScriptedTool.arguments[call.id] = call.arguments
        if config.delay:
            await asyncio.sleep(config.delay)
        if config.error is not None:
            raise ToolError(config.error, retryable=config.retryable)
        return config.result


SCRIPTED_TOOL_TYPES: dict[str, type[ToolType]] = {"scripted": ScriptedTool}
