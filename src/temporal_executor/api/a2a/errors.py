"""One table from our errors to A2A errors; the SDK's routes turn those into JSON-RPC error
objects (`-32001` task not found, `-32602` invalid params, …) or HTTP+JSON status codes.

ExecutorError                      A2AError
├── TaskNotFoundError          →   TaskNotFoundError            -32001
├── RequestError               →   InvalidParamsError           -32602
│   └── UnsupportedContentError →  ContentTypeNotSupportedError -32005
└── ConflictError              →   UnsupportedOperationError    -32004 (or what the call says,
                                   e.g. TaskNotCancelableError -32002 for CancelTask)
temporalio RPCError            →   InternalError                -32603 ("Temporal unavailable")
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from a2a.utils.errors import (
    A2AError,
    ContentTypeNotSupportedError,
    InternalError,
    InvalidParamsError,
    TaskNotFoundError,
    UnsupportedOperationError,
)
from temporalio.service import RPCError

from ...errors import ConflictError, ExecutorError, RequestError, UnsupportedContentError
from ...errors import TaskNotFoundError as OurTaskNotFoundError

__all__ = ["A2A_ERRORS", "a2a_errors"]

logger = logging.getLogger(__name__)

A2A_ERRORS: dict[type[ExecutorError], type[A2AError]] = {
    OurTaskNotFoundError: TaskNotFoundError,
    RequestError: InvalidParamsError,
    UnsupportedContentError: ContentTypeNotSupportedError,
    ConflictError: UnsupportedOperationError,
}


@contextmanager
def a2a_errors(conflict: type[A2AError] | None = None) -> Iterator[None]:
    """Raise our errors inside the block as A2A errors; `conflict` overrides the class that
    `ConflictError` becomes (a conflict means different things to different calls)."""
    try:
        yield
    except ExecutorError as exc:
        target = conflict if conflict is not None and isinstance(exc, ConflictError) else None
        target = target or next(
            (A2A_ERRORS[cls] for cls in type(exc).__mro__ if cls in A2A_ERRORS), InternalError
        )
        data = exc.details if isinstance(exc.details, dict) else None
        raise target(exc.message, data=data) from exc
    except RPCError as exc:
        logger.warning("Temporal call failed: %s", exc)
        raise InternalError(f"Temporal is unavailable: {exc.message}") from exc
