"""LLM providers: the protocol, the adapters and the registry built from config."""

from __future__ import annotations

from .base import Provider
from .registry import PROVIDER_TYPES, ProviderRegistry

__all__ = ["PROVIDER_TYPES", "Provider", "ProviderRegistry"]
