"""The LLM step of `AgentExecutionWorkflow`, as the base class it inherits it from: one
LLM call with the task's model, then with each of `model_config.fallbacks` in turn while the
model before it is down; the conversation compacted first when that is due (`compaction.py`);
the budgets checked after each call. A `tool_choice` that forces a tool call holds for the
task's first LLM call only: every later call follows an answer that called tools, and goes
with the provider's default (auto), as the OpenAI Agents SDK resets it, so a task cannot loop
on forced calls."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from ..activities import LLMActivities, LLMCallInput, LLMCallResult
    from ..errors import ModelUnavailableError
    from ..llm.messages import Message, ToolDefinition
    from ..spec import Compaction, ModelChoice, ToolSpec
    from ..tasks import EventType, TaskState
    from .failures import TaskFailed, cause, reraise_cancellation, underlying
    from .inputs import AgentInput
    from .steps import Steps

from .compaction import CompactionStep

__all__ = ["LLMStep"]

# Gates the reset of a forcing tool_choice (a task whose history has no such marker never
# forced one: the field came with this change).
TOOL_CHOICE_RESET = "tool-choice-reset"


class LLMStep(CompactionStep):
    """The LLM call of each iteration; the workflow class provides the attributes below."""

    input: AgentInput
    state: TaskState
    _steps: Steps
    _stored_messages: int
    _unsaved: list[Message]
    _tools: list[ToolSpec]
    _record: Callable[..., Awaitable[int]]

    async def _invoke_llm(self) -> LLMCallResult:
        """One LLM call: with the task's model, then each fallback in turn while the model
        before it is down (its retries used up) or does not serve the model."""
        self.state.iterations += 1
        choices = self.input.model.choices()
        for n, model in enumerate(choices):
            key = f"llm:{self.state.iterations}" + (f":{n}" if n else "")
            try:
                # The model's first try may compact first (a fallback's call is made on the
                # conversation as the failed call left it).
                response = await self._call_llm(model, key, may_compact=n == 0)
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
        """The budgets, over what is known: the tokens the servers reported, and the cost of
        the calls that have a price (a call that reported no usage counts for neither)."""
        usage = self.state.usage
        budget = self.input.max_total_tokens
        if budget is not None and usage.total_tokens > budget:
            raise TaskFailed(
                "budget_exceeded",
                f"the task used {usage.total_tokens} tokens, more than its "
                f"max_total_tokens ({budget})",
            )
        # A task of before 0.2.0 has no `max_cost`: its steps stay as they were.
        max_cost = self.input.max_cost
        if max_cost is not None and usage.cost > max_cost:
            raise TaskFailed(
                "budget_exceeded",
                f"the task cost ${usage.cost:.6f}, more than its max_cost (${max_cost:g})",
            )

    def _as_called(self, model: ModelChoice) -> ModelChoice:
        """`model` for this call: a forcing tool_choice only until the model called a tool
        (the loop makes a second call only after an answer with tool calls). For a fork given
        a model, from its first own call (`ForkStart.forced_call`)."""
        fork = self.input.fork
        first = 1 if fork is None else fork.forced_call
        if (
            model.forces_tool
            and self.state.iterations > first
            and workflow.patched(TOOL_CHOICE_RESET)
        ):
            return model.model_copy(update={"tool_choice": None})
        return model

    async def _call_llm(
        self, model: ModelChoice, call_key: str, *, records: bool = True, may_compact: bool = False
    ) -> LLMCallResult:
        """The call's activity; it writes the answer's events and the task's state when it
        `records` (not for the loop of 0.1.0+254ae33, which writes them itself). When it
        `may_compact` and the task compacts its conversation, the call may find a compaction
        due: the step makes it, then the call again (which does not compact)."""
        compaction = self.input.compaction if may_compact else None
        result = await self._llm_call(model, call_key, records, compaction)
        if result.compact:
            await self._compact()
            result = await self._llm_call(model, call_key, records, None)
        return result

    async def _llm_call(
        self, model: ModelChoice, call_key: str, records: bool, compaction: Compaction | None
    ) -> LLMCallResult:
        policies = self.input.policies
        model = self._as_called(model)
        call = LLMCallInput(
            task_id=self.input.task_id,
            conversation=self.input.session_id,
            call_key=call_key,
            state=self.state if records else None,
            first_index=self._stored_messages,
            new_messages=self._unsaved,
            inline_bytes=policies.inline_bytes,
            max_content_bytes=policies.max_content_bytes,
            model=model,
            tools=[
                ToolDefinition(name=t.name, description=t.description, parameters=t.parameters)
                for t in self._tools
            ],
            compaction=compaction,
        )
        return await self._call(
            LLMActivities.invoke_llm,
            call,
            policies.llm(),
            summary=f"LLM call {self.state.iterations}: {model.model}",
            call=call_key,
            saves_state=records,
        )


def _worth_a_fallback(exc: FailureError) -> bool:
    """Whether a failed LLM call may be made with the next model: the model is down (a
    retryable failure that outlasted its retries, a timeout) or not served; not when the
    request itself is wrong (bad request, auth, a malformed reply)."""
    failure = underlying(exc)
    if isinstance(failure, ApplicationError):
        return failure.type == ModelUnavailableError.code or not failure.non_retryable
    return True  # a timeout
