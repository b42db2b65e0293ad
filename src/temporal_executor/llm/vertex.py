"""`vertexai`: one provider name for the models Vertex AI serves — Gemini (`gemini-*`, through
google-genai) and Anthropic's Claude (`claude-*`, through the anthropic SDK's Vertex client).
Both read the same config block (`project_id`, `location`, `base_url`, `access_token_env`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from .anthropic import AnthropicVertexProvider
from .base import Provider
from .gemini import VertexGeminiProvider
from .messages import LLMRequest, LLMResponse, StreamChunk
from .settings import VertexAISettings

if TYPE_CHECKING:
    from ..config import ProviderConfig

__all__ = ["VertexAIProvider"]


class VertexAIProvider(Provider):
    """Routes each request by model name: `claude-*` to Claude on Vertex, the rest to Gemini."""

    name = "vertexai"
    supported_models = (
        VertexGeminiProvider.supported_models + AnthropicVertexProvider.supported_models
    )

    settings_model = VertexAISettings

    def __init__(self, config: ProviderConfig, settings: Any = None) -> None:
        super().__init__(config, settings)
        self._gemini = VertexGeminiProvider(config, self.settings)
        self._claude = AnthropicVertexProvider(config, self.settings)

    def _backend(self, model: str) -> Provider:
        return self._claude if model.startswith("claude") else self._gemini

    def check(self) -> None:
        self._gemini.check()

    def check_model(self, model: str) -> None:
        self._backend(model).check()

    async def chat(self, request: LLMRequest) -> LLMResponse:
        return await self._backend(request.model).chat(request)

    def chat_stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        return self._backend(request.model).chat_stream(request)

    async def aclose(self) -> None:
        await self._gemini.aclose()
        await self._claude.aclose()
