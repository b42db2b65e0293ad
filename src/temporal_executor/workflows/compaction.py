"""The compaction step of `AgentExecutionWorkflow`, as the base class `LLMStep` inherits it
from: when `invoke_llm` finds that the conversation is to be compacted before its call
(`AgentInput.compaction`; `llm/compaction.py` says when), the step `compact_context` runs
(an activity, its result kept: `activities/compaction.py`), then the call is made again.

A task without `compaction` (every task of a release before 0.2.0) never gets here: its
calls are never answered "compact first", so its steps are what they were.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from temporalio import workflow
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from ..activities import CompactInput, CompactionActivities
    from ..llm.messages import Message
    from ..tasks import TaskState
    from .failures import TaskFailed, reraise_cancellation
    from .inputs import AgentInput
    from .steps import Steps

from .calls import ActivityCalls

__all__ = ["CompactionStep"]


class CompactionStep(ActivityCalls):
    """`_compact`; the workflow class provides the attributes below."""

    input: AgentInput
    state: TaskState
    _steps: Steps
    _stored_messages: int
    _unsaved: list[Message]
    _record: Callable[..., Awaitable[int]]

    async def _compact(self) -> None:
        """Compact the conversation now (at most once an iteration: its key is the
        iteration's). The call that asked for it stored the new messages in the transcript;
        the summary goes after them. The summarizer's tokens count in the task's usage."""
        compaction = self.input.compaction
        assert compaction is not None
        self._stored_messages += len(self._unsaved)
        self._unsaved = []
        key = f"compact:{self.state.iterations}"
        policies = self.input.policies
        step = CompactInput(
            task_id=self.input.task_id,
            conversation=self.input.session_id,
            call_key=key,
            count=self._stored_messages,
            compaction=compaction,
            state=self.state,
            inline_bytes=policies.inline_bytes,
            max_content_bytes=policies.max_content_bytes,
        )
        try:
            result = await self._call(
                CompactionActivities.compact_context,
                step,
                policies.llm(),
                summary="compact the conversation",
                call=key,
            )
        except FailureError as exc:
            reraise_cancellation(exc)
            raise TaskFailed.of(exc, "llm_error", "could not compact the conversation: ") from exc
        self._stored_messages += result.stored
        if result.usage is not None and result.model is not None:
            self.state = self.state.counted(result.model, result.usage)
