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
- `knob_problem(settings, model, sampling)` says which request knob (`reasoning`,
  `tool_choice`, `parallel_tool_calls`) the provider cannot honour; the API refuses such a
  request (400). By default a provider takes none of them; one that maps them overrides it.
  (The built-in providers answer from `knobs.py`, without importing their SDKs.)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

from ..errors import ProviderError, ProviderNotConfiguredError
from ..spec import Sampling
from .knobs import Problem, problem
from .messages import LLMRequest, LLMResponse, StreamChunk
from .settings import ProviderSettings, parse_settings

if TYPE_CHECKING:
    from ..config import ProviderConfig

__all__ = ["Provider"]

ClientT = TypeVar("ClientT")


class Provider(ABC, Generic[ClientT]):
    """Base class of LLM provider adapters; one instance per configured provider and worker.
    An adapter on a vendor SDK builds its client in `_make_client` and reaches it through
    `_sdk()`: built on first use, closed by `aclose()`."""

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
        self._client: ClientT | None = None

    @classmethod
    def knob_problem(cls, settings: Any, model: str, sampling: Sampling) -> Problem | None:
        """Why `model` cannot honour a knob of `sampling`, or None (see the module docstring)."""
        return problem(None, settings, model, sampling)

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

    def _make_client(self) -> ClientT:
        """Build the vendor SDK's client (adapters that have one override this)."""
        raise NotImplementedError(f"{type(self).__name__} has no SDK client")

    def _client_error(self, exc: Exception) -> ProviderError | None:
        """`exc`, raised while building the client, as our error (None: not the SDK's)."""
        return None

    def _sdk(self) -> ClientT:
        """The SDK client, built on first use; a failure to build it is not retryable."""
        if self._client is None:
            try:
                self._client = self._make_client()
            except ProviderNotConfiguredError as exc:
                raise ProviderError(exc.message, retryable=False) from exc
            except Exception as exc:
                if (error := self._client_error(exc)) is None:
                    raise
                raise error from exc
        return self._client

    async def _close_client(self, client: ClientT) -> None:
        await cast(Any, client).close()

    async def aclose(self) -> None:
        """Release the SDK client's connections."""
        if self._client is not None:
            client, self._client = self._client, None
            await self._close_client(client)
