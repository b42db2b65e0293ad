"""The worker's providers: one `Provider` per configured entry, built when first used."""

from __future__ import annotations

import logging
from typing import Any

from ..errors import ConfigError
from .base import Provider
from .catalog import ProviderCatalog

__all__ = ["ProviderRegistry"]

logger = logging.getLogger(__name__)


class ProviderRegistry:
    """Builds providers from the checked `llm.providers` entries (`ProviderCatalog`)."""

    def __init__(self, catalog: ProviderCatalog) -> None:
        self.catalog = catalog
        self._providers: dict[str, Provider[Any]] = {}

    def get(self, name: str) -> Provider[Any]:
        provider = self._providers.get(name)
        if provider is not None:
            return provider
        entry = self.catalog.get(name)
        cls = entry.load()
        provider = cls(entry.config, entry.settings)
        if not isinstance(provider, Provider):
            raise ConfigError(f"provider {name!r}: {cls!r} is not a Provider subclass")
        self._providers[name] = provider
        return provider

    def check(self, name: str, model: str) -> Provider[Any]:
        """The provider, once it is sure this worker can call `model` with it now."""
        provider = self.get(name)
        provider.check_model(model)
        if provider.supported_models and model not in provider.supported_models:
            logger.info("provider %s: model %r is not in its list of known models", name, model)
        return provider

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()
        self._providers.clear()
