"""The tool step of `AgentExecutionWorkflow`, as the base class it inherits it from: the
calls of one LLM turn, each run, refused, decided by a person first (`approval.gate`), put
to a person as questions (`ask_user`), or made of another agent (`agent_tool.py`), in
parallel; their results in the LLM's order."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from temporalio import workflow
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from ..activities import ToolActivities, ToolCallInput, ToolResult
    from ..llm.messages import Message, ToolCall
    from ..spec import ToolSpec
    from ..tasks import EventType, TaskState
    from .approval import ApprovalDecision, ApproveInput, Gated, ToolDecision, gate
    from .failures import cause, reraise_cancellation
    from .inputs import AgentInput
    from .questions import is_ask_user
    from .steps import Steps

from .agent_tool import AGENT_TOOL_PATCH, AgentToolStep, is_agent
from .calls import ActivityCalls

__all__ = ["ToolStep"]


class ToolStep(AgentToolStep, ActivityCalls):
    """The tool calls of each iteration; the workflow class provides the attributes below."""

    input: AgentInput
    state: TaskState
    _steps: Steps
    _tools: list[ToolSpec]

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
                result = ToolResult.error(call, verdict.refusal())
            elif call.id in asks:
                async with asking:  # one question pause at a time, in the LLM's order
                    return await self._ask(call)
            elif is_agent(specs[call.name]) and workflow.patched(AGENT_TOOL_PATCH):
                return await self._call_agent(call, specs[call.name], asking)
            else:
                result, written = await self._execute_tool(call, specs[call.name])
                if written:
                    return result
            self._publish_result(result)
            return result

        asking = asyncio.Lock()
        run = [_as_run(call, verdicts.get(call.id)) for call in calls]
        results = [r.message() for r in await asyncio.gather(*(run_one(c) for c in run))]
        if self._steps.queued:  # results of calls that did not run, before the next LLM call
            await self._record()
        if decision is not None and decision.message:
            results.append(Message(role="user", content=decision.message, id=decision.message_id))
        return [_as_ran(message, run), *results]

    def _not_run(self, message: Message, reason: str) -> list[Message]:
        """The LLM's message and, for each of its calls, a result saying it did not run
        (providers want an answer to every call)."""
        results = [ToolResult.error(call, f"not run: {reason}") for call in message.tool_calls]
        for result in results:
            self._publish_result(result)
        return [message, *(result.message() for result in results)]

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

    async def _execute_tool(self, call: ToolCall, spec: ToolSpec) -> tuple[ToolResult, bool]:
        """The call's result, and whether its activity ran to its end (and so wrote its
        `tool.result`): a call that failed for good is an error result for the LLM. What it
        made joins the task's artifacts (its activity announced them)."""
        policies = self.input.policies
        try:
            result: ToolResult = await self._call(
                ToolActivities.execute_tool,
                ToolCallInput(
                    task_id=self.input.task_id,
                    call=call,
                    spec=spec,
                    inline_bytes=policies.inline_bytes,
                ),
                policies.tool(),
                summary=f"tool {call.name} ({call.id})",
                call=f"tool:{call.id}",
            )
            self.state.artifacts = [*self.state.artifacts, *result.artifacts]
            return result, True
        except FailureError as exc:
            reraise_cancellation(exc)
            return ToolResult.error(call, f"tool failed: {cause(exc)}"), False

    def _publish_result(self, result: ToolResult) -> None:
        """The `tool.result` of a call that no activity ran to its end (refused, failed, or
        answered by a person; an executed call's activity writes its own), under the same
        key: one result a call, whoever writes."""
        self._steps.publish(EventType.TOOL_RESULT, result.event(), key=result.event_key())


def _as_ran(message: Message, run: list[ToolCall]) -> Message:
    """The LLM's message with its calls as they ran. When a person edited one, the model's
    reasoning (signed over what it wrote) is marked `edited`: it is not sent back."""
    update: dict[str, object] = {"tool_calls": run}
    reasoning = message.reasoning
    if reasoning is not None and run != message.tool_calls:
        update["reasoning"] = reasoning.model_copy(update={"edited": True})
    return message.model_copy(update=update)


def _as_run(call: ToolCall, verdict: ToolDecision | None) -> ToolCall:
    """The call as it runs: with the arguments a person edited, if they did."""
    if verdict is None or verdict.arguments is None:
        return call
    return call.model_copy(update={"arguments": verdict.arguments, "arguments_error": None})
