"""What OpenAI's two APIs (Chat Completions, `openai.py`; the Responses API,
`openai_responses.py`) share: the SDK's errors translated in this one place, and the tool
choice as OpenAI takes it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import openai

from ..errors import ProviderError
from ..spec import Sampling, ToolChoiceName
from .wire import retry_after, status_error

__all__ = ["SDK_ERRORS", "provider_error", "tool_choice_params"]

# What the SDK raises: its own errors, and ValueError (JSONDecodeError) for a body it cannot
# parse, such as a reply cut off mid-JSON or a stream event that is not JSON.
SDK_ERRORS = (openai.OpenAIError, ValueError)


def tool_choice_params(sampling: Sampling, *, flat: bool) -> dict[str, Any]:
    """`tool_choice` and `parallel_tool_calls` as OpenAI takes them (for a request with
    tools); a named function is `{"type": "function", "function": {"name"}}` on Chat
    Completions, `{"type": "function", "name"}` (`flat`) on the Responses API."""
    params: dict[str, Any] = {}
    choice = sampling.tool_choice
    if isinstance(choice, ToolChoiceName):
        named = {"name": choice.name} if flat else {"function": {"name": choice.name}}
        params["tool_choice"] = {"type": "function", **named}
    elif choice is not None:
        params["tool_choice"] = choice
    if sampling.parallel_tool_calls is not None:
        params["parallel_tool_calls"] = sampling.parallel_tool_calls
    return params


def provider_error(exc: Exception, provider: str = "openai") -> ProviderError:
    """Translate an SDK error into our `ProviderError`; the only place that knows them."""
    if isinstance(exc, openai.APITimeoutError):
        return ProviderError(f"{provider}: request timed out", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return ProviderError(f"{provider}: connection failed: {exc.message}", retryable=True)
    if isinstance(exc, openai.APIStatusError):
        message = _error_message(exc.body) or exc.response.reason_phrase
        return status_error(provider, exc.status_code, message, retry_after(exc.response.headers))
    if isinstance(exc, openai.APIResponseValidationError):
        return ProviderError(f"{provider}: malformed reply: {exc.message}", retryable=False)
    if isinstance(exc, openai.APIError):
        # An error event inside a 200 stream: the server failed mid-answer.
        retryable = exc.type != "invalid_request_error"
        return ProviderError(f"{provider}: error in stream: {exc.message}", retryable=retryable)
    if isinstance(exc, ValueError):
        return ProviderError(f"{provider}: malformed reply: {str(exc)[:200]}", retryable=False)
    return ProviderError(f"{provider}: {exc}", retryable=False)


def _error_message(body: object) -> str:
    if isinstance(body, Mapping) and isinstance(body.get("message"), str):
        return str(body["message"])
    if isinstance(body, str):
        return body.strip()[:500]
    return ""
