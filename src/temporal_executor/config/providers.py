"""What a task may use: the LLM providers (`llm`) and the tools' settings (`tools`). A
provider's and a tool's own `config` is typed by its adapter (`llm/settings.py`, `tools/`)."""

from __future__ import annotations

import os
from typing import Any

from pydantic import Field, field_validator, model_validator

from .duration import Duration
from .limits import ProviderLimits, ToolLimits
from .section import Section

__all__ = [
    "DEFAULT_PROVIDER",
    "HttpToolConfig",
    "LLMConfig",
    "PriceConfig",
    "ProviderConfig",
    "ToolsConfig",
]


class ProviderConfig(Section):
    """One provider. `class` (`module:Class`) names a provider class that is not built in and
    not installed under the entry point group: the worker and API import it by that path."""

    name: str = Field(min_length=1)
    api_key_env: str | None = None
    # Offered first by clients that let a person pick a model (the web console's New task).
    default_model: str | None = Field(default=None, min_length=1, max_length=256)
    config: dict[str, Any] = Field(default_factory=dict)
    class_: str | None = Field(default=None, alias="class", pattern=r"^[\w.]+:\w+$")
    # Shared by every worker (`config/limits.py`); None: calls are not limited.
    limits: ProviderLimits | None = None

    def api_key(self) -> str | None:
        """The key from the environment, read when needed and never stored or logged."""
        return os.environ.get(self.api_key_env) if self.api_key_env else None


DEFAULT_PROVIDER = {"name": "openai", "api_key_env": "OPENAI_API_KEY"}


class PriceConfig(Section):
    """What a model costs, in US dollars per million tokens: prompt tokens (`input`; those
    read from the prompt cache at `cache_read`, those written to it at `cache_write`, each
    `input` when not given) and `output` tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_read: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)


class LLMConfig(Section):
    """The providers, and the price table: `prices` by `provider/model` (a shell-style pattern
    may stand for several models: `anthropic/claude-sonnet-*`; an exact key comes first, then
    the first pattern that matches). A model with no price costs "unknown"."""

    providers: list[ProviderConfig] = Field(
        default_factory=lambda: [ProviderConfig.model_validate(DEFAULT_PROVIDER)]
    )
    prices: dict[str, PriceConfig] = Field(default_factory=dict)

    @field_validator("prices")
    @classmethod
    def _model_keys(cls, prices: dict[str, PriceConfig]) -> dict[str, PriceConfig]:
        for key in prices:
            provider, _, model = key.partition("/")
            if not provider or not model:
                raise ValueError(f"{key!r}: a price is keyed by provider/model")
        return prices

    @field_validator("providers")
    @classmethod
    def _unique(cls, providers: list[ProviderConfig]) -> list[ProviderConfig]:
        names = [p.name for p in providers]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"provider {name!r} is listed twice")
        return providers


class HttpToolConfig(Section):
    timeout: Duration = 30.0
    max_response_bytes: int = Field(default=1_048_576, ge=1)
    max_redirects: int = Field(default=5, ge=0, le=20)


class ToolsConfig(Section):
    allow_private_hosts: bool | list[str] = False
    http: HttpToolConfig = Field(default_factory=HttpToolConfig)
    mcp_servers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    limits: ToolLimits = Field(default_factory=ToolLimits)

    @model_validator(mode="after")
    def _limited_servers_exist(self) -> ToolsConfig:
        for server in self.limits.mcp_servers:
            if server not in self.mcp_servers:
                known = ", ".join(sorted(self.mcp_servers)) or "none"
                raise ValueError(
                    f"limits.mcp_servers: {server!r} is not in tools.mcp_servers ({known})"
                )
        return self
