"""The provider protocol: what every LLM adapter implements.

Contract:
- `chat(request)` returns the whole assistant message with usage.
- `chat_stream(request)` yields `StreamChunk(text=…)` for each text delta as it arrives and,
  last, exactly one `StreamChunk(response=…)` holding the same whole message `chat` would
  return (tool calls assembled, usage filled in).
- Failures raise `ProviderError`, with `retryable` set for rate limits, overload, 5xx,
  timeouts and dropped connections, and `retry_after` when the vendor asked for a delay.
  The SDK client itself never retries (`max_retries=0`): Temporal owns retries.
- Conversion between our `Message` and the vendor's wire format happens only in the adapter.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import ClassVar

from ..config import ProviderConfig
from ..errors import ProviderNotConfiguredError
from ..models import LLMRequest, LLMResponse, StreamChunk

__all__ = ["Provider"]


class Provider(ABC):
    """Base class of LLM provider adapters; one instance per configured provider."""

    name: ClassVar[str]
    supported_models: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config

    def check(self) -> None:
        """Raise `ProviderNotConfiguredError` if this provider cannot be used as configured.

        Called at task submission, so a missing key is a clear 400 rather than a failed task.
        """
        if self.config.api_key_env and not self.config.api_key():
            raise ProviderNotConfiguredError(
                f"provider {self.config.name!r}: environment variable "
                f"{self.config.api_key_env} is not set on this server"
            )

    def check_model(self, model: str) -> None:
        """`check()` for a task that will use `model`; a provider that serves different models
        through different backends (Vertex AI) checks the backend that serves this one."""
        self.check()

    @abstractmethod
    async def chat(self, request: LLMRequest) -> LLMResponse:
        """One non-streaming completion."""

    @abstractmethod
    def chat_stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        """One streaming completion (see the module docstring for the contract)."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release the SDK client's connections."""
