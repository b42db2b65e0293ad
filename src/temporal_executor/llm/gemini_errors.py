"""Gemini's errors as ours: what the google-genai SDK and its transports raise, translated in
this one place (`provider_error`), with Google's retry delay (`retry_delay`)."""

from __future__ import annotations

import json
import re

import google.auth.exceptions
import httpx
import pydantic
from google.genai import errors as genai_errors

from ..errors import ProviderError
from .wire import retry_after, status_error

__all__ = ["SDK_ERRORS", "provider_error"]

# The SDK sends with httpx2, or httpx or aiohttp when so installed or configured: their
# timeouts and connection errors, gathered in this one place.
_TIMEOUTS: tuple[type[Exception], ...] = (TimeoutError, httpx.TimeoutException)
_DROPPED: tuple[type[Exception], ...] = (
    httpx.TransportError,
    google.auth.exceptions.TransportError,  # fetching a token
)
_TRANSPORT: tuple[type[Exception], ...] = (httpx.HTTPError,)
try:
    import httpx2  # type: ignore[import-not-found, unused-ignore]

    _TIMEOUTS += (httpx2.TimeoutException,)
    _DROPPED += (httpx2.TransportError,)
    _TRANSPORT += (httpx2.HTTPError,)
except ImportError:
    pass
try:
    import aiohttp  # type: ignore[import-not-found, unused-ignore]

    _DROPPED += (aiohttp.ClientError,)
    _TRANSPORT += (aiohttp.ClientError,)
except ImportError:
    pass

_MALFORMED = (genai_errors.UnknownApiResponseError, json.JSONDecodeError, pydantic.ValidationError)
SDK_ERRORS: tuple[type[Exception], ...] = (
    genai_errors.APIError,
    google.auth.exceptions.GoogleAuthError,
    ValueError,  # includes the SDK's unparsable-reply errors
    *_TIMEOUTS,
    *_TRANSPORT,
)


def provider_error(exc: Exception, provider: str) -> ProviderError:
    """Translate an SDK or transport error into our `ProviderError`; the only place that
    knows them."""
    if isinstance(exc, genai_errors.APIError):
        return status_error(
            provider, exc.code, exc.message or exc.status or "error", retry_delay(exc)
        )
    if isinstance(exc, _TIMEOUTS):
        return ProviderError(f"{provider}: request timed out", retryable=True)
    if isinstance(exc, _DROPPED):
        return ProviderError(
            f"{provider}: connection failed: {exc or type(exc).__name__}", retryable=True
        )
    if isinstance(exc, google.auth.exceptions.GoogleAuthError):
        return ProviderError(f"{provider}: credentials: {exc}", retryable=False)
    if isinstance(exc, _MALFORMED):
        return ProviderError(f"{provider}: malformed reply: {str(exc)[:200]}", retryable=False)
    return ProviderError(f"{provider}: {exc}", retryable=False)


def retry_delay(exc: genai_errors.APIError) -> float | None:
    """The `Retry-After` header, else the `RetryInfo.retryDelay` of Google's error details."""
    headers = getattr(exc.response, "headers", None)
    if headers is not None and (delay := retry_after(headers)) is not None:
        return delay
    body = exc.details if isinstance(exc.details, dict) else {}
    error = body.get("error", body)
    details = error.get("details") if isinstance(error, dict) else None
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith(".RetryInfo"):
            match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)s\s*", str(detail.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None
