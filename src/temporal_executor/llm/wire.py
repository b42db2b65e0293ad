"""What every provider adapter reads off the wire the same way: a tool call's JSON arguments,
an HTTP status's retryability, and the vendor's requested retry delay."""

from __future__ import annotations

import email.utils
import json
import math
import time
from collections.abc import Mapping
from typing import Any

from ..errors import ModelUnavailableError, ProviderError

__all__ = ["parse_arguments", "retry_after", "status_error"]


def parse_arguments(raw: str | None) -> tuple[dict[str, Any], str | None]:
    """A tool call's arguments as an object, or `({}, why)` when the model sent bad JSON."""
    if raw is None or not raw.strip():
        return {}, None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        return {}, f"invalid JSON arguments from the model: {exc.msg} at position {exc.pos}"
    if not isinstance(value, dict):
        return {}, "invalid JSON arguments from the model: expected a JSON object"
    return value, None


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from `retry-after-ms`, or `retry-after` as seconds or an HTTP date."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            seconds = float(headers.get(name) or "nan") * scale
        except ValueError:
            continue
        if math.isfinite(seconds):
            return max(0.0, seconds)
    value = headers.get("retry-after")
    parsed = email.utils.parsedate_tz(value) if value else None
    return max(0.0, email.utils.mktime_tz(parsed) - time.time()) if parsed else None


def status_error(
    provider: str, status: int, message: str, delay: float | None = None
) -> ProviderError:
    """An HTTP error status as a `ProviderError`: timeouts (408), conflicts (409), rate limits
    (429) and server errors (5xx, 529 overloaded) are worth another attempt, after `delay`;
    a 404 means the model is not there (`ModelUnavailableError`: a fallback may serve)."""
    if status == 404:
        return ModelUnavailableError(f"{provider}: {status} {message}", status=status)
    retryable = status in (408, 409, 429) or status >= 500
    return ProviderError(
        f"{provider}: {status} {message}",
        retryable=retryable,
        retry_after=delay if retryable else None,
        status=status,
    )
