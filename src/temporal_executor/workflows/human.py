"""The human side of `AgentExecutionWorkflow`, as the base class it inherits its handlers
from: the task parks for a decision on tool calls (`approve` update, `decide` signal) or for
answers to an `ask_user` call's questions (`answer` update), and goes on when they arrive.

A parked task records its state (`awaiting_approval` / `awaiting_input`, with what it waits
for) and an event (`approval.required` / `input.required`), then waits on a durable
condition: it holds no worker while it waits, and survives restarts of anything. A new
message that interrupts the task (`turn_step.py`) ends the wait too: the calls are refused,
the questions go unanswered. What
arrives is checked by the update's validator (a refused update leaves no trace in history)
and recorded with its own event (`approval.decided` / `input.answered`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from ..activities import ToolResult
    from ..errors import ConflictError, InvalidArgumentsError, RequestError, to_failure
    from ..llm.messages import ToolCall
    from ..tasks import (
        EventType,
        NestedApproval,
        PendingApproval,
        PendingInput,
        TaskState,
        TaskStatus,
    )
    from ..turns import StopInput
    from .approval import ApprovalDecision, ApproveInput
    from .failures import TaskFailed
    from .inputs import AgentInput
    from .questions import AnswerInput, answer_result, questions_of
    from .steps import Steps

from .legacy import unsupported

__all__ = ["STOPPED", "HumanSteps"]

STOPPED = "the task was stopped by a new message in its session"


class HumanSteps:
    """Handlers and waits for a person; the workflow class provides the attributes below."""

    input: AgentInput
    state: TaskState
    _started: float
    _steps: Steps
    _record: Callable[..., Awaitable[int]]
    _publish_result: Callable[[ToolResult], None]
    _stop: StopInput | None

    def _init_human(self) -> None:
        self._decision: ApproveInput | None = None
        self._answer: AnswerInput | None = None

    # --- handlers ------------------------------------------------------------------------

    @workflow.update
    async def approve(self, decision: ApproveInput) -> TaskState:
        """Decide on the pending tool calls; rejected (→ 409) when nothing is pending."""
        if self._decision is not None:
            raise to_failure(ConflictError("a decision was already made"))
        self._decision = decision
        return self.state

    @approve.validator
    def _validate_approve(self, decision: ApproveInput) -> None:
        pending = self.state.pending_approval
        if pending is None or self._decision is not None:
            raise to_failure(ConflictError("no tool call is awaiting approval"))
        nested = pending.nested is not None
        if problem := decision.decision.problem(pending.tool_calls, nested=nested) or unsupported(
            self.input, decision.decision
        ):
            raise to_failure(RequestError(problem))
        if problem := decision.decision.argument_problem(pending.tool_calls, pending.parameters):
            raise to_failure(InvalidArgumentsError(problem))

    @workflow.signal
    def decide(self, decision: ApproveInput) -> None:
        """The same decision as the `approve` update, for callers that cannot wait."""
        pending = self.state.pending_approval
        if pending is None or self._decision is not None:
            workflow.logger.warning("approval signal ignored: nothing is awaiting approval")
        elif problem := (
            decision.decision.problem(pending.tool_calls, nested=pending.nested is not None)
            or unsupported(self.input, decision.decision)
            or decision.decision.argument_problem(pending.tool_calls, pending.parameters)
        ):
            workflow.logger.warning("approval signal ignored: %s", problem)
        else:
            self._decision = decision

    @workflow.update
    async def answer(self, answer: AnswerInput) -> TaskState:
        """Answer the pending `ask_user` questions; rejected (→ 409) when none is pending."""
        if self._answer is not None:
            raise to_failure(ConflictError("the questions were answered already"))
        self._answer = answer
        return self.state

    @answer.validator
    def _validate_answer(self, answer: AnswerInput) -> None:
        pending = self.state.pending_input
        if pending is None or self._answer is not None:
            raise to_failure(ConflictError("no question is awaiting an answer"))
        problem = answer.problem(pending)
        if problem and answer.id is not None and answer.id != pending.id:
            raise to_failure(ConflictError(problem))  # a stale answer
        if problem:
            raise to_failure(RequestError(problem))

    # --- waits -----------------------------------------------------------------------------

    async def _park(
        self,
        status: TaskStatus,
        event: EventType,
        data: dict[str, Any],
        arrived: Callable[[], bool],
        timeout: float | None = None,  # noqa: ASYNC109 (a durable timer, not asyncio's)
    ) -> bool:
        """Record that the task waits for a person, and wait until `arrived()`: False when
        `timeout` seconds passed first. (The task's own time limit is the loop's: a task
        that reaches it while parked fails with `approval_timeout` / `input_timeout`.)"""
        self.state.status = status
        self._steps.publish(event, data)
        await self._record()
        # A task of v1 has no timer for its time limit in the loop: as then, the wait for a
        # person does not outlast what is left of it.
        limited = timeout is None and not self.input.time_limit_timer
        if limited:
            timeout = max(self.input.time_limit - (workflow.time() - self._started), 1.0)
        try:
            await workflow.wait_condition(lambda: arrived() or self._interrupted(), timeout=timeout)
            came = True
        except TimeoutError:
            if limited:
                raise self._out_of_time() from None
            came = False
        self.state.status = TaskStatus.RUNNING  # (cancelled: the status tells what it awaited)
        return came

    async def _await_approval(
        self,
        calls: list[ToolCall],
        parameters: dict[str, dict[str, Any]],
        nested: NestedApproval | None = None,
    ) -> ApproveInput:
        """Wait for the decision on `calls` (`parameters`: their tools' schemas, which
        edited arguments must match; `nested`: whose calls they are, when another agent's),
        or take the configured one when it does not come within the approval timeout."""
        timeout = self.input.approval_timeout
        now = workflow.now().timestamp()
        pending = self.state.pending_approval = PendingApproval(
            tool_calls=calls,
            requested_at=now,
            expires_at=now + timeout if timeout else None,
            parameters={c.name: parameters[c.name] for c in calls if c.name in parameters},
            nested=nested,
        )
        arrived = await self._park(
            TaskStatus.AWAITING_APPROVAL,
            EventType.APPROVAL_REQUIRED,
            pending.event(),
            lambda: self._decision is not None,
            timeout,
        )
        decision, self._decision = self._decision, None
        if not arrived:
            decision = self._expired(timeout or 0.0)
        elif decision is None:  # a new message stopped the task
            refused = ApprovalDecision(approved=False, reason=STOPPED)
            decision = ApproveInput(decision=refused, by="stop")
        self.state.pending_approval = None
        self._decided(decision, calls)
        await self._record()
        return decision

    def _interrupted(self) -> bool:
        """Whether a new message interrupted the task: a person's wait ends (a rollback's
        cancellation ends it at once, and is not waited for here)."""
        return self._stop is not None and self._stop.mode == "interrupt"

    async def _await_answer(self, pending: PendingInput) -> AnswerInput | None:
        """Put `pending`'s questions to a person and wait for the answers (recorded); None
        when a new message stopped the task first."""
        self.state.pending_input = pending
        await self._park(
            TaskStatus.AWAITING_INPUT,
            EventType.INPUT_REQUIRED,
            pending.event(),
            lambda: self._answer is not None,
        )
        answer, self._answer = self._answer, None
        self.state.pending_input = None
        if answer is not None:
            self._steps.publish(EventType.INPUT_ANSWERED, answer.event(pending))
        return answer

    def _out_of_time(self) -> TaskFailed:
        """The failure of a task that reached its time limit, by what it was waiting for."""
        limit = f"{self.input.time_limit:g} s"
        if self.state.status == TaskStatus.AWAITING_APPROVAL:
            code, what = "approval_timeout", "no approval decision"
        elif self.state.status == TaskStatus.AWAITING_INPUT:
            code, what = "input_timeout", "no answer to the questions"
        elif self.state.status == TaskStatus.QUEUED:
            code, what = "timeout", f"no turn after task {self.state.queued_behind!r}"
        else:
            code, what = "timeout", "no final answer"
        return TaskFailed(code, f"{what} within the task's time limit ({limit})")

    def _expired(self, timeout: float) -> ApproveInput:
        """The decision `executor.approval_timeout_action` takes when none came in time."""
        action = self.input.policies.approval_timeout_action
        reason = f"no decision within the approval timeout ({timeout:g} s)"
        if action == "fail":
            raise TaskFailed("approval_timeout", reason)
        decision = ApprovalDecision(approved=action == "approve", reason=reason)
        return ApproveInput(decision=decision, by="timeout")

    def _decided(self, decision: ApproveInput, calls: list[ToolCall], **extra: Any) -> None:
        """Record a decision on `calls` (`approval.decided`); tools approved for the session
        are remembered on the task's state."""
        at = workflow.now().timestamp()
        self._steps.publish(EventType.APPROVAL_DECIDED, {**decision.event(calls, at), **extra})
        for call in calls:
            verdict = decision.decision.for_call(call.id)
            if verdict.approved and verdict.remember and call.name not in self.state.approved_tools:
                self.state.approved_tools.append(call.name)

    async def _ask(self, call: ToolCall) -> ToolResult:
        """Put an `ask_user` call's questions to a person; their answers are its result."""
        try:
            questions = questions_of(call)
        except ValueError as exc:
            refused = ToolResult.error(call, str(exc))
            self._publish_result(refused)
            return refused
        pending = PendingInput(id=call.id, questions=questions)
        answer = await self._await_answer(pending)
        if answer is None:  # a new message stopped the task
            unanswered = ToolResult.error(call, f"no answer: {STOPPED}")
            self._publish_result(unanswered)
            await self._record()
            return unanswered
        content = answer_result(pending, answer.answers)
        result = ToolResult(tool_call_id=call.id, name=call.name, content=content)
        self._publish_result(result)
        await self._record()
        return result
