"""The loop of release 0.1.0+254ae33 (commit 254ae337), for the tasks that release started.

**What it replays.** That release's workflow took other steps than this one's: every event
was a local activity of its own (`publish_event`, keyed `wf:N` by the workflow's counter),
the turn's start in the session was counted by `open_session` and the task's state saved by
`save_state` (local activities too: `activities/legacy.py`), LLM and tool calls were regular
activities only, and its one timer was a parked task's wait for a decision, bounded by
`executor.timeouts.task`. A worker goes on with a task by replaying its history first, so a
task that release started must take the same steps, in the same order, with the same event
keys: this class takes them, on this release's activities. Its input says so (`loop`, set by
the migration of `AgentInput` v1, `inputs.py`); when it continues as new, the next run takes
this release's loop, with the same carry.

**What such a task does not have.** 254ae33 had no approval policy, approval timeout, edited
arguments, "remember", `ask_user`, fallbacks, budgets or time limit, and its inputs carry none
of them. A decision that edits `arguments` or asks to `remember` a tool is refused (400,
naming the field: `unsupported`) rather than ignored; there is no question to answer.

**When it goes.** With `tests/replay/releases/0.1.0+254ae33/`, when the CHANGELOG says tasks
of 0.1.0+254ae33 are no longer taken over: then this module, `activities/legacy.py`, the v1
migrations of `AgentInput` and `ApproveInput` and `LLMCallInput`'s state-less form go too
(the `loop` field stays, as every carried field does).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

from temporalio import workflow
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from ..activities import (
        LegacyActivities,
        OpenSessionInput,
        PublishEventInput,
        SaveStateInput,
        ToolResult,
    )
    from ..llm.messages import LLMResponse, Message, ToolCall
    from ..policies import RECORD_RETRY, RECORD_TIMEOUT
    from ..spec import ModelChoice, ToolSpec
    from ..store import WORKFLOW_KEY_PREFIX
    from ..tasks import EventType, PendingApproval, TaskError, TaskResult, TaskState, TaskStatus
    from .approval import ApprovalDecision, ApproveInput, gate
    from .failures import TaskFailed, reraise_cancellation
    from .inputs import LEGACY_LOOP, AgentInput
    from .steps import Steps

__all__ = ["LegacyLoop", "unsupported"]

_RELEASE = "this task was started by release 0.1.0+254ae33, which"


def unsupported(input: AgentInput, decision: ApprovalDecision) -> str | None:
    """Why a task in the loop of 0.1.0+254ae33 cannot take `decision` (None: it can)."""
    if input.loop != LEGACY_LOOP:
        return None
    decided = [decision, *decision.tool_calls.values()]
    if any(d.arguments is not None for d in decided):
        return f"arguments: {_RELEASE} runs tool calls with the arguments the LLM gave"
    if any(d.remember is not None for d in decided):
        return f'remember: {_RELEASE} asks for every call; approve without "remember"'
    return None


class LegacyLoop:
    """254ae33's steps; the workflow class provides the attributes below (the events are
    numbered by `_steps.seq`, as the current loop's are, so a carry hands it on)."""

    input: AgentInput
    state: TaskState
    _steps: Steps
    _started: float
    _stored_messages: int
    _unsaved: list[Message]
    _tools: list[ToolSpec]
    _decision: ApproveInput | None
    _started_data: Callable[[], dict[str, Any]]
    _turn_messages: Callable[[], None]
    _expand_tools: Callable[[], Awaitable[None]]
    _check_iterations: Callable[[], None]
    _continue_as_new: Callable[[], Awaitable[NoReturn]]
    _call_llm: Callable[..., Awaitable[LLMResponse]]
    _execute_tool: Callable[[ToolCall, ToolSpec], Awaitable[tuple[ToolResult, bool]]]
    _out_of_time: Callable[[], TaskFailed]
    _end: Callable[
        [TaskStatus, TaskResult | None, TaskError | None], tuple[EventType, dict[str, Any]]
    ]

    async def _start_254ae33(self) -> None:
        await self._publish_254ae33(EventType.TASK_STARTED, self._started_data())
        self._stored_messages = await workflow.execute_local_activity_method(
            LegacyActivities.open_session,
            OpenSessionInput(session_id=self.input.session_id, task_id=self.input.task_id),
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )
        await self._save_254ae33()
        if self.input.expand_tools:
            await self._expand_tools()
        self._turn_messages()

    async def _loop_254ae33(self) -> Message:
        while True:
            # 254ae33 counted no local activity markers the history does not show yet.
            info = workflow.info()
            limit = self.input.policies.history_limit
            if info.is_continue_as_new_suggested() or info.get_current_history_length() >= limit:
                await self._continue_as_new()
            self._check_iterations()
            message = await self._llm_254ae33()
            self._unsaved = [message]
            if not message.tool_calls:
                return message
            self._unsaved += await self._tools_254ae33(message.tool_calls)

    async def _llm_254ae33(self) -> Message:
        """One LLM call (the task's model: 254ae33 had no fallbacks); this loop writes its
        `llm.message`, the activity does not."""
        self.state.iterations += 1
        model: ModelChoice = self.input.model.choices()[0]
        try:
            response = await self._call_llm(model, f"llm:{self.state.iterations}", records=False)
        except FailureError as exc:
            reraise_cancellation(exc)
            raise TaskFailed.of(exc, "llm_error") from exc
        self._stored_messages += len(self._unsaved)
        self.state = self.state.counted(model.key, response.usage)
        message = response.message
        await self._publish_254ae33(
            EventType.LLM_MESSAGE,
            {
                "iteration": self.state.iterations,
                "content": message.content,
                "content_ref": message.content_ref,
                "tool_calls": [c.model_dump(mode="json") for c in message.tool_calls],
                "usage": response.usage.report().model_dump(),
                "finish_reason": response.finish_reason,
            },
        )
        return message

    async def _tools_254ae33(self, calls: list[ToolCall]) -> list[Message]:
        """The calls of one LLM turn: their results in the LLM's order, then what the user
        said with their decision, if anything."""
        specs = {t.name: t for t in self._tools}
        for call in calls:
            await self._publish_254ae33(EventType.TOOL_CALL, call.model_dump(mode="json"))
        # 254ae33 had no approval policy, and no tools approved for the session.
        require = self.input.require_approval
        gated = {
            c.id for c in calls if c.name in specs and gate(c.name, require, [], [])[0] == "ask"
        }
        asked = [c for c in calls if c.id in gated]
        decision = await self._approval_254ae33(asked) if asked else None

        async def run_one(call: ToolCall) -> ToolResult:
            verdict = decision.decision.for_call(call.id) if decision and call.id in gated else None
            if call.name not in specs:
                result = ToolResult.error(call, f"unknown tool {call.name!r}")
            elif verdict is not None and not verdict.approved:
                result = ToolResult.error(call, verdict.refusal())
            else:
                result, _ = await self._execute_tool(call, specs[call.name])
            # Under the key `execute_tool` writes its result with: one result a call.
            await self._publish_254ae33(
                EventType.TOOL_RESULT, result.event(), key=result.event_key()
            )
            return result

        results = [r.message() for r in await asyncio.gather(*(run_one(c) for c in calls))]
        if decision is not None and decision.message:
            said = Message(role="user", content=decision.message, id=decision.message_id)
            results.append(said)
        return results

    async def _approval_254ae33(self, calls: list[ToolCall]) -> ApproveInput:
        """Park until the decision on `calls`; the task fails at its time limit."""
        self.state.status = TaskStatus.AWAITING_APPROVAL
        pending = self.state.pending_approval = PendingApproval(
            tool_calls=calls, requested_at=workflow.now().timestamp()
        )
        data = pending.model_dump(mode="json", include={"tool_calls", "requested_at", "expires_at"})
        await self._publish_254ae33(EventType.APPROVAL_REQUIRED, data)
        await self._save_254ae33()
        remaining = self.input.time_limit - (workflow.time() - self._started)
        try:
            await workflow.wait_condition(
                lambda: self._decision is not None, timeout=max(remaining, 1.0)
            )
        except TimeoutError:
            raise self._out_of_time() from None
        decision, self._decision = self._decision, None
        assert decision is not None
        self.state.status = TaskStatus.RUNNING
        self.state.pending_approval = None
        at = workflow.now().timestamp()
        await self._publish_254ae33(EventType.APPROVAL_DECIDED, decision.event(calls, at))
        await self._save_254ae33()
        return decision

    async def _finish_254ae33(
        self,
        status: TaskStatus,
        *,
        result: TaskResult | None = None,
        error: TaskError | None = None,
    ) -> None:
        terminal, data = self._end(status, result, error)
        await self._save_254ae33(with_transcript=True)
        await self._publish_254ae33(terminal, data)

    async def _publish_254ae33(
        self, type: EventType, data: dict[str, Any], *, key: str | None = None
    ) -> None:
        self._steps.seq += 1
        await workflow.execute_local_activity_method(
            LegacyActivities.publish_event,
            PublishEventInput(
                task_id=self.input.task_id,
                key=key or f"{WORKFLOW_KEY_PREFIX}{self._steps.seq}",
                type=type,
                data=data,
            ),
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )

    async def _save_254ae33(self, *, with_transcript: bool = False) -> None:
        await workflow.execute_local_activity_method(
            LegacyActivities.save_state,
            SaveStateInput(
                state=self.state,
                first_index=self._stored_messages,
                messages=self._unsaved if with_transcript else [],
            ),
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )
