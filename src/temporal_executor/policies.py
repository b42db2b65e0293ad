"""Retry policies and timeouts of every activity call, in one place."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from .models import RetrySettings

__all__ = ["EVENT_RETRY", "EVENT_TIMEOUT", "NON_RETRYABLE", "retry_policy", "seconds"]

NON_RETRYABLE = [
    "ConfigError",
    "RequestError",
    "UnknownProviderError",
    "ProviderNotConfiguredError",
    "ToolSpecError",
    "TranscriptError",
]

# Event and state writes are local and cheap; they retry until they succeed, briefly.
EVENT_TIMEOUT = timedelta(seconds=10)
EVENT_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=100),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=5),
)


def seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def retry_policy(settings: RetrySettings) -> RetryPolicy:
    return RetryPolicy(
        initial_interval=seconds(settings.initial_interval),
        backoff_coefficient=settings.backoff_coefficient,
        maximum_interval=seconds(settings.maximum_interval),
        maximum_attempts=settings.max_attempts,
        non_retryable_error_types=NON_RETRYABLE,
    )
