"""Retry policies and timeouts of every activity call, in one place.

Whether a failure is retried is decided where it is raised (`errors.to_failure` marks ours
non-retryable unless they are `retryable`), not by a list of type names here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TypedDict

from temporalio.common import RetryPolicy

from .versioned import Payload

__all__ = [
    "ONE_ATTEMPT",
    "RECORD_RETRY",
    "RECORD_TIMEOUT",
    "TURN_CHECKS",
    "TURN_RETRY",
    "TURN_TIMEOUT",
    "ActivityOptions",
    "RetrySettings",
    "activity_options",
    "retry_policy",
    "seconds",
]

# A step's writes are local and cheap; they retry until they succeed (a store that is down
# for a while pauses the task, which goes on when the store is back).
RECORD_TIMEOUT = timedelta(seconds=10)
RECORD_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=100),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=5),
)


# A queued task asks whether it may start (`session_turn`): a few reads and an update to the
# task ahead, retried until they succeed. It asks again after the first of these intervals
# (seconds), doubling up to the second, unless the task ahead signals first, as it does when
# it ends: the checks only catch a signal lost to a race.
TURN_TIMEOUT = timedelta(seconds=30)
TURN_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
)
TURN_CHECKS = (5.0, 300.0)

# A local attempt of an LLM or tool call: a failure falls back to a regular activity.
ONE_ATTEMPT = RetryPolicy(maximum_attempts=1)


class RetrySettings(Payload):
    """One activity's retry policy as a task carries it (from `executor.retry` at
    submission): attempts, and the backoff between them in seconds."""

    max_attempts: int
    initial_interval: float = 1.0
    backoff_coefficient: float = 2.0
    maximum_interval: float


def seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def retry_policy(settings: RetrySettings) -> RetryPolicy:
    return RetryPolicy(
        initial_interval=seconds(settings.initial_interval),
        backoff_coefficient=settings.backoff_coefficient,
        maximum_interval=seconds(settings.maximum_interval),
        maximum_attempts=settings.max_attempts,
    )


class ActivityOptions(TypedDict):
    """The options of an `execute_activity` call that policies decide."""

    start_to_close_timeout: timedelta
    heartbeat_timeout: timedelta
    retry_policy: RetryPolicy


def activity_options(timeout: float, heartbeat: float, retry: RetrySettings) -> ActivityOptions:
    """A regular activity that heartbeats: its timeouts (seconds) and retry policy."""
    return ActivityOptions(
        start_to_close_timeout=seconds(timeout),
        heartbeat_timeout=seconds(heartbeat),
        retry_policy=retry_policy(retry),
    )
