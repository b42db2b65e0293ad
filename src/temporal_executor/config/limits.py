"""Limits that every worker of a deployment shares (kept in the store, see `store/limits.py`):
calls at once and per minute, and for LLMs tokens per minute.

```yaml
llm:
  providers:
    - name: openai
      limits:                         # `llm:openai`: every call to the provider
        concurrency: 4                # calls in flight at once
        requests_per_minute: 120      # calls started in any 60 s
        tokens_per_minute: 200000     # tokens (estimated when sent, counted when answered)
        models:
          gpt-4o: {concurrency: 2}    # `llm:openai/gpt-4o`: also, for this model
tools:
  limits:
    tools: {get_weather: {concurrency: 2, requests_per_minute: 60}}  # `tool:get_weather`
    mcp_servers: {github: {concurrency: 4}}     # `mcp:github`: every tool of that server
```

A provider with `limits` (even `limits: {}`) also shares a 429: every worker holds back its
calls to that provider (or model, when it has limits of its own) until `Retry-After` passes.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from .section import Section

__all__ = ["LLMLimit", "ProviderLimits", "RequestLimit", "ToolLimits"]


class RequestLimit(Section):
    """Calls in flight at once, and calls started in any 60 seconds; None: no bound."""

    concurrency: int | None = Field(default=None, ge=1, le=100_000)
    requests_per_minute: float | None = Field(default=None, gt=0, le=10_000_000)


class LLMLimit(RequestLimit):
    """A request limit and tokens (prompt + answer) in any 60 seconds."""

    tokens_per_minute: int | None = Field(default=None, ge=1)


class ProviderLimits(LLMLimit):
    """`llm.providers[].limits`: the provider's, and each model's under `models`."""

    models: dict[str, LLMLimit] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _model_names(self) -> ProviderLimits:
        for model in self.models:
            if not model or len(model) > 256:
                raise ValueError(f"models: {model!r} is not a model name")
        return self


class ToolLimits(Section):
    """`tools.limits`: by tool name (what the LLM calls), and by MCP server (every tool of a
    server in `tools.mcp_servers`)."""

    tools: dict[str, RequestLimit] = Field(default_factory=dict)
    mcp_servers: dict[str, RequestLimit] = Field(default_factory=dict)
