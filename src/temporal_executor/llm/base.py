"""The provider protocol: what every LLM adapter implements.

Contract:
- `chat(request)` returns the whole assistant message with usage.
- `chat_stream(request)` yields `StreamChunk(text=…)` for each text delta as it arrives and,
  last, exactly one `StreamChunk(response=…)` holding the same whole message `chat` would
  return (tool calls assembled, usage filled in).
- Failures raise `ProviderError`, with `retryable` set for rate limits, overload, 5xx,
  timeouts and dropped connections, and `retry_after` when the vendor asked for a delay.
  The SDK client itself never retries (`max_retries=0`): Temporal owns retries.
- `check_model(model)` raises `ProviderNotConfiguredError` when this worker cannot call the
  model now (its key or credentials are missing from the environment).
- Conversion between our `Message` and the vendor's wire format happens only in the adapter.
- `settings_model` types the entry's `config` block (`settings.py`); `self.settings` is it,
  checked when the service starts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import ProviderNotConfiguredError
from .messages import LLMRequest, LLMResponse, StreamChunk
from .settings import ProviderSettings, parse_settings

if TYPE_CHECKING:
    from ..config import ProviderConfig

__all__ = ["Provider"]


class Provider(ABC):
    """Base class of LLM provider adapters; one instance per configured provider and worker."""

    name: ClassVar[str]
    supported_models: ClassVar[tuple[str, ...]] = ()
    settings_model: ClassVar[type[ProviderSettings]] = ProviderSettings

    def __init__(self, config: ProviderConfig, settings: Any = None) -> None:
        self.config = config
        self.settings: Any = (
            settings
            if settings is not None
            else parse_settings(self.settings_model, config, f"llm.providers.{config.name}")
        )

    def check(self) -> None:
        """Raise `ProviderNotConfiguredError` if this worker's environment lacks what the
        provider needs (by default: the key variable `api_key_env` names)."""
        if self.config.api_key_env and not self.config.api_key():
            raise ProviderNotConfiguredError(
                f"provider {self.config.name!r}: environment variable "
                f"{self.config.api_key_env} is not set on this worker"
            )

    def check_model(self, model: str) -> None:
        """`check()` for a call of `model`; a provider that serves different models through
        different backends (Vertex AI) checks the backend that serves this one."""
        self.check()

    @abstractmethod
    async def chat(self, request: LLMRequest) -> LLMResponse:
        """One non-streaming completion."""

    @abstractmethod
    def chat_stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        """One streaming completion (see the module docstring for the contract)."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release the SDK client's connections."""
