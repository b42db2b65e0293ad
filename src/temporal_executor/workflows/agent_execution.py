"""`AgentExecutionWorkflow`: the agent loop, as deterministic orchestration only.

LLM call → (approval, when required) → tool calls in parallel → LLM call … until the LLM
answers without tool calls; the task fails (transcript kept) after `max_iterations` LLM calls,
past `max_total_tokens`, or at its time limit (`timeout`: tools in flight are cancelled). An
LLM call that fails for good is made again with the next of `model_config.fallbacks`.
Each step's events and the task's state are written by one local activity (`record`); every
event gets its key from the workflow's own counter, so a replay or an activity retry never
publishes an event twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, NoReturn, TypeVar

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from ..activities import (
        ExpandToolsInput,
        LLMActivities,
        LLMCallInput,
        ToolActivities,
        ToolCallInput,
        ToolResult,
    )
    from ..errors import ModelUnavailableError
    from ..llm.messages import LLMResponse, Message, ToolCall, ToolDefinition
    from ..policies import ONE_ATTEMPT, ActivityOptions
    from ..spec import ModelChoice, ToolSpec
    from ..tasks import EventType, TaskError, TaskResult, TaskState, TaskStatus
    from .approval import ApprovalDecision, ApproveInput, Gated, ToolDecision, gate
    from .failures import TaskFailed, cause, reraise_cancellation, underlying
    from .human import HumanSteps
    from .inputs import AgentCarry, AgentInput
    from .questions import is_ask_user
    from .steps import Steps

__all__ = ["AgentExecutionWorkflow"]

In = TypeVar("In")
Out = TypeVar("Out")


@workflow.defn(name="AgentExecutionWorkflow")
class AgentExecutionWorkflow(HumanSteps):
    """The loop; its handlers for people (`approve`, `decide`, `answer`) and its waits for
    them come from `HumanSteps` (`human.py`)."""

    @workflow.init
    def __init__(self, input: AgentInput) -> None:
        self.input = input
        self._started = workflow.time()
        self.state = TaskState(
            task_id=input.task_id,
            session_id=input.session_id,
            approved_tools=list(input.approved_tools),
            model=f"{input.model.provider}/{input.model.model}",
            created_at=self._started,
        )
        self._steps = Steps(input.task_id, input.session_id)
        self._history_seen = self._markers = 0  # see _history_is_long
        self._stored_messages = 0
        self._unsaved: list[Message] = []
        self._init_human()
        self._tools = input.tools
        if input.carry is not None:
            carry = input.carry
            self.state = carry.state
            self._steps.seq = carry.seq
            self._stored_messages = carry.stored_messages
            self._unsaved = carry.unsaved
            self._tools = carry.tools
            self._started = carry.started

    # --- handlers ------------------------------------------------------------------------

    @workflow.query(name="state")
    def state_query(self) -> TaskState:
        return self.state

    # --- the loop ------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: AgentInput) -> TaskState:
        try:
            if input.carry is None:
                await self._start()
            answer = await self._loop_in_time()
        except TaskFailed as failed:
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
        self._steps.publish(
            EventType.TASK_STARTED,
            {
                "session_id": input.session_id,
                "user_message": input.user_message,
                **({"message_id": input.user_message_id} if input.user_message_id else {}),
                "model": input.model.model_dump(mode="json"),
            },
        )
        self._stored_messages = await self._record(count_transcript=True)
        if input.expand_tools:
            await self._expand_tools()
        # A session's system message is its first turn's: later turns continue that conversation.
        if input.system_message and self._stored_messages == 0:
            self._unsaved.append(Message(role="system", content=input.system_message))
        self._unsaved.append(
            Message(role="user", content=input.user_message, id=input.user_message_id)
        )

    async def _loop_in_time(self) -> Message:
        """The loop, stopped at the task's time limit (what is in flight is cancelled); a
        task of v1 (started before there was a limit) runs the loop without its timer."""
        if not self.input.time_limit_timer:
            return await self._loop()
        remaining = self.input.time_limit - (workflow.time() - self._started)
        try:
            return await asyncio.wait_for(self._loop(), timeout=max(remaining, 0.001))
        except TimeoutError:
            raise self._out_of_time() from None

    async def _loop(self) -> Message:
        while True:
            if self._history_is_long():
                await self._continue_as_new()
            if self.state.iterations >= self.input.max_iterations:
                raise TaskFailed(
                    "max_iterations",
                    f"no final answer after {self.input.max_iterations} LLM calls "
                    "(max_iterations reached)",
                )
            message = (await self._invoke_llm()).message
            self._unsaved = [message]
            self._check_budget()  # (the answer that passed it is kept in the transcript)
            if not message.tool_calls:
                return message
            self._unsaved = await self._run_tools(message)

    def _history_is_long(self) -> bool:
        """Whether to continue as new. A local activity's marker reaches history only when
        the workflow task completes (with fast calls a whole task can run in one), so markers
        are counted here until the history length shows them."""
        info = workflow.info()
        length = info.get_current_history_length()
        if length != self._history_seen:
            self._history_seen, self._markers = length, 0
        limit = self.input.policies.history_limit
        return info.is_continue_as_new_suggested() or length + self._markers >= limit

    async def _continue_as_new(self) -> NoReturn:
        """Hand the loop's state to a fresh run: history stays bounded however long the task."""
        await workflow.wait_condition(workflow.all_handlers_finished)
        carry = AgentCarry(
            state=self.state,
            seq=self._steps.seq,
            stored_messages=self._stored_messages,
            unsaved=self._unsaved,
            tools=self._tools,
            started=self._started,
        )
        workflow.continue_as_new(self.input.model_copy(update={"carry": carry}))

    async def _expand_tools(self) -> None:
        try:
            self._tools = await workflow.execute_activity_method(
                ToolActivities.expand_tools,
                ExpandToolsInput(task_id=self.input.task_id, tools=self._tools),
                **self.input.policies.tool(),
                summary="list the tools of MCP servers",
            )
        except FailureError as exc:
            reraise_cancellation(exc)
            raise TaskFailed.of(exc, "tool_error", "could not list tools: ") from exc

    async def _invoke_llm(self) -> LLMResponse:
        """One LLM call: with the task's model, then each fallback in turn while the model
        before it is down (its retries used up) or does not serve the model."""
        self.state.iterations += 1
        choices = self.input.model.choices()
        for n, model in enumerate(choices):
            key = f"llm:{self.state.iterations}" + (f":{n}" if n else "")
            try:
                response = await self._call_llm(model, key)
                break
            except FailureError as exc:
                reraise_cancellation(exc)
                if n + 1 == len(choices) or not _worth_a_fallback(exc):
                    raise TaskFailed.of(exc, "llm_error") from exc
                following = choices[n + 1]
                self._steps.publish(
                    EventType.LLM_FALLBACK,
                    {
                        "iteration": self.state.iterations,
                        "from": model.key,
                        "to": following.key,
                        "error": cause(exc),
                    },
                )
                # A stream of the failed model's answer may have begun: it starts over.
                call = f"llm:{self.state.iterations}:{n + 1}"
                self._steps.publish(
                    EventType.LLM_RESTART, {"call": call, "attempt": 1, "model": following.key}
                )
                await self._record()
        # The activity wrote `llm.message` and the calls' `tool.call`, and this same state.
        self._stored_messages += len(self._unsaved)
        self.state = self.state.counted(model.key, response.usage)
        return response

    def _check_budget(self) -> None:
        budget = self.input.max_total_tokens
        if budget is not None and self.state.usage.total_tokens > budget:
            raise TaskFailed(
                "budget_exceeded",
                f"the task used {self.state.usage.total_tokens} tokens, more than its "
                f"max_total_tokens ({budget})",
            )

    async def _call_llm(self, model: ModelChoice, call_key: str) -> LLMResponse:
        policies = self.input.policies
        call = LLMCallInput(
            task_id=self.input.task_id,
            conversation=self.input.session_id,
            call_key=call_key,
            state=self.state,
            first_index=self._stored_messages,
            new_messages=self._unsaved,
            inline_bytes=policies.inline_bytes,
            max_content_bytes=policies.max_content_bytes,
            model=model,
            tools=[
                ToolDefinition(name=t.name, description=t.description, parameters=t.parameters)
                for t in self._tools
            ],
        )
        return await self._call(
            LLMActivities.invoke_llm,
            call,
            policies.llm(),
            summary=f"LLM call {self.state.iterations}: {model.model}",
        )

    async def _run_tools(self, message: Message) -> list[Message]:
        """Run (or refuse) the calls of one LLM turn. Returns the LLM's message with the
        arguments its calls ran with (a person may have edited them), their results in the
        LLM's order, then what the user said with their decision, if anything."""
        calls = message.tool_calls
        specs = {t.name: t for t in self._tools}
        known = [c for c in calls if c.name in specs]
        asks = {c.id for c in known if is_ask_user(specs[c.name])}
        gates = {
            c.id: gate(
                c.name,
                self.input.require_approval,
                self.input.policies.approval_policy,
                self.state.approved_tools,
            )
            for c in known
            if c.id not in asks
        }
        verdicts = self._automatic_decisions(known, gates)
        gated = [c for c in known if c.id in gates and gates[c.id].action == "ask"]
        decision = None
        if gated:
            parameters = {c.name: specs[c.name].parameters for c in gated}
            decision = await self._await_approval(gated, parameters)
            verdicts.update({c.id: decision.decision.for_call(c.id) for c in gated})

        async def run_one(call: ToolCall) -> ToolResult:
            verdict = verdicts.get(call.id)
            if call.name not in specs:
                result = ToolResult.error(call, f"unknown tool {call.name!r}")
            elif verdict is not None and not verdict.approved:
                result = ToolResult.error(call, _refusal(verdict))
            elif call.id in asks:
                async with asking:  # one question pause at a time, in the LLM's order
                    return await self._ask(call)
            else:
                return await self._execute_tool(call, specs[call.name])
            self._publish_result(result)
            return result

        asking = asyncio.Lock()
        run = [_as_run(call, verdicts.get(call.id)) for call in calls]
        results = [r.message() for r in await asyncio.gather(*(run_one(c) for c in run))]
        if self._steps.queued:  # results of calls that did not run, before the next LLM call
            await self._record()
        if decision is not None and decision.message:
            results.append(Message(role="user", content=decision.message, id=decision.message_id))
        return [message.model_copy(update={"tool_calls": run}), *results]

    def _automatic_decisions(
        self,
        calls: list[ToolCall],
        gates: Mapping[str, Gated],
    ) -> dict[str, ToolDecision]:
        """Decisions taken without a person (by the approval policy, or because the tool was
        approved for the session), each recorded as an `approval.decided` of its own."""
        verdicts: dict[str, ToolDecision] = {}
        for by in ("policy", "session"):
            decided = [c for c in calls if c.id in gates and gates[c.id].by == by]
            if not decided:
                continue
            for call in decided:
                action, _, rule = gates[call.id]
                reason = rule.reason if rule is not None and rule.reason else None
                if action == "deny":
                    reason = reason or f"the approval policy refuses {call.name!r}"
                verdicts[call.id] = ToolDecision(approved=action != "deny", reason=reason)
            automatic = ApproveInput(
                decision=ApprovalDecision(tool_calls={c.id: verdicts[c.id] for c in decided}),
                by=by,
            )
            self._decided(automatic, decided, automatic=True)
        return verdicts

    async def _execute_tool(self, call: ToolCall, spec: ToolSpec) -> ToolResult:
        policies = self.input.policies
        try:
            return await self._call(
                ToolActivities.execute_tool,
                ToolCallInput(
                    task_id=self.input.task_id,
                    call=call,
                    spec=spec,
                    inline_bytes=policies.inline_bytes,
                ),
                policies.tool(),
                summary=f"tool {call.name} ({call.id})",
            )
        except FailureError as exc:
            reraise_cancellation(exc)
            result = ToolResult.error(call, f"tool failed: {cause(exc)}")
            self._publish_result(result)
            return result

    def _publish_result(self, result: ToolResult) -> None:
        """The `tool.result` of a call that no activity ran to its end (refused, failed, or
        answered by a person; an executed call's activity writes its own), under the same
        key: one result a call, whoever writes."""
        self._steps.publish(EventType.TOOL_RESULT, result.event(), key=result.event_key())

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
        self.state.pending_input = None
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
        # One record: the transcript (the last answer and unsent tool results included) and
        # the final state are written before the terminal event, so a client that sees it
        # finds both.
        self._steps.publish(terminal, data)
        await self._record(with_transcript=True)

    async def _record(
        self, *, with_transcript: bool = False, count_transcript: bool = False
    ) -> int:
        """Write the step's events with the task's state (and, at the end, its transcript);
        the session's transcript length when `count_transcript`."""
        self._markers += 1
        transcript = self._unsaved if with_transcript else None
        return await self._steps.record(
            self.state,
            first_index=self._stored_messages,
            transcript=transcript,
            count_transcript=count_transcript,
        )


def _worth_a_fallback(exc: FailureError) -> bool:
    """Whether a failed LLM call may be made with the next model: the model is down (a
    retryable failure that outlasted its retries, a timeout) or not served; not when the
    request itself is wrong (bad request, auth, a malformed reply)."""
    failure = underlying(exc)
    if isinstance(failure, ApplicationError):
        return failure.type == ModelUnavailableError.code or not failure.non_retryable
    return True  # a timeout


def _refusal(verdict: ToolDecision) -> str:
    """The result of a refused call, for the LLM."""
    reason = f": {verdict.reason}" if verdict.reason else ""
    return f"The user rejected this tool call{reason}"


def _as_run(call: ToolCall, verdict: ToolDecision | None) -> ToolCall:
    """The call as it runs: with the arguments a person edited, if they did."""
    if verdict is None or verdict.arguments is None:
        return call
    return call.model_copy(update={"arguments": verdict.arguments, "arguments_error": None})
