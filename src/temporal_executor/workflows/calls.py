"""How `AgentExecutionWorkflow` makes an LLM or tool call: a local activity first, then a
regular one (the base class both steps inherit it from)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from ..policies import ONE_ATTEMPT, ActivityOptions
    from .failures import reraise_cancellation, underlying
    from .inputs import AgentInput

__all__ = ["ActivityCalls"]

In = TypeVar("In")
Out = TypeVar("Out")


class ActivityCalls:
    """`_call`; the workflow class provides the attributes below (`_markers`: local
    activities whose markers history may not show yet, see `_history_is_long`)."""

    input: AgentInput
    _markers: int

    async def _call(
        self,
        method: Callable[[Any, In], Awaitable[Out]],
        arg: In,
        options: ActivityOptions,
        *,
        summary: str,
    ) -> Out:
        """An LLM or tool call: a local activity in this worker first (no round trips through
        Temporal), and when that attempt fails in a way worth retrying, a regular activity
        with the retry policy (any worker, heartbeats); only the latter without
        `executor.local_activities`. A call that finished is not made again: the activities
        keep their results in the store."""
        if self.input.policies.local_activities:
            self._markers += 1
            try:
                return await workflow.execute_local_activity_method(
                    method,
                    arg,
                    start_to_close_timeout=options["start_to_close_timeout"],
                    retry_policy=ONE_ATTEMPT,
                    summary=summary,
                )
            except FailureError as exc:
                reraise_cancellation(exc)
                failure = underlying(exc)
                if isinstance(failure, ApplicationError):
                    if failure.non_retryable:
                        raise
                    if failure.next_retry_delay:  # the provider asked for a pause
                        await workflow.sleep(failure.next_retry_delay)
        return await workflow.execute_activity_method(method, arg, **options, summary=summary)
