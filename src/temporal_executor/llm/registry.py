"""Which providers this server can use: the configured ones, by name."""

from __future__ import annotations

from ..config import LLMConfig
from ..errors import ConfigError, ProviderNotConfiguredError, UnknownProviderError
from .base import Provider
from .openai import OpenAIProvider

__all__ = ["PROVIDER_TYPES", "ProviderRegistry"]

PROVIDER_TYPES: dict[str, type[Provider]] = {OpenAIProvider.name: OpenAIProvider}


class ProviderRegistry:
    """One `Provider` per entry of `llm.providers`, created when first used."""

    def __init__(self, config: LLMConfig) -> None:
        for i, entry in enumerate(config.providers):
            if entry.name not in PROVIDER_TYPES:
                raise ConfigError(
                    f"config: llm.providers.{i}.name: unknown provider {entry.name!r} "
                    f"(known: {', '.join(sorted(PROVIDER_TYPES))})"
                )
        self._configs = {entry.name: entry for entry in config.providers}
        self._providers: dict[str, Provider] = {}

    def get(self, name: str) -> Provider:
        provider = self._providers.get(name)
        if provider is not None:
            return provider
        if name not in PROVIDER_TYPES:
            raise UnknownProviderError(
                f"unknown provider {name!r} (known: {', '.join(sorted(PROVIDER_TYPES))})"
            )
        config = self._configs.get(name)
        if config is None:
            configured = ", ".join(sorted(self._configs)) or "none"
            raise ProviderNotConfiguredError(
                f"provider {name!r} is not configured on this server (configured: {configured})"
            )
        provider = self._providers[name] = PROVIDER_TYPES[name](config)
        return provider

    def check(self, name: str) -> None:
        """Raise a `RequestError` unless a task may use this provider now."""
        self.get(name).check()

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()
        self._providers.clear()
