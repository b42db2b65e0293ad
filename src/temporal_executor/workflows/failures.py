"""How an activity's failure becomes the task's outcome: cancelled with the task, failed with
our error's code, or (for a tool) an error result the LLM reads.

A regular activity's failure reaches the workflow as an `ActivityError` wrapping what the
activity raised; a local activity's as what it raised (or its timeout): `underlying` gives the
latter either way."""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ActivityError, CancelledError, FailureError

with workflow.unsafe.imports_passed_through():
    from ..errors import failure_message, from_failure
    from ..tasks import TaskError
    from ..tenants import name
    from ..turns import StopInput

__all__ = ["TaskFailed", "TaskStopped", "cause", "reraise_cancellation", "underlying"]


class TaskFailed(Exception):
    """Ends the task `failed` with `error`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.error = TaskError(code=code, message=message)

    @classmethod
    def of(cls, exc: FailureError, code: str, prefix: str = "") -> TaskFailed:
        """The task's failure for an activity that failed: our error's code when it is one of
        ours (`provider_not_configured`, …), else `code`."""
        ours = from_failure(underlying(exc))
        return cls(ours.code if ours else code, prefix + cause(exc))


class TaskStopped(Exception):
    """Ends the task `cancelled` because a new message of its session stopped it (`stop`):
    its error says how (`interrupted`: what it did is kept; `rolled_back`: its turn is
    taken out of the session's transcript) and for which task."""

    def __init__(self, stop: StopInput) -> None:
        how = "interrupted" if stop.mode == "interrupt" else "rolled back"
        super().__init__(f"{how} by a new message in its session (task {name(stop.by)!r})")
        self.rollback = stop.mode == "rollback"
        self.error = TaskError(code=how.replace(" ", "_"), message=str(self))


def underlying(exc: FailureError) -> BaseException:
    """What the activity raised (or why it ended: a timeout, a cancellation)."""
    return exc.cause if isinstance(exc, ActivityError) and exc.cause is not None else exc


def cause(exc: FailureError) -> str:
    """What made the activity fail, in words."""
    return failure_message(underlying(exc))


def reraise_cancellation(exc: FailureError) -> None:
    """An activity that ended because the task was cancelled cancels the task, rather than
    counting as an LLM or tool failure."""
    if isinstance(underlying(exc), CancelledError):
        raise asyncio.CancelledError() from exc
