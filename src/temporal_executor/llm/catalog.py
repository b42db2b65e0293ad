"""The configured providers, as the API and the worker both know them from config alone.

At start-up every `llm.providers` entry is resolved to its provider class (built-ins by name,
without importing their SDK; plugins through the entry point group
`temporal_executor.providers` or `class: module:Class`) and its `config` is checked against
that provider's settings model. The API looks up each request's provider here; only the
worker builds providers (`registry.py`), reads keys and talks to vendors.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, ProviderNotConfiguredError, UnknownProviderError
from ..plugins import Plugins, import_path
from ..spec import Sampling
from .knobs import Problem, problem
from .settings import (
    AnthropicSettings,
    AzureOpenAISettings,
    CompatibleSettings,
    GeminiSettings,
    OpenAISettings,
    ProviderSettings,
    VertexAISettings,
    parse_settings,
)

if TYPE_CHECKING:
    from ..config import LLMConfig, ProviderConfig
    from .base import Provider

__all__ = ["PROVIDERS", "ConfiguredProvider", "ProviderCatalog"]

logger = logging.getLogger(__name__)

# name → (class, settings model, family of its knobs in `knobs.py`); the class is imported
# only when a worker builds it.
_BUILTINS: dict[str, tuple[str, type[ProviderSettings], str]] = {
    "openai": (".llm.openai:OpenAIProvider", OpenAISettings, "openai"),
    "openai-compatible": (".llm.openai:OpenAICompatibleProvider", CompatibleSettings, "compatible"),
    "ollama": (".llm.openai:OpenAICompatibleProvider", CompatibleSettings, "compatible"),
    "azure-openai": (".llm.azure:AzureOpenAIProvider", AzureOpenAISettings, "openai"),
    "anthropic": (".llm.anthropic:AnthropicProvider", AnthropicSettings, "anthropic"),
    "vertexai": (".llm.vertex:VertexAIProvider", VertexAISettings, "vertexai"),
    "gemini": (".llm.gemini:GeminiProvider", GeminiSettings, "gemini"),
}
PROVIDERS = Plugins(
    "temporal_executor.providers", {name: path for name, (path, _, _) in _BUILTINS.items()}
)


@dataclass(frozen=True)
class ConfiguredProvider:
    """One `llm.providers` entry, checked: `settings` is its typed `config`."""

    config: ProviderConfig
    settings: Any
    target: str | type[Provider[Any]]  # a built-in's `module:Class`, or the class itself

    def load(self) -> type[Provider[Any]]:
        target = self.target
        return import_path(target) if isinstance(target, str) else target

    def knob_problem(self, model: str, sampling: Sampling) -> Problem | None:
        """The first knob of `sampling` (reasoning, tool_choice …) this provider cannot
        honour for `model` (`knobs.py`); a plugin class answers for itself."""
        if isinstance(self.target, str):
            return problem(_BUILTINS[self.config.name][2], self.settings, model, sampling)
        return self.target.knob_problem(self.settings, model, sampling)

    def accepted_media(self, model: str) -> frozenset[str]:
        """The media types of parts `model` reads through this provider (`settings.py`)."""
        accepted = getattr(self.settings, "accepted_media", None)
        return frozenset(accepted(model)) if callable(accepted) else frozenset()


class ProviderCatalog:
    """The `llm.providers` entries by name, each checked (`ConfigError` naming the key)."""

    def __init__(self, config: LLMConfig) -> None:
        self.entries: dict[str, ConfiguredProvider] = {}
        for index, entry in enumerate(config.providers):
            where = f"llm.providers.{index}"
            target, model = _resolve(entry, where)
            settings = parse_settings(model, entry, where)
            self.entries[entry.name] = ConfiguredProvider(entry, settings, target)

    def get(self, name: str) -> ConfiguredProvider:
        """The entry called `name`; `UnknownProviderError` / `ProviderNotConfiguredError`."""
        entry = self.entries.get(name)
        if entry is not None:
            return entry
        if name not in PROVIDERS.names():
            raise UnknownProviderError(
                f"unknown provider {name!r} (known: {', '.join(PROVIDERS.names())})"
            )
        configured = ", ".join(sorted(self.entries)) or "none"
        raise ProviderNotConfiguredError(
            f"provider {name!r} is not configured on this server (configured: {configured})"
        )


def _resolve(entry: ProviderConfig, where: str) -> tuple[str | type[Provider[Any]], type[Any]]:
    """The entry's provider class (or a built-in's path) and its settings model."""
    from .base import Provider  # the base class only; no SDK

    if entry.class_ is None and entry.name in _BUILTINS:
        path, settings, _ = _BUILTINS[entry.name]
        return path, settings
    if entry.class_ is not None:
        try:
            cls = import_path(entry.class_)
        except Exception as exc:
            raise ConfigError(
                f"provider {entry.name!r}: cannot import {entry.class_}: {exc} (is its "
                "directory on PYTHONPATH?)"
            ) from exc
        if not (isinstance(cls, type) and issubclass(cls, Provider)):
            raise ConfigError(f"provider {entry.name!r}: {entry.class_} is not a Provider class")
    else:
        cls = PROVIDERS.load(entry.name)
        if cls is None:
            raise ConfigError(
                f"config: {where}.name: unknown provider {entry.name!r} "
                f"(known: {', '.join(PROVIDERS.names())})"
            )
        if not (isinstance(cls, type) and issubclass(cls, Provider)):
            raise ConfigError(f"provider {entry.name!r}: {cls!r} is not a Provider subclass")
    return cls, cls.settings_model
