"""LLM providers: the protocol, the adapters and the registry built from config."""

from __future__ import annotations

from .base import Provider
from .registry import PROVIDERS, ProviderRegistry

__all__ = ["PROVIDERS", "Provider", "ProviderRegistry"]
