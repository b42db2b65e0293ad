"""`vertexai`: one provider name for the models Vertex AI serves — Gemini (`gemini-*`, through
google-genai) and Anthropic's Claude (`claude-*`, through the anthropic SDK's Vertex client).
Both read the same config block (`VertexAISettings`: `project_id`, `location`, `base_url`,
`access_token_env`) and find Google credentials the same way: an OAuth token from the variable
`access_token_env` names, else Google application-default credentials (looked up once).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import anthropic
import google.auth
import google.auth.credentials
import google.auth.exceptions
import google.oauth2.credentials
from google import genai

from ..errors import ProviderError, ProviderNotConfiguredError
from .anthropic import SDK_ERRORS, AnthropicClient, AnthropicProvider
from .base import Provider
from .gemini import GeminiProvider
from .messages import LLMRequest, LLMResponse, StreamChunk
from .settings import VertexAISettings, is_claude

if TYPE_CHECKING:
    from ..config import ProviderConfig

__all__ = ["AnthropicVertexProvider", "VertexAIProvider", "VertexGeminiProvider"]

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
_Credentials = google.auth.credentials.Credentials


class _DefaultCredentials:
    """Google application-default credentials, looked up once per provider (a lookup may
    probe the GCE metadata server, so it is not repeated on every check)."""

    def __init__(self) -> None:
        self._found: tuple[_Credentials | None, str] | None = None

    def get(self) -> tuple[_Credentials | None, str]:
        """The credentials, or (None, why there are none)."""
        if self._found is None:
            try:
                credentials, _ = google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE])
                self._found = (credentials, "")
            except google.auth.exceptions.DefaultCredentialsError as exc:
                self._found = (None, str(exc))
        return self._found

    def require(self, settings: VertexAISettings, where: str, missing: str) -> None:
        """Raise unless `settings` name an access token or application-default credentials
        are found; `missing` says so (`{error}`: why none were found)."""
        if settings.access_token(where) is not None:
            return
        credentials, error = self.get()
        if credentials is None:
            raise ProviderNotConfiguredError(f"{where}: {missing.format(error=error)}")


class AnthropicVertexProvider(AnthropicProvider):
    """Claude on Google Vertex AI (`rawPredict` / `streamRawPredict`, the model in the URL and
    `anthropic_version` in the body, both done by the SDK). `project_id` and `location` are
    always needed."""

    name = "vertexai-claude"
    # Vertex AI also names the 4.5 models with their date after an `@`.
    supported_models = (
        *AnthropicProvider.supported_models,
        "claude-opus-4-5@20251101",
        "claude-sonnet-4-5@20250929",
        "claude-haiku-4-5@20251001",
    )
    settings_model = VertexAISettings
    settings: VertexAISettings
    # Raised while the client gets or refreshes a token from application-default credentials.
    _errors = (*SDK_ERRORS, google.auth.exceptions.GoogleAuthError)

    def __init__(self, config: ProviderConfig, settings: Any = None) -> None:
        super().__init__(config, settings)
        self._adc = _DefaultCredentials()

    def check(self) -> None:
        super().check()
        settings, where = self.settings, f"provider {self.config.name!r}"
        for key in ("project_id", "location"):
            if not getattr(settings, key):
                raise ProviderNotConfiguredError(
                    f"{where}: config.{key} is required for Claude on Vertex AI"
                )
        self._adc.require(
            settings,
            where,
            "no access_token_env and no Google Application Default Credentials: {error}",
        )

    def _translate(self, exc: Exception) -> ProviderError:
        if isinstance(exc, google.auth.exceptions.GoogleAuthError):
            # A token endpoint that failed for the moment says so with `retryable`.
            return ProviderError(
                f"{self.name}: Google credentials: {str(exc)[:300]}",
                retryable=bool(getattr(exc, "retryable", False)),
            )
        return super()._translate(exc)

    def _make_client(self) -> AnthropicClient:
        settings = self.settings
        if not settings.project_id or not settings.location:
            raise ProviderNotConfiguredError(
                f"{self.name}: config.project_id and config.location are required"
            )
        # None: the SDK uses application-default credentials.
        token = settings.access_token(f"provider {self.config.name!r}")
        # `base_url` is the Vertex AI endpoint root, shared with Gemini (whose SDK adds its own
        # API version); Anthropic's Vertex client wants the version in it.
        base_url = settings.base_url
        if base_url and not base_url.rstrip("/").endswith("/v1"):
            base_url = f"{base_url.rstrip('/')}/v1"
        return anthropic.AsyncAnthropicVertex(
            project_id=settings.project_id,
            region=settings.location,
            base_url=base_url,
            access_token=token,
            timeout=settings.timeout,
            max_retries=0,
        )


class VertexGeminiProvider(GeminiProvider):
    """Gemini on Vertex AI. Credentials, first that is configured: an API key (`api_key_env`,
    Vertex AI express mode), an OAuth access token, else application-default credentials;
    `project_id` and `location` unless a key is used."""

    name = "vertexai-gemini"
    settings_model = VertexAISettings
    settings: VertexAISettings

    def __init__(self, config: ProviderConfig, settings: Any = None) -> None:
        super().__init__(config, settings)
        self._adc = _DefaultCredentials()

    def check(self) -> None:
        Provider.check(self)  # a configured key variable must be set
        if self.config.api_key():
            return
        settings, where = self.settings, f"provider {self.config.name!r}"
        missing = [f"config.{k}" for k in ("project_id", "location") if not getattr(settings, k)]
        if missing:
            raise ProviderNotConfiguredError(
                f"{where}: {' and '.join(missing)} must be set (or api_key_env for Vertex AI "
                "express mode)"
            )
        self._adc.require(
            settings,
            where,
            "no credentials: set api_key_env or access_token_env, or configure Google "
            "application-default credentials ({error})",
        )

    def _make_client(self) -> genai.Client:
        options = self._http_options()
        if key := self.config.api_key():
            return genai.Client(vertexai=True, api_key=key, http_options=options)
        settings = self.settings
        if not settings.project_id or not settings.location:
            raise ProviderNotConfiguredError(
                f"{self.name}: config.project_id and config.location must be set"
            )
        credentials: _Credentials | None
        if token := settings.access_token(f"provider {self.config.name!r}"):
            credentials = google.oauth2.credentials.Credentials(token)  # type: ignore[no-untyped-call]
        else:
            credentials, error = self._adc.get()
            if credentials is None:
                raise ProviderError(f"{self.name}: no credentials: {error}", retryable=False)
        return genai.Client(
            vertexai=True,
            project=settings.project_id,
            location=settings.location,
            credentials=credentials,
            http_options=options,
        )


class VertexAIProvider(Provider[None]):
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

    def _backend(self, model: str) -> Provider[Any]:
        return self._claude if is_claude(model) else self._gemini

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
