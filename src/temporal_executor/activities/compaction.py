"""`compact_context`: one compaction of a session's conversation (`llm/compaction.py` says
which messages and how), as a step of its own.

The summary (or, with no summarizer model, the mark that the messages were dropped) is kept
under the step's key before anything else is written, and a step that finds it there does
not summarize again: a retried or replayed step writes the same summary at the same index of
the transcript, the same `context.compacted` event, the same state. The summarizer's call is
an LLM call like the loop's (shared limits, metrics, the price table: `LLMActivities.ask`);
its tokens count in the task's usage, under the summarizer's model.
"""

from __future__ import annotations

from temporalio import activity

from ..errors import TranscriptError, to_failure
from ..llm.compaction import estimated_tokens, plan, sent, summary_request
from ..llm.messages import LLMRequest, Message, Summary, Usage
from ..payloads import offload, resolve, resolve_messages
from ..spec import Compaction
from ..store import Store
from ..tasks import EventType, TaskState
from ..versioned import Payload, Versioned
from .capacity import CapacityWait, MayWait, WaitsForCapacity
from .llm import LLMActivities

__all__ = ["CompactInput", "CompactResult", "CompactionActivities"]


class CompactInput(Versioned, WaitsForCapacity):
    """Input of `compact_context`: the compaction of the first `count` messages of session
    `conversation`'s transcript (the summary goes at index `count`), for task `task_id`,
    whose `state` is saved with the summarizer's usage counted."""

    task_id: str
    conversation: str
    call_key: str
    count: int
    compaction: Compaction
    state: TaskState
    inline_bytes: int
    max_content_bytes: int


class CompactResult(Versioned, MayWait):
    """What the step did: `stored` messages added to the transcript (1: the summary, whose
    `summary` says what it covers; 0: nothing was due after all); the summarizer's `usage`
    and `model`. Or (`wait` set, nothing done) how long to wait for capacity."""

    stored: int = 0
    summary: Summary | None = None
    usage: Usage | None = None
    model: str | None = None


class _Made(Payload):
    """What is kept under the step's key: the summary message (None: nothing was due), the
    summarizer's usage, and the conversation's estimated tokens before and after."""

    message: Message | None = None
    usage: Usage | None = None
    tokens_before: int = 0
    tokens_after: int = 0


class CompactionActivities:
    def __init__(self, llm: LLMActivities, store: Store) -> None:
        self.llm = llm
        self.store = store

    @activity.defn(name="compact_context")
    async def compact_context(self, input: CompactInput) -> CompactResult:
        """Compact the conversation (once per step), write the summary into the transcript,
        then the `context.compacted` event and the task's state."""
        memo = f"{input.task_id}/llm/{input.call_key}/compaction"
        kept = await self.store.blobs.get(memo)
        if kept is not None:
            made = _Made.model_validate_json(kept)
        elif isinstance(compacted := await self._compact(input), CapacityWait):
            return CompactResult(wait=compacted)
        else:
            made = _Made.model_validate_json(
                await self.store.blobs.put_new(memo, compacted.model_dump_json())
            )
        message = made.message
        if message is None or message.summary is None:
            return CompactResult()
        await self.store.transcripts.put(input.conversation, input.count, [message])
        model = message.summary.model
        state = input.state
        if made.usage is not None and model is not None:
            state = state.counted(model, made.usage)
        await self.store.tasks.save(state)
        await self.store.events.append(
            input.task_id,
            f"{input.call_key}:compacted",
            EventType.CONTEXT_COMPACTED,
            await self._event(message, made, input.count),
        )
        return CompactResult(stored=1, summary=message.summary, usage=made.usage, model=model)

    async def _compact(self, input: CompactInput) -> _Made | CapacityWait:
        messages = await self._transcript(input)
        cut = plan(messages, input.compaction)
        if cut is None:
            return _Made()
        before = estimated_tokens(sent(messages))
        model, text, usage = input.compaction.model, None, None
        if model is not None:
            template = input.compaction.prompt_template
            request = LLMRequest(
                model=model.model,
                messages=[summary_request(messages, cut, template)],
                sampling=model,
            )
            answered = await self.llm.ask(
                model,
                request,
                task_id=input.task_id,
                session_id=input.conversation,
                call_key=input.call_key,
                may_wait=input.may_wait,
            )
            if isinstance(answered, CapacityWait):
                return answered
            text, usage = answered.message.content or None, answered.usage
        summary = Summary(first=cut.first, end=cut.end, model=model.key if model else None)
        message = Message(role="user", content=text, summary=summary)
        after = estimated_tokens(sent([*messages, message]))
        if text is not None:
            key = f"{input.task_id}/llm/{input.call_key}/summary"
            content, ref = await offload(self.store.blobs, key, text, input.inline_bytes)
            message = message.model_copy(update={"content": content, "content_ref": ref})
        return _Made(message=message, usage=usage, tokens_before=before, tokens_after=after)

    async def _transcript(self, input: CompactInput) -> list[Message]:
        messages = await self.store.transcripts.get(input.conversation, input.count)
        if len(messages) != input.count:
            raise to_failure(
                TranscriptError(
                    f"transcript of session {input.conversation} has {len(messages)} of "
                    f"{input.count} messages"
                )
            )
        return await resolve_messages(self.store.blobs, messages, input.max_content_bytes)

    async def _event(self, message: Message, made: _Made, index: int) -> dict[str, object]:
        """`context.compacted`: which messages the summary at `index` stands for, by which
        model (null: dropped), its text, and the conversation's estimated tokens."""
        summary = message.summary
        assert summary is not None
        text = await resolve(self.store.blobs, message.content or "", message.content_ref)
        return {
            "index": index,
            "first": summary.first,
            "end": summary.end,
            "model": summary.model,
            "summary": text if message.content is not None else None,
            "tokens_before": made.tokens_before,
            "tokens_after": made.tokens_after,
            "usage": made.usage.report().model_dump() if made.usage is not None else None,
        }
