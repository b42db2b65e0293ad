"""Our exceptions. Every error we raise on purpose is one of these.

ExecutorError
├── ConfigError            the config file or an environment override is invalid
├── RequestError           the caller sent something we cannot run (HTTP 400)
│   ├── UnknownProviderError
│   ├── ProviderNotConfiguredError
│   └── ToolSpecError
├── TaskNotFoundError      no task with that id (HTTP 404)
│   └── SessionNotFoundError
├── ConflictError          the task is not in a state that allows the call (HTTP 409)
├── ProviderError          an LLM provider failed; `retryable` says whether to try again
└── ToolError              a tool call failed; the message goes back to the LLM

The API maps these to HTTP status codes in one table (`api/errors.py`); activities turn the
non-retryable ones into `ApplicationError(non_retryable=True)` at their edge.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "ConflictError",
    "ExecutorError",
    "ProviderError",
    "ProviderNotConfiguredError",
    "RequestError",
    "SessionNotFoundError",
    "TaskNotFoundError",
    "ToolError",
    "ToolSpecError",
    "UnknownProviderError",
]


class ExecutorError(Exception):
    """Root of every error temporal-executor raises on purpose."""

    code = "executor_error"

    def __init__(self, message: str, *, details: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ConfigError(ExecutorError):
    """The configuration is invalid; the message names the offending key."""

    code = "invalid_config"


class RequestError(ExecutorError):
    """The caller's request cannot be run as sent."""

    code = "invalid_request"


class UnknownProviderError(RequestError):
    """`model_config.provider` names no provider we know."""

    code = "unknown_provider"


class ProviderNotConfiguredError(RequestError):
    """The provider is known but this server has no usable configuration or key for it."""

    code = "provider_not_configured"


class ToolSpecError(RequestError):
    """A tool in the request is malformed or of an unknown type."""

    code = "invalid_tool"


class TaskNotFoundError(ExecutorError):
    """No task has that id."""

    code = "task_not_found"


class SessionNotFoundError(TaskNotFoundError):
    """No session has that id."""

    code = "session_not_found"


class ConflictError(ExecutorError):
    """The task exists but is not in a state that allows this call."""

    code = "conflict"


class ProviderError(ExecutorError):
    """An LLM provider call failed.

    `retryable` is true for rate limits, overload, 5xx, timeouts and dropped connections;
    `retry_after` is the provider's requested delay in seconds, when it sent one.
    """

    code = "provider_error"

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status


class ToolError(ExecutorError):
    """A tool call failed. When `retryable`, Temporal tries again; otherwise the LLM is told."""

    code = "tool_error"

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
