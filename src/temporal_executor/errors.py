"""Our exceptions, and the one table of what each means at every edge.

ExecutorError                          code                     HTTP  retried by Temporal
├── ConfigError                        invalid_config            500   no
├── RequestError                       invalid_request           400   no
│   ├── UnknownProviderError           unknown_provider          400   no
│   ├── ProviderNotConfiguredError     provider_not_configured   400   no
│   ├── ToolSpecError                  invalid_tool              400   no
│   ├── InvalidArgumentsError          invalid_arguments         422   no
│   ├── UnsupportedContentError        unsupported_content       400   no
│   ├── BodyTooLargeError              body_too_large            413   -
│   └── UnsupportedMediaTypeError      unsupported_media_type    415   -
├── UnauthorizedError                  unauthorized              401   -
├── InvalidSignatureError              invalid_signature         401   -
├── ForbiddenError                     forbidden                 403   -
├── TaskNotFoundError                  task_not_found            404   -
│   ├── SessionNotFoundError           session_not_found         404   -
│   ├── TenantNotFoundError            tenant_not_found          404   -
│   ├── ScheduleNotFoundError          schedule_not_found        404   -
│   ├── TriggerNotFoundError           trigger_not_found         404   -
│   └── ContentNotFoundError           content_not_found         404   -
├── ConflictError                      conflict                  409   no
├── ProviderError                      llm_error                 502   when `retryable`
│   └── ModelUnavailableError          model_unavailable         502   no
├── ToolError                          tool_error                502   when `retryable`
├── TranscriptError                    transcript_error          500   no
├── StoreUnavailableError              store_unavailable         503   yes
├── DecryptionError                    decryption_failed         500   yes
├── TaskUnavailableError               task_unavailable          503   -
├── TriggerUnavailableError            trigger_unavailable       503   -
├── CapacityError                      no_capacity               503   yes
└── SupersededError                    superseded                500   yes

The class attributes are the table: `code` names the error in REST bodies, in a failed task's
`error.code` and as the Temporal failure type; `http_status` is our API's HTTP status;
`retryable` says whether an activity that raises it is tried again. `to_failure()` turns one
into Temporal's `ApplicationError` at an activity or workflow edge, `from_failure()` turns that
back into ours where the API reads a workflow's answer. The A2A server maps these classes to
A2A errors in its own table (`api/a2a/errors.py`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from temporalio.exceptions import ApplicationError, FailureError

__all__ = [
    "BodyTooLargeError",
    "CapacityError",
    "ConfigError",
    "ConflictError",
    "ContentNotFoundError",
    "DecryptionError",
    "ExecutorError",
    "ForbiddenError",
    "InvalidArgumentsError",
    "InvalidSignatureError",
    "ModelUnavailableError",
    "ProviderError",
    "ProviderNotConfiguredError",
    "RequestError",
    "ScheduleNotFoundError",
    "SessionNotFoundError",
    "StoreUnavailableError",
    "SupersededError",
    "TaskNotFoundError",
    "TaskUnavailableError",
    "TenantNotFoundError",
    "ToolError",
    "ToolSpecError",
    "TranscriptError",
    "TriggerNotFoundError",
    "UnauthorizedError",
    "UnknownProviderError",
    "UnsupportedContentError",
    "UnsupportedMediaTypeError",
    "describe_validation",
    "failure_message",
    "from_failure",
    "to_failure",
]


class ExecutorError(Exception):
    """Root of every error temporal-executor raises on purpose."""

    code = "executor_error"
    http_status = 500
    retryable = False

    def __init__(
        self, message: str, *, details: object = None, retryable: bool | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if retryable is not None:
            self.retryable = retryable


class ConfigError(ExecutorError):
    """The configuration is invalid; the message names the offending key."""

    code = "invalid_config"


class RequestError(ExecutorError):
    """The caller's request cannot be run as sent."""

    code = "invalid_request"
    http_status = 400


class UnknownProviderError(RequestError):
    """`model_config.provider` names no provider we know."""

    code = "unknown_provider"


class ProviderNotConfiguredError(RequestError):
    """The provider is known but not configured on this server, or (on a worker) its key or
    credentials are missing there."""

    code = "provider_not_configured"


class ToolSpecError(RequestError):
    """A tool in the request is malformed or of an unknown type."""

    code = "invalid_tool"


class InvalidArgumentsError(RequestError):
    """Arguments a person edited on an approval do not match the tool's parameter schema."""

    code = "invalid_arguments"
    http_status = 422


class UnsupportedContentError(RequestError):
    """A part of a user message (an image, a file) of a media type this server or the task's
    model does not take."""

    code = "unsupported_content"


class BodyTooLargeError(RequestError):
    """The request body is over `server.max_body_bytes`."""

    code = "body_too_large"
    http_status = 413


class UnsupportedMediaTypeError(RequestError):
    """The request body is not JSON (its Content-Type says something else)."""

    code = "unsupported_media_type"
    http_status = 415


class UnauthorizedError(ExecutorError):
    """No bearer token, or one that is not a key of this server."""

    code = "unauthorized"
    http_status = 401


class InvalidSignatureError(ExecutorError):
    """A webhook's signature is missing or not the HMAC of its body with the trigger's
    secret (no bearer token is asked there: the signature is the webhook's auth)."""

    code = "invalid_signature"
    http_status = 401


class ForbiddenError(ExecutorError):
    """The caller's key is known but lacks the scope this call needs (named in `details`)."""

    code = "forbidden"
    http_status = 403


class TaskNotFoundError(ExecutorError):
    """No task has that id."""

    code = "task_not_found"
    http_status = 404


class SessionNotFoundError(TaskNotFoundError):
    """No session has that id."""

    code = "session_not_found"


class TenantNotFoundError(TaskNotFoundError):
    """The call names a tenant its key may not act in: as for another tenant's task, a 404
    that does not say whether that tenant exists."""

    code = "tenant_not_found"


class ScheduleNotFoundError(TaskNotFoundError):
    """No schedule has that id."""

    code = "schedule_not_found"


class TriggerNotFoundError(TaskNotFoundError):
    """No webhook trigger has that name."""

    code = "trigger_not_found"


class ContentNotFoundError(TaskNotFoundError):
    """The task has no such artifact or user file, or its content is no longer stored."""

    code = "content_not_found"


class ConflictError(ExecutorError):
    """The task exists but is not in a state that allows this call."""

    code = "conflict"
    http_status = 409


class ProviderError(ExecutorError):
    """An LLM provider call failed.

    `retryable` is true for rate limits, overload, 5xx, timeouts and dropped connections;
    `retry_after` is the provider's requested delay in seconds, when it sent one.
    """

    code = "llm_error"
    http_status = 502

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, retryable=retryable)
        self.retry_after = retry_after
        self.status = status  # the vendor's HTTP status, when it answered with one


class ModelUnavailableError(ProviderError):
    """The provider does not serve this model (404: unknown, retired or not deployed): no
    point in trying it again, but a fallback model may answer (`model_config.fallbacks`)."""

    code = "model_unavailable"

    def __init__(self, message: str, *, retryable: bool = False, **kwargs: Any) -> None:
        super().__init__(message, retryable=False, **kwargs)


class ToolError(ExecutorError):
    """A tool call failed. When `retryable`, Temporal tries again; otherwise the LLM is told."""

    code = "tool_error"
    http_status = 502


class TranscriptError(ExecutorError):
    """A session's stored transcript is not what the workflow expects (entries missing)."""

    code = "transcript_error"


class StoreUnavailableError(ExecutorError):
    """The event store cannot be used now (server down, connection dropped, disk full, file
    read-only): an activity is tried again (the task pauses until it is back); the API: 503."""

    code = "store_unavailable"
    http_status = 503
    retryable = True


class DecryptionError(ExecutorError):
    """Something encrypted at rest cannot be decrypted here: its key is not in this process's
    key ring (`security.encryption`) or it was altered. Retried: deploy the key, it goes on."""

    code = "decryption_failed"
    retryable = True


class TaskUnavailableError(ExecutorError):
    """A task's workflow cannot make progress now: its workflow task fails (a worker cannot
    decode or replay its history; its logs say why). It takes no update; try again later."""

    code = "task_unavailable"
    http_status = 503
    retryable = True


class TriggerUnavailableError(ExecutorError):
    """A webhook's trigger has no secret in this server's environment: nothing starts."""

    code = "trigger_unavailable"
    http_status = 503


class CapacityError(ExecutorError):
    """No capacity under a shared limit (`config/limits.py`) for a call whose task cannot
    wait for it (it started before calls could wait): tried again after `retry_after`
    seconds, as after a 429. A task that can wait gets no error (`activities/capacity.py`)."""

    code = "no_capacity"
    http_status = 503
    retryable = True

    def __init__(self, message: str, *, retry_after: float = 0.0, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class SupersededError(ExecutorError):
    """A newer attempt of this activity is running; this one's result does not count."""

    code = "superseded"
    retryable = True


def _subclasses(cls: type[ExecutorError]) -> list[type[ExecutorError]]:
    return [cls, *(s for sub in cls.__subclasses__() for s in _subclasses(sub))]


_BY_CODE = {cls.code: cls for cls in _subclasses(ExecutorError)}


def to_failure(exc: ExecutorError) -> ApplicationError:
    """`exc` as the Temporal failure an activity or workflow raises: its code as the type,
    not retried unless it is retryable, after the provider's requested delay if any."""
    delay = getattr(exc, "retry_after", None)
    return ApplicationError(
        exc.message,
        type=exc.code,
        non_retryable=not exc.retryable,
        next_retry_delay=timedelta(seconds=delay) if delay else None,
    )


def from_failure(failure: BaseException | None) -> ExecutorError | None:
    """Ours again, from a failure `to_failure` made (or None when it is not one of ours)."""
    if not isinstance(failure, ApplicationError) or failure.type not in _BY_CODE:
        return None
    cls = _BY_CODE[failure.type]
    return cls(failure.message, retryable=not failure.non_retryable)


def failure_message(failure: BaseException) -> str:
    """What a Temporal failure says, without its wrapping."""
    return failure.message if isinstance(failure, FailureError) else str(failure)


def describe_validation(
    exc: ValidationError | Sequence[Any],
    *,
    field: Callable[[tuple[int | str, ...]], str] | None = None,
    unknown: str = "unknown field",
) -> tuple[str, list[dict[str, str]]]:
    """A pydantic error as one line naming the first bad field (`field: message`, with the
    value when it is a scalar the message does not show) and the list of every problem as
    `{"field", "message"}` (from a `ValidationError` or its `errors()`, as FastAPI gives them).
    `field` spells a location (default: dotted); `unknown` is what an unexpected key is
    called."""
    spell = field or (lambda loc: ".".join(_key(p) for p in loc))
    details: list[dict[str, str]] = []
    for error in exc.errors() if isinstance(exc, ValidationError) else exc:
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = unknown
        elif _shows_value(error, message):
            message += f" (got {error['input']!r})"
        details.append({"field": spell(tuple(error["loc"])) or "(top level)", "message": message})
    first = details[0] if details else {"field": "(top level)", "message": "invalid"}
    more = len(details) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{first['field']}: {first['message']}{suffix}", details


def _key(part: int | str) -> str:
    """A location's part as written; quoted when it is empty or holds spaces or colons,
    which would read as the end of the key."""
    text = str(part)
    return text if text and not re.search(r"[\s:]", text) else repr(text)


def _shows_value(error: Any, message: str) -> bool:
    value = error.get("input")
    return "input" in error and not isinstance(value, dict | list) and repr(value) not in message
