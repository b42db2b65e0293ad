"""The human side of `AgentExecutionWorkflow`, as the base class it inherits its handlers
from: the task parks for a decision on tool calls (`approve` update, `decide` signal) or for
answers to an `ask_user` call's questions (`answer` update), and goes on when they arrive.

A parked task records its state (`awaiting_approval` / `awaiting_input`, with what it waits
for) and an event (`approval.required` / `input.required`), then waits on a durable
condition: it holds no worker while it waits, and survives restarts of anything. What
arrives is checked by the update's validator (a refused update leaves no trace in history)
and recorded with its own event (`approval.decided` / `input.answered`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from ..activities import ToolResult
    from ..errors import ConflictError, RequestError, to_failure
    from ..llm.messages import ToolCall
    from ..tasks import EventType, PendingApproval, PendingInput, TaskState, TaskStatus
    from .approval import ApproveInput
    from .failures import TaskFailed
    from .inputs import AgentInput
    from .questions import AnswerInput, answer_result, questions_of
    from .steps import Steps

__all__ = ["HumanSteps"]


class HumanSteps:
    """Handlers and waits for a person; the workflow class provides the attributes below."""

    input: AgentInput
    state: TaskState
    _steps: Steps
    _started: float
    _record: Callable[..., Awaitable[int]]
    _publish_result: Callable[[ToolResult], None]

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
        if problem := decision.decision.problem(pending.tool_calls):
            raise to_failure(RequestError(problem))

    @workflow.signal
    def decide(self, decision: ApproveInput) -> None:
        """The same decision as the `approve` update, for callers that cannot wait."""
        pending = self.state.pending_approval
        if pending is None or self._decision is not None:
            workflow.logger.warning("approval signal ignored: nothing is awaiting approval")
        elif problem := decision.decision.problem(pending.tool_calls):
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
        expired: tuple[str, str],
    ) -> None:
        """Record that the task waits for a person, and wait until `arrived()`; past the
        task's time limit the task fails with `expired` (code, message)."""
        self.state.status = status
        self._steps.publish(event, data)
        await self._record()
        remaining = self.input.policies.timeouts.task - (workflow.time() - self._started)
        try:
            await workflow.wait_condition(arrived, timeout=max(remaining, 1.0))
        except TimeoutError:
            raise TaskFailed(*expired) from None
        self.state.status = TaskStatus.RUNNING

    async def _await_approval(self, calls: list[ToolCall]) -> ApproveInput:
        """Wait for the decision on `calls`."""
        self.state.pending_approval = PendingApproval(tool_calls=calls)
        await self._park(
            TaskStatus.AWAITING_APPROVAL,
            EventType.APPROVAL_REQUIRED,
            {"tool_calls": [c.model_dump(mode="json") for c in calls]},
            lambda: self._decision is not None,
            ("approval_timeout", "no approval decision in time"),
        )
        decision, self._decision = self._decision, None
        assert decision is not None
        self.state.pending_approval = None
        self._steps.publish(EventType.APPROVAL_DECIDED, decision.event())
        await self._record()
        return decision

    async def _ask(self, call: ToolCall) -> ToolResult:
        """Put an `ask_user` call's questions to a person; their answers are its result."""
        try:
            questions = questions_of(call)
        except ValueError as exc:
            refused = ToolResult.error(call, str(exc))
            self._publish_result(refused)
            return refused
        pending = self.state.pending_input = PendingInput(id=call.id, questions=questions)
        await self._park(
            TaskStatus.AWAITING_INPUT,
            EventType.INPUT_REQUIRED,
            pending.model_dump(mode="json"),
            lambda: self._answer is not None,
            ("input_timeout", "no answer to the questions in time"),
        )
        answer, self._answer = self._answer, None
        assert answer is not None
        self.state.pending_input = None
        self._steps.publish(EventType.INPUT_ANSWERED, answer.event(pending))
        content = answer_result(pending, answer.answers)
        result = ToolResult(tool_call_id=call.id, name=call.name, content=content)
        self._publish_result(result)
        await self._record()
        return result
