"""How `AgentExecutionWorkflow` makes an LLM or tool call: a local activity first, then a
regular one; and while shared limits leave no capacity, a durable wait between tries (the
base class both steps inherit it from)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from ..activities import CapacityWait
    from ..activities.capacity import MayWait, WaitsForCapacity
    from ..policies import ONE_ATTEMPT, ActivityOptions
    from ..tasks import CapacityWaiting, EventType, TaskState
    from .failures import reraise_cancellation, underlying
    from .inputs import LEGACY_LOOP, AgentInput
    from .steps import Steps

__all__ = ["CAPACITY_PATCH", "ActivityCalls"]

In = TypeVar("In", bound=WaitsForCapacity)
Out = TypeVar("Out", bound=MayWait)

# Calls that may wait for capacity (0.2.0): a run that began before makes each call once.
CAPACITY_PATCH = "capacity-waits"


class ActivityCalls:
    """`_call`; the workflow class provides the attributes below (`_markers`: local
    activities whose markers history may not show yet, see `_history_is_long`)."""

    input: AgentInput
    state: TaskState
    _markers: int
    _steps: Steps
    _record: Callable[..., Awaitable[int]]

    async def _call(
        self,
        method: Callable[[Any, In], Awaitable[Out]],
        arg: In,
        options: ActivityOptions,
        *,
        summary: str,
        call: str,
        saves_state: bool = False,
        local: bool = True,
    ) -> Out:
        """An LLM or tool call (`call`: `llm:<n>` or `tool:<id>`). When the activity finds no
        capacity under a shared limit it returns at once (no slot held, no retry spent) and
        the call waits on a durable timer, then tries again: the task's state lists it in
        `waiting_for_capacity` meanwhile, and a `task.waiting_for_capacity` event says so
        when it starts waiting (or waits for another limit). An activity that `saves_state`
        writes the state without the wait itself once it got through. Not `local`: a
        regular activity only (a call that may run long). The loop of 0.1.0+254ae33
        (`legacy.py`) makes each call once, as that release did."""
        if self.input.loop == LEGACY_LOOP or not workflow.patched(CAPACITY_PATCH):
            return await self._attempt(method, arg, options, summary=summary, local=local)
        arg = arg.model_copy(update={"may_wait": True})
        waited: CapacityWait | None = None
        try:
            while (
                result := await self._attempt(method, arg, options, summary=summary, local=local)
            ).wait:
                wait = result.wait
                if waited is None or waited.limit != wait.limit:
                    self._wait_starts(call, wait)
                    await self._record()
                waited = wait
                await workflow.sleep(wait.retry_after)
        finally:
            if waited is not None:
                self._wait_ends(call)
        if waited is not None and not saves_state:
            await self._record()
        return result

    def _wait_starts(self, call: str, wait: CapacityWait) -> None:
        since = workflow.time()
        waiting = CapacityWaiting(call=call, limit=wait.limit, reason=wait.reason, since=since)
        others = [w for w in self.state.waiting_for_capacity if w.call != call]
        # A new state, not a change to it: the activity input being retried holds the old one.
        self.state = self.state.model_copy(update={"waiting_for_capacity": [*others, waiting]})
        self._steps.publish(
            EventType.WAITING_FOR_CAPACITY,
            {
                "call": call,
                "limit": wait.limit,
                "reason": wait.reason,
                "retry_after": round(wait.retry_after, 3),
            },
        )

    def _wait_ends(self, call: str) -> None:
        left = [w for w in self.state.waiting_for_capacity if w.call != call]
        self.state = self.state.model_copy(update={"waiting_for_capacity": left})

    async def _attempt(
        self,
        method: Callable[[Any, In], Awaitable[Out]],
        arg: In,
        options: ActivityOptions,
        *,
        summary: str,
        local: bool,
    ) -> Out:
        """One try of a call: a local activity in this worker first (no round trips through
        Temporal), and when that attempt fails in a way worth retrying, a regular activity
        with the retry policy (any worker, heartbeats); only the latter without
        `executor.local_activities` or `local`. A call that finished is not made again: the
        activities keep their results in the store."""
        if local and self.input.policies.local_activities:
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
