"""The Azure OpenAI adapter: OpenAI's Chat Completions at an Azure resource, on the SDK's
`AsyncAzureOpenAI`, reusing the OpenAI adapter's conversion and error mapping.

Azure addresses a *deployment*, not a model: the SDK puts the `model` it is given into the
URL (`{endpoint}/openai/deployments/{model}/chat/completions?api-version=…`), so we pass the
deployment there. Requests keep naming OpenAI models; `config.deployments` maps them. With
`config.api: responses` the same client posts to `{endpoint}/openai/responses?api-version=…`,
the deployment in the body's `model` (an `api_version` that serves the Responses API:
2025-03-01-preview or later).
"""

from __future__ import annotations

import os

import openai

from ..errors import ProviderError, ProviderNotConfiguredError
from .openai import OpenAIProvider
from .settings import AzureOpenAISettings

__all__ = ["AzureOpenAIProvider"]


class AzureOpenAIProvider(OpenAIProvider):
    """Config keys (`AzureOpenAISettings`): `endpoint` (`https://<resource>.openai.azure.com/`)
    and `api_version`, required; `deployments` (`{model: deployment}`); `timeout`.
    Credentials: an API key from `api_key_env`, or a Microsoft Entra ID token from the
    variable named by `config.azure_ad_token_env`; exactly one of the two.

    Nothing comes from the SDK's environment variables (`AZURE_OPENAI_API_KEY`,
    `AZURE_OPENAI_AD_TOKEN`, `AZURE_OPENAI_ENDPOINT`, `OPENAI_API_VERSION`, `OPENAI_ORG_ID`,
    `OPENAI_PROJECT_ID`).
    """

    name = "azure-openai"
    supported_models = OpenAIProvider.supported_models

    settings_model = AzureOpenAISettings
    settings: AzureOpenAISettings
    sends_cache_key = False  # not a parameter every Azure API version takes

    def check(self) -> None:
        token_env = self.settings.azure_ad_token_env
        if token_env and not os.environ.get(token_env):
            raise ProviderNotConfiguredError(
                f"provider {self.label!r}: environment variable {token_env} is not set "
                "on this worker"
            )
        super().check()

    def _make_client(self) -> openai.AsyncOpenAI:
        try:
            self.check()
        except ProviderNotConfiguredError as exc:
            raise ProviderError(exc.message, retryable=False) from exc
        settings = self.settings
        token_env = settings.azure_ad_token_env
        client = openai.AsyncAzureOpenAI(
            api_key=None if token_env else self._api_key(),
            # Read once per client; Entra ID tokens expire, so a long-running worker needs
            # a fresh one by then (or an API key).
            azure_ad_token=os.environ.get(token_env) if token_env else None,
            azure_endpoint=settings.endpoint,
            api_version=settings.api_version,
            timeout=settings.timeout,
            max_retries=0,
        )
        # Given None, the SDK took these from OPENAI_ORG_ID / OPENAI_PROJECT_ID.
        client.organization = client.project = None
        return client

    def _model(self, model: str) -> str:
        return self.settings.deployments.get(model, model)
