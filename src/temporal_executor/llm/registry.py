"""Which providers this server can use: the configured ones, by name."""

from __future__ import annotations

import logging

from ..config import LLMConfig, ProviderConfig
from ..errors import ConfigError, ProviderNotConfiguredError, UnknownProviderError
from ..plugins import Plugins, import_path
from .base import Provider

__all__ = ["PROVIDERS", "ProviderRegistry"]

logger = logging.getLogger(__name__)

PROVIDERS = Plugins(
    "temporal_executor.providers",
    {
        "openai": ".llm.openai:OpenAIProvider",
        "openai-compatible": ".llm.openai:OpenAICompatibleProvider",
        "ollama": ".llm.openai:OpenAICompatibleProvider",
        "azure-openai": ".llm.azure:AzureOpenAIProvider",
        "anthropic": ".llm.anthropic:AnthropicProvider",
        "vertexai": ".llm.vertex:VertexAIProvider",
        "gemini": ".llm.gemini:GeminiProvider",
    },
)


class ProviderRegistry:
    """One `Provider` per entry of `llm.providers`, created when first used."""

    def __init__(self, config: LLMConfig) -> None:
        known = PROVIDERS.names()
        for i, entry in enumerate(config.providers):
            if entry.class_ is not None:
                _load_class(entry)  # a wrong path is a config error at start, not a failed task
            elif entry.name not in known:
                raise ConfigError(
                    f"config: llm.providers.{i}.name: unknown provider {entry.name!r} "
                    f"(known: {', '.join(known)})"
                )
        self._configs = {entry.name: entry for entry in config.providers}
        self._providers: dict[str, Provider] = {}

    def get(self, name: str) -> Provider:
        provider = self._providers.get(name)
        if provider is not None:
            return provider
        config = self._configs.get(name)
        cls = _load_class(config) if config and config.class_ else PROVIDERS.load(name)
        if cls is None:
            raise UnknownProviderError(
                f"unknown provider {name!r} (known: {', '.join(PROVIDERS.names())})"
            )
        if config is None:
            configured = ", ".join(sorted(self._configs)) or "none"
            raise ProviderNotConfiguredError(
                f"provider {name!r} is not configured on this server (configured: {configured})"
            )
        provider = cls(config)
        if not isinstance(provider, Provider):
            raise ConfigError(f"provider {name!r}: {cls!r} is not a Provider subclass")
        self._providers[name] = provider
        return provider

    def check(self, name: str, model: str | None = None) -> None:
        """Raise a `RequestError` unless a task may use this provider (and model) now."""
        provider = self.get(name)
        if model is None:
            provider.check()
            return
        provider.check_model(model)
        if provider.supported_models and model not in provider.supported_models:
            logger.info("provider %s: model %r is not in its list of known models", name, model)

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()
        self._providers.clear()


def _load_class(config: ProviderConfig) -> type[Provider]:
    assert config.class_ is not None
    try:
        cls = import_path(config.class_)
    except Exception as exc:
        raise ConfigError(
            f"provider {config.name!r}: cannot import {config.class_}: {exc} (is its "
            "directory on PYTHONPATH?)"
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise ConfigError(f"provider {config.name!r}: {config.class_} is not a Provider class")
    return cls
