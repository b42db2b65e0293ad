"""The agent-tool step of `AgentExecutionWorkflow`, as the base class it inherits it from: a
call of an `agent` tool (another agent over A2A, `tools/agent.py`) in rounds of the
`call_agent` activity (`activities/agents.py`), a regular activity, since the other agent
may work for long and its worker may die: the round then starts again on any worker and
follows that agent's task, never asking it twice.

When the other agent pauses for a person (a decision on its tool calls, or its questions),
so does this task: `pending_approval` / `pending_input` are that agent's calls or questions,
with `nested` saying whose (`tasks.NestedApproval` / `NestedInput`), decided or answered here
as our own are (REST, A2A, the console); the next round passes the decision on to that
agent's task and follows it again. A decision on another agent's calls cannot edit their
arguments nor remember the tool for the session (`ApprovalDecision.problem`). The pause lives
in this workflow's state, so a task waiting on it survives restarts of anything.

Calls of one agent tool share its conversation with that agent (unless `isolate_sessions`),
where one task runs at a time: they take turns. Pauses of several calls are put to a person
one at a time, as `ask_user` questions are.

Tasks started before agent tools existed have none; the step is gated all the same
(`workflow.patched("agent-tool")`), as every change of the workflow's commands is.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from ..activities import AgentActivities, AgentCallInput, AgentCallResult, ToolResult
    from ..config.duration import parse_duration
    from ..kagent.hitl import ChildApproval, ChildPause, ChildReply
    from ..llm.messages import ToolCall
    from ..spec import ToolSpec
    from ..tasks import NestedApproval, NestedInput, PendingInput
    from .failures import cause, reraise_cancellation
    from .inputs import AgentInput

from .calls import ActivityCalls
from .human import STOPPED, HumanSteps

__all__ = ["AGENT_TOOL_PATCH", "AgentToolStep", "is_agent"]

AGENT_TOOL_PATCH = "agent-tool"


def is_agent(spec: ToolSpec) -> bool:
    """Whether calls of `spec` are calls of another agent."""
    return spec.type == "agent"


class AgentToolStep(HumanSteps, ActivityCalls):
    """Calls of agent tools, under `tools.limits` as other tool calls are (a round holds its
    place while the agent works, none while a person decides); the workflow class provides
    the attributes below."""

    input: AgentInput
    _publish_result: Callable[[ToolResult], None]

    def _init_agent_tools(self) -> None:
        self._conversations: dict[str, asyncio.Lock] = {}

    @contextlib.asynccontextmanager
    async def _conversation(self, spec: ToolSpec) -> AsyncIterator[None]:
        """One call at a time in an agent's conversation (per tool, unless isolated)."""
        if spec.config.get("isolate_sessions"):
            yield
            return
        lock = self._conversations.setdefault(spec.name, asyncio.Lock())
        async with lock:
            yield

    async def _call_agent(self, call: ToolCall, spec: ToolSpec, asking: asyncio.Lock) -> ToolResult:
        """The call's result, its `tool.result` written (by the activity, or here when the
        call failed for good). `asking`: held while a person is asked."""
        options = self.input.policies.tool()
        if timeout := spec.config.get("timeout"):
            options["start_to_close_timeout"] = timedelta(seconds=parse_duration(timeout))
        round, pause, reply = 0, None, None
        async with self._conversation(spec):
            while True:
                try:
                    outcome: AgentCallResult = await self._call(
                        AgentActivities.call_agent,
                        AgentCallInput(
                            task_id=self.input.task_id,
                            session_id=self.input.session_id,
                            call=call,
                            spec=spec,
                            inline_bytes=self.input.policies.inline_bytes,
                            round=round,
                            pause=pause,
                            reply=reply,
                            user_id=self.input.user_id,
                            root_context_id=self.input.root_context_id,
                        ),
                        options,
                        summary=f"agent {call.name} ({call.id})"
                        + (f", round {round}" * bool(round)),
                        call=f"tool:{call.id}",
                        local=False,  # it may run long, and heartbeats
                    )
                except FailureError as exc:
                    reraise_cancellation(exc)
                    failed = ToolResult.error(call, f"tool failed: {cause(exc)}")
                    self._publish_result(failed)
                    return failed
                if outcome.pause is None:
                    assert outcome.result is not None
                    return outcome.result
                pause = outcome.pause
                async with asking:
                    reply = await self._ask_for(call, pause)
                if reply is None:
                    stopped = ToolResult.error(call, f"no answer: {STOPPED}")
                    self._publish_result(stopped)
                    return stopped
                round += 1

    async def _ask_for(self, call: ToolCall, pause: ChildPause) -> ChildReply | None:
        """Put the other agent's pause to a person, as this task's own; what they decided
        (None: a new message stopped this task before they answered)."""
        whose = {
            "subagent_name": call.name,
            "task_id": pause.task_id,
            "context_id": pause.context_id,
            "tool_call": call,
        }
        if pause.kind == "input":
            (asked,) = pause.tools
            nested = NestedInput(**whose, id=asked.id, questions=pause.questions)
            pending = PendingInput(id=asked.id, questions=pause.questions, nested=nested)
            answer = await self._await_answer(pending)
            await self._record()
            # A new message stopped this task: the other agent's task is left as it paused.
            return None if answer is None else ChildReply(answers=answer.answers)
        calls = [ToolCall(id=t.id, name=t.name, arguments=t.args) for t in pause.tools]
        decision = await self._await_approval(calls, {}, NestedApproval(**whose, tools=pause.tools))
        approvals = []
        for tool in pause.tools:
            verdict = decision.decision.for_call(tool.id)
            # Words a person said instead of deciding are the rejection's reason there.
            reason = None if verdict.approved else (decision.message or verdict.reason)
            approvals.append(
                ChildApproval(id=tool.id, approved=verdict.approved, rejection_reason=reason)
            )
        return ChildReply(approvals=approvals)
