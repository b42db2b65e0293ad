"""A task's place in its session (`turns.py`), as the base class `AgentExecutionWorkflow`
inherits it from: a queued task waits for its turn before it starts; a task that ends tells
the tasks queued behind it; a new message may stop a task (`stop`), which ends at its next
step (`interrupt`) or at once, its turn undone (`rollback`, with a cancellation).

None of this runs for a task that nobody queues behind or stops: the wait is gated by the
input (`queued_behind`, which a task of an earlier release lacks), the rest by updates and
signals that only this release sends, so earlier histories replay unchanged."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from ..activities import TurnActivities, TurnInput
    from ..policies import TURN_CHECKS, TURN_RETRY, TURN_TIMEOUT
    from ..tasks import EventType, TaskState, TaskStatus, workflow_id
    from ..turns import ENDED, FOLLOW, STOP, TURN, FollowInput, StopInput
    from .failures import TaskFailed, TaskStopped
    from .inputs import AgentInput
    from .steps import Steps

__all__ = ["TurnSteps"]


class TurnSteps:
    """Handlers and waits of a task's turn; the workflow class provides the attributes
    below."""

    input: AgentInput
    state: TaskState
    _started: float
    _steps: Steps
    _record: Callable[..., Awaitable[int]]
    _out_of_time: Callable[[], TaskFailed]

    def _init_turns(self, followers: list[str]) -> None:
        self._turn = False  # the task ahead said it ended
        self._stop: StopInput | None = None
        self._followers = list(followers)  # tasks queued behind this one
        self._ended = False  # recorded its end: takes no more followers

    # --- handlers ------------------------------------------------------------------------

    @workflow.update(name=FOLLOW)
    def follow(self, follower: FollowInput) -> None:
        """Task `follower.task_id` waits for this one: it is signalled when this one ends."""
        if follower.task_id not in self._followers:
            self._followers.append(follower.task_id)

    @follow.validator
    def _validate_follow(self, follower: FollowInput) -> None:
        if self._ended:
            raise ApplicationError("this task has ended", type=ENDED)

    @workflow.signal(name=TURN)
    def turn(self) -> None:
        """The task this one waits for has ended (checked again before starting)."""
        self._turn = True

    @workflow.signal(name=STOP)
    def stop(self, stop: StopInput) -> None:
        """A new message stops this task; a rollback overrides an interruption."""
        if self._stop is None or stop.mode == "rollback":
            self._stop = stop

    # --- steps -----------------------------------------------------------------------------

    async def _wait_for_turn(self, behind: str) -> None:
        """Wait (status `queued`) until the task ahead has ended, or this one's time limit
        has passed (it counts from submission, as a person's wait does)."""
        self.state.status = TaskStatus.QUEUED
        self.state.queued_behind = behind
        self._steps.publish(EventType.TASK_QUEUED, {"behind": behind})
        await self._record()
        wait = TURN_CHECKS[0]
        while True:
            self._check_stop()
            self._turn = False  # a signal from now on means: ask again
            turn = await workflow.execute_activity_method(
                TurnActivities.session_turn,
                TurnInput(
                    task_id=self.input.task_id, session_id=self.input.session_id, behind=behind
                ),
                start_to_close_timeout=TURN_TIMEOUT,
                retry_policy=TURN_RETRY,
                summary=f"may it start (queued behind {behind})",
            )
            if turn.go:
                break
            behind = self.state.queued_behind = turn.behind
            left = self.input.time_limit - (workflow.time() - self._started)
            if left <= 0:
                raise self._out_of_time()
            try:
                await workflow.wait_condition(
                    lambda: self._turn or self._stop is not None, timeout=min(wait, left)
                )
            except TimeoutError:
                wait = min(wait * 2, TURN_CHECKS[1])
        self.state.status = TaskStatus.RUNNING
        self.state.queued_behind = None

    def _check_stop(self) -> None:
        """End the task here if a new message stopped it."""
        if self._stop is not None:
            raise TaskStopped(self._stop)

    async def _tell_followers(self) -> None:
        """The task has recorded its end: the tasks queued behind it may go."""
        self._ended = True
        for follower in self._followers:
            handle = workflow.get_external_workflow_handle(workflow_id(follower))
            try:
                await handle.signal(TURN)
            except FailureError:
                # It has ended (cancelled while queued); its own followers were told then.
                workflow.logger.info("task %s no longer waits for its turn", follower)
