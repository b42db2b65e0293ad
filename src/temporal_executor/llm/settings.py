"""Each provider's `config` block, typed: checked once at start-up (API and worker alike), a
mistake being one `ConfigError` naming the key. No vendor SDK is imported here, so the API
checks its config without loading any.

Only what the config file says is checked here; what the environment holds (an API key, an
access token, Google credentials) is the worker's to check when it calls (`Provider.check`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, model_validator

from ..config.duration import Duration
from ..config.section import MediaType
from ..errors import ConfigError, ProviderNotConfiguredError, describe_validation
from .media import GEMINI_TYPES, VISION_TYPES

if TYPE_CHECKING:
    from ..config import ProviderConfig

__all__ = [
    "AnthropicSettings",
    "AzureOpenAISettings",
    "CompatibleSettings",
    "GeminiSettings",
    "OpenAISettings",
    "ProviderSettings",
    "VertexAISettings",
    "is_claude",
    "parse_settings",
]

DEFAULT_TIMEOUT = 600.0


class ProviderSettings(BaseModel):
    """Base of every provider's settings; a provider without its own takes any keys."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    def accepted_media(self, model: str) -> frozenset[str]:
        """The media types of parts (images, files) `model` reads; none unless a provider
        says so (then only text reaches it, and a request with such a part is refused)."""
        return frozenset()


class _Strict(ProviderSettings):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    timeout: Duration = DEFAULT_TIMEOUT


class _Vision(_Strict):
    """A vendor API whose models read images and PDFs (the vision models: a model without
    vision answers such a request with its vendor's 400)."""

    def accepted_media(self, model: str) -> frozenset[str]:
        return VISION_TYPES


class _OpenAIWire(_Vision):
    """What the OpenAI-family entries share: `api`, the API spoken — Chat Completions
    (`chat`, the default) or the Responses API (`responses`: reasoning kept across tool calls,
    reasoning summaries)."""

    api: Literal["chat", "responses"] = "chat"


class OpenAISettings(_OpenAIWire):
    """`openai`: without `base_url` the SDK reads `OPENAI_BASE_URL`, else api.openai.com."""

    base_url: str | None = None
    organization: str | None = None


class CompatibleSettings(_OpenAIWire):
    """`openai-compatible`, `ollama`: any server speaking Chat Completions (or, with `api:
    responses`, the Responses API), at `base_url`. `accepts`: the media types of parts its
    models read, in OpenAI's content parts (say `[image/png, image/jpeg]` for a vision
    model); none by default."""

    base_url: str = Field(min_length=1)
    organization: str | None = None
    accepts: list[MediaType] = Field(default_factory=list)

    def accepted_media(self, model: str) -> frozenset[str]:
        return frozenset(self.accepts)


class AzureOpenAISettings(_OpenAIWire):
    """`azure-openai`: `deployments` maps model names to deployment names (a model not listed
    is its own deployment name). Credentials: `api_key_env` (an API key) or
    `azure_ad_token_env` (a Microsoft Entra ID token), exactly one."""

    endpoint: str = Field(min_length=1)
    api_version: str = Field(min_length=1)
    deployments: dict[str, str] = Field(default_factory=dict)
    azure_ad_token_env: str | None = None

    @model_validator(mode="after")
    def _one_credential(self, info: ValidationInfo) -> AzureOpenAISettings:
        key_env = (info.context or {}).get("api_key_env")
        if key_env and self.azure_ad_token_env:
            raise ValueError("set api_key_env or config.azure_ad_token_env, not both")
        if not key_env and not self.azure_ad_token_env:
            raise ValueError(
                "set api_key_env (an API key) or config.azure_ad_token_env "
                "(a Microsoft Entra ID token)"
            )
        if any(not name for name in self.deployments.values()):
            raise ValueError("config.deployments must map model names to deployment names")
        return self


class AnthropicSettings(_Vision):
    """`anthropic`: `default_max_tokens` when a request sets none (the API requires one);
    `prompt_cache`: whether requests mark their stable prefix for Anthropic's prompt cache
    (`cache_control` breakpoints)."""

    base_url: str | None = None
    default_max_tokens: int = Field(default=4096, ge=1)
    prompt_cache: bool = True


class GeminiSettings(_Strict):
    """`gemini`, the Gemini Developer API."""

    def accepted_media(self, model: str) -> frozenset[str]:
        return GEMINI_TYPES

    base_url: str | None = None
    api_version: str | None = None


class VertexAISettings(_Strict):
    """`vertexai`: Gemini (`gemini-*`) and Claude (`claude-*`) on Vertex AI. `project_id` and
    `location` are needed unless `api_key_env` names a Vertex API key (express mode, Gemini
    only); `access_token_env` names a variable with an OAuth token, else Google
    application-default credentials are used. `base_url` is the Vertex endpoint root."""

    project_id: str | None = None
    location: str | None = None
    base_url: str | None = None
    api_version: str | None = None
    access_token_env: str | None = None
    default_max_tokens: int = Field(default=4096, ge=1)
    prompt_cache: bool = True  # Claude on Vertex AI: as `AnthropicSettings.prompt_cache`

    @model_validator(mode="after")
    def _where(self, info: ValidationInfo) -> VertexAISettings:
        express = bool((info.context or {}).get("api_key_env"))
        missing = [f"config.{k}" for k in ("project_id", "location") if not getattr(self, k)]
        if missing and not express:
            raise ValueError(
                f"{' and '.join(missing)} must be set (or api_key_env for Vertex AI express mode)"
            )
        return self

    def accepted_media(self, model: str) -> frozenset[str]:
        return VISION_TYPES if is_claude(model) else GEMINI_TYPES

    def access_token(self, where: str) -> str | None:
        """The OAuth token `access_token_env` names, read now; None when none is configured
        (Google application-default credentials then); `ProviderNotConfiguredError` when its
        variable is not set."""
        if not self.access_token_env:
            return None
        token = os.environ.get(self.access_token_env)
        if not token:
            raise ProviderNotConfiguredError(
                f"{where}: environment variable {self.access_token_env} (access_token_env) "
                "is not set on this worker"
            )
        return token


def is_claude(model: str) -> bool:
    """Whether Vertex AI serves `model` as Claude (else as Gemini)."""
    return model.startswith("claude")


def parse_settings(model: type[ProviderSettings], entry: ProviderConfig, where: str) -> Any:
    """`entry.config` as `model`; `ConfigError` naming the key (`where` is the entry's path,
    e.g. `llm.providers.0`)."""
    try:
        return model.model_validate(entry.config, context={"api_key_env": entry.api_key_env})
    except ValidationError as exc:
        summary, _ = describe_validation(
            exc,
            field=lambda loc: ".".join([where, "config", *map(str, loc)]),
            unknown="unknown key",
        )
        raise ConfigError(f"config: {summary}") from None
