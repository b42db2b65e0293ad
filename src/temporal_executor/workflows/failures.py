"""How an activity's failure becomes the task's outcome: cancelled with the task, failed with
our error's code, or (for a tool) an error result the LLM reads."""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ActivityError, CancelledError

with workflow.unsafe.imports_passed_through():
    from ..errors import failure_message, from_failure
    from ..tasks import TaskError

__all__ = ["TaskFailed", "cause", "reraise_cancellation"]


class TaskFailed(Exception):
    """Ends the task `failed` with `error`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.error = TaskError(code=code, message=message)

    @classmethod
    def of(cls, exc: ActivityError, code: str, prefix: str = "") -> TaskFailed:
        """The task's failure for an activity that failed: our error's code when it is one of
        ours (`provider_not_configured`, …), else `code`."""
        ours = from_failure(exc.cause)
        return cls(ours.code if ours else code, prefix + cause(exc))


def cause(exc: ActivityError) -> str:
    """What made the activity fail, in words."""
    return failure_message(exc.cause) if exc.cause is not None else exc.message


def reraise_cancellation(exc: ActivityError) -> None:
    """An activity that ended because the task was cancelled cancels the task, rather than
    counting as an LLM or tool failure."""
    if isinstance(exc.cause, CancelledError):
        raise asyncio.CancelledError() from exc
