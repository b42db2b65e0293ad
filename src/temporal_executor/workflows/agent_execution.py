"""`AgentExecutionWorkflow`: the agent loop, as deterministic orchestration only.

LLM call → (approval, when required) → tool calls in parallel → LLM call … until the LLM
answers without tool calls, or `max_iterations` LLM calls were made (the task then fails,
transcript kept). Every event gets its key from the workflow's own counter, so a replay or
an activity retry never publishes an event twice.
"""

from __future__ import annotations

import asyncio
from typing import Any, NoReturn

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, FailureError

with workflow.unsafe.imports_passed_through():
    from ..models import (
        AgentCarry,
        AgentInput,
        ApprovalDecision,
        EventType,
        ExpandToolsInput,
        LLMCallInput,
        LLMResponse,
        Message,
        OpenSessionInput,
        PendingApproval,
        PublishEventInput,
        SaveStateInput,
        TaskError,
        TaskResult,
        TaskState,
        TaskStatus,
        ToolCall,
        ToolCallInput,
        ToolDefinition,
        ToolResult,
        ToolSpec,
    )
    from ..policies import EVENT_RETRY, EVENT_TIMEOUT, retry_policy, seconds

__all__ = ["AgentExecutionWorkflow", "workflow_id"]


def workflow_id(task_id: str) -> str:
    return f"agent-execution-{task_id}"


class _TaskFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.error = TaskError(code=code, message=message)


@workflow.defn(name="AgentExecutionWorkflow")
class AgentExecutionWorkflow:
    @workflow.init
    def __init__(self, input: AgentInput) -> None:
        self.input = input
        self.state = TaskState(task_id=input.task_id, session_id=input.session_id)
        self._seq = 0
        self._stored_messages = 0
        self._unsaved: list[Message] = []
        self._decision: ApprovalDecision | None = None
        self._tools = input.tools
        self._started = workflow.time()
        if input.carry is not None:
            carry = input.carry
            self.state = carry.state
            self._seq = carry.seq
            self._stored_messages = carry.stored_messages
            self._unsaved = carry.unsaved
            self._tools = carry.tools
            self._started = carry.started

    # --- handlers ------------------------------------------------------------------------

    @workflow.query(name="state")
    def state_query(self) -> TaskState:
        return self.state

    @workflow.update
    async def approve(self, decision: ApprovalDecision) -> TaskState:
        """Decide on the pending tool calls; rejected (→ 409) when nothing is pending."""
        if self._decision is not None:
            raise ApplicationError("a decision was already made", type="Conflict")
        self._decision = decision
        return self.state

    @approve.validator
    def _validate_approve(self, decision: ApprovalDecision) -> None:
        pending = self.state.pending_approval
        if pending is None or self._decision is not None:
            raise ApplicationError("no tool call is awaiting approval", type="Conflict")
        problem = decision.problem(pending.tool_calls)
        if problem:
            raise ApplicationError(problem, type="InvalidDecision")

    @workflow.signal
    def decide(self, decision: ApprovalDecision) -> None:
        """The same decision as the `approve` update, for callers that cannot wait."""
        pending = self.state.pending_approval
        if pending is None or self._decision is not None:
            workflow.logger.warning("approval signal ignored: nothing is awaiting approval")
        elif problem := decision.problem(pending.tool_calls):
            workflow.logger.warning("approval signal ignored: %s", problem)
        else:
            self._decision = decision

    # --- the loop ------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: AgentInput) -> TaskState:
        try:
            if input.carry is None:
                await self._start()
            answer = await self._loop()
        except _TaskFailed as failed:
            await self._finish(TaskStatus.FAILED, error=failed.error)
            raise ApplicationError(failed.error.message, type=failed.error.code) from None
        except asyncio.CancelledError:
            await self._finish(TaskStatus.CANCELLED)
            raise
        result = TaskResult(content=answer.content or "", content_ref=answer.content_ref)
        await self._finish(TaskStatus.COMPLETED, result=result)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state

    async def _start(self) -> None:
        input = self.input
        await self._publish(
            EventType.TASK_STARTED,
            {
                "session_id": input.session_id,
                "user_message": input.user_message,
                **({"message_id": input.user_message_id} if input.user_message_id else {}),
                "model": input.model.model_dump(mode="json"),
            },
        )
        self._stored_messages = await workflow.execute_local_activity(
            "open_session",
            OpenSessionInput(session_id=input.session_id, task_id=input.task_id),
            result_type=int,
            start_to_close_timeout=EVENT_TIMEOUT,
            retry_policy=EVENT_RETRY,
        )
        await self._save()
        if input.expand_tools:
            await self._expand_tools()
        # A session's system message is its first turn's: later turns continue that conversation.
        if input.system_message and self._stored_messages == 0:
            self._unsaved.append(Message(role="system", content=input.system_message))
        self._unsaved.append(
            Message(role="user", content=input.user_message, id=input.user_message_id)
        )

    async def _loop(self) -> Message:
        while True:
            if self._history_is_long():
                await self._continue_as_new()
            if self.state.iterations >= self.input.max_iterations:
                raise _TaskFailed(
                    "max_iterations",
                    f"no final answer after {self.input.max_iterations} LLM calls "
                    "(max_iterations reached)",
                )
            message = (await self._invoke_llm()).message
            self._unsaved = [message]
            if not message.tool_calls:
                return message
            self._unsaved += await self._run_tools(message.tool_calls)

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self.input.policies.history_limit
        )

    async def _continue_as_new(self) -> NoReturn:
        """Hand the loop's state to a fresh run: history stays bounded however long the task."""
        await workflow.wait_condition(workflow.all_handlers_finished)
        carry = AgentCarry(
            state=self.state,
            seq=self._seq,
            stored_messages=self._stored_messages,
            unsaved=self._unsaved,
            tools=self._tools,
            started=self._started,
        )
        workflow.continue_as_new(self.input.model_copy(update={"carry": carry}))

    async def _expand_tools(self) -> None:
        policies = self.input.policies
        try:
            self._tools = await workflow.execute_activity(
                "expand_tools",
                ExpandToolsInput(task_id=self.input.task_id, tools=self._tools),
                result_type=list[ToolSpec],
                start_to_close_timeout=seconds(policies.tool_timeout),
                heartbeat_timeout=seconds(policies.heartbeat_timeout),
                retry_policy=retry_policy(policies.tool_retry),
                summary="list the tools of MCP servers",
            )
        except ActivityError as exc:
            _reraise_cancellation(exc)
            raise _TaskFailed("tool_error", f"could not list tools: {_cause(exc)}") from exc

    async def _invoke_llm(self) -> LLMResponse:
        self.state.iterations += 1
        policies = self.input.policies
        call = LLMCallInput(
            task_id=self.input.task_id,
            conversation=self.input.session_id,
            call_key=f"llm:{self.state.iterations}",
            first_index=self._stored_messages,
            new_messages=self._unsaved,
            inline_bytes=policies.inline_bytes,
            max_content_bytes=policies.max_content_bytes,
            model=self.input.model,
            tools=[
                ToolDefinition(name=t.name, description=t.description, parameters=t.parameters)
                for t in self._tools
            ],
        )
        try:
            response: LLMResponse = await workflow.execute_activity(
                "invoke_llm",
                call,
                result_type=LLMResponse,
                start_to_close_timeout=seconds(policies.llm_timeout),
                heartbeat_timeout=seconds(policies.heartbeat_timeout),
                retry_policy=retry_policy(policies.llm_retry),
                summary=f"LLM call {self.state.iterations}: {self.input.model.model}",
            )
        except ActivityError as exc:
            _reraise_cancellation(exc)
            raise _TaskFailed("llm_error", _cause(exc)) from exc
        self._stored_messages += len(self._unsaved)
        self.state.usage = self.state.usage + response.usage
        message = response.message
        await self._publish(
            EventType.LLM_MESSAGE,
            {
                "iteration": self.state.iterations,
                "content": message.content,
                "content_ref": message.content_ref,
                "tool_calls": [c.model_dump(mode="json") for c in message.tool_calls],
                "usage": response.usage.model_dump(),
                "finish_reason": response.finish_reason,
            },
        )
        return response

    async def _run_tools(self, calls: list[ToolCall]) -> list[Message]:
        """Run (or refuse) the calls of one LLM turn: their results in the LLM's order, then
        what the user said with their approval decision, if anything."""
        specs = {t.name: t for t in self._tools}
        for call in calls:
            await self._publish(EventType.TOOL_CALL, call.model_dump(mode="json"))
        gated = [c for c in calls if c.name in specs and self._needs_approval(c.name)]
        gated_ids = {c.id for c in gated}
        decision = await self._await_approval(gated) if gated else None

        async def run_one(call: ToolCall) -> ToolResult:
            if call.name not in specs:
                result = _error_result(call, f"unknown tool {call.name!r}")
            elif (
                decision is not None
                and call.id in gated_ids
                and not (verdict := decision.for_call(call.id)).approved
            ):
                reason = f": {verdict.reason}" if verdict.reason else ""
                result = _error_result(call, f"The user rejected this tool call{reason}")
            else:
                result = await self._execute_tool(call, specs[call.name])
            await self._publish(EventType.TOOL_RESULT, result.model_dump(mode="json"))
            return result

        results = [r.message() for r in await asyncio.gather(*(run_one(c) for c in calls))]
        if decision is not None and decision.message:
            said = Message(role="user", content=decision.message, id=decision.message_id)
            results.append(said)
        return results

    async def _execute_tool(self, call: ToolCall, spec: ToolSpec) -> ToolResult:
        policies = self.input.policies
        try:
            result: ToolResult = await workflow.execute_activity(
                "execute_tool",
                ToolCallInput(
                    task_id=self.input.task_id,
                    call=call,
                    spec=spec,
                    inline_bytes=policies.inline_bytes,
                ),
                result_type=ToolResult,
                start_to_close_timeout=seconds(policies.tool_timeout),
                heartbeat_timeout=seconds(policies.heartbeat_timeout),
                retry_policy=retry_policy(policies.tool_retry),
                summary=f"tool {call.name} ({call.id})",
            )
            return result
        except ActivityError as exc:
            _reraise_cancellation(exc)
            return _error_result(call, f"tool failed: {_cause(exc)}")

    def _needs_approval(self, name: str) -> bool:
        policy = self.input.require_approval
        return policy if isinstance(policy, bool) else name in policy

    async def _await_approval(self, calls: list[ToolCall]) -> ApprovalDecision:
        self.state.status = TaskStatus.AWAITING_APPROVAL
        self.state.pending_approval = PendingApproval(tool_calls=calls)
        await self._publish(
            EventType.APPROVAL_REQUIRED,
            {"tool_calls": [c.model_dump(mode="json") for c in calls]},
        )
        await self._save()
        remaining = self.input.policies.task_timeout - (workflow.time() - self._started)
        try:
            await workflow.wait_condition(
                lambda: self._decision is not None, timeout=max(remaining, 1.0)
            )
        except TimeoutError:
            raise _TaskFailed("approval_timeout", "no approval decision in time") from None
        decision = self._decision
        assert decision is not None
        self._decision = None
        self.state.status = TaskStatus.RUNNING
        self.state.pending_approval = None
        await self._publish(EventType.APPROVAL_DECIDED, decision.model_dump())
        await self._save()
        return decision

    # --- events and state ----------------------------------------------------------------

    async def _finish(
        self,
        status: TaskStatus,
        *,
        result: TaskResult | None = None,
        error: TaskError | None = None,
    ) -> None:
        self.state.status = status
        self.state.result = result
        self.state.error = error
        self.state.pending_approval = None
        data: dict[str, Any] = {
            "usage": self.state.usage.model_dump(),
            "iterations": self.state.iterations,
        }
        if result is not None:
            data["result"] = result.model_dump()
        if error is not None:
            data["error"] = error.model_dump()
        terminal = {
            TaskStatus.COMPLETED: EventType.TASK_COMPLETED,
            TaskStatus.FAILED: EventType.TASK_FAILED,
            TaskStatus.CANCELLED: EventType.TASK_CANCELLED,
        }[status]
        # Save before publishing: a client that sees the terminal event finds the final state
        # and the whole transcript, the last answer and unsent tool results included.
        await self._save(with_transcript=True)
        await self._publish(terminal, data)

    async def _publish(self, type: EventType, data: dict[str, Any]) -> None:
        self._seq += 1
        await workflow.execute_local_activity(
            "publish_event",
            PublishEventInput(
                task_id=self.input.task_id, key=f"wf:{self._seq}", type=type, data=data
            ),
            result_type=int,
            start_to_close_timeout=EVENT_TIMEOUT,
            retry_policy=EVENT_RETRY,
        )

    async def _save(self, *, with_transcript: bool = False) -> None:
        await workflow.execute_local_activity(
            "save_state",
            SaveStateInput(
                state=self.state,
                first_index=self._stored_messages,
                messages=self._unsaved if with_transcript else [],
            ),
            start_to_close_timeout=EVENT_TIMEOUT,
            retry_policy=EVENT_RETRY,
        )


def _error_result(call: ToolCall, message: str) -> ToolResult:
    return ToolResult(tool_call_id=call.id, name=call.name, content=message, is_error=True)


def _reraise_cancellation(exc: ActivityError) -> None:
    """An activity that ended because the task was cancelled cancels the task, rather than
    counting as an LLM or tool failure."""
    if isinstance(exc.cause, CancelledError):
        raise asyncio.CancelledError() from exc


def _cause(exc: ActivityError) -> str:
    cause = exc.cause
    return cause.message if isinstance(cause, FailureError) else exc.message
