"""`invoke_llm`: one LLM call.

The activity input carries only the messages that are new since the previous call; they are
appended to the stored transcript, which is then read whole and sent to the provider (from
its latest summary on, when it was compacted: `llm/compaction.py`). So workflow history
grows with the conversation, not with its square. A call whose task compacts its session's
conversation returns at once, without calling, when a compaction is due: the workflow makes
it (`compaction.py`), then calls again. When streaming, text
deltas go to the task's event log while the model writes (`deltas.py`).

The response is kept in the store under the call's key before it is returned, and a call that
finds one there returns it without asking the model again: a call that is run again after it
had finished (its worker died before Temporal recorded the result, or a local attempt is
replayed) gives the answer the task's log already shows. The first response kept wins.

A call under shared limits (`capacity.py`) takes its place first; without one it returns at
once a result that says how long to wait, and is not kept.

Reasoning: a reasoning model's whole turn (`NativeTurn`: Anthropic's thinking blocks with
their signatures, Gemini's parts with thought signatures, OpenAI Responses' reasoning items)
is kept in the blobs under a key made from its content, and the message carries a
`Reasoning` naming it (history holds only that). Before a call, every message whose
reasoning this very model wrote, unedited, gets its turn back (`LLMRequest.reasoning`); the
others' is dropped (a fallback model, a person's edit), and each adapter then sends such a
message as plain text and calls (`llm/base.py`). Turns never change, so each worker keeps
the ones it read lately. Reasoning summaries stream as `llm.reasoning` events when the task
asks for them (`reasoning.summary`); reasoning is never logged, nor in `llm.message`.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from functools import partial

from pydantic import Field
from temporalio import activity

from ..errors import ExecutorError, ProviderError, SupersededError, TranscriptError, to_failure
from ..llm.compaction import plan, sent
from ..llm.messages import (
    LLMRequest,
    LLMResponse,
    Message,
    NativeTurn,
    Reasoning,
    ToolCall,
    ToolDefinition,
)
from ..llm.prices import Prices
from ..llm.registry import ProviderRegistry
from ..observability import LLMCallWatch
from ..payloads import offload, resolve, resolve_messages
from ..spec import Compaction, ModelChoice
from ..store import Blobs, NewEvent, Store
from ..tasks import EventType, TaskState
from ..versioned import Versioned
from .capacity import Capacity, CapacityWait, MayWait, WaitsForCapacity, estimated_tokens, waiting
from .deltas import DeltaPublisher
from .heartbeat import heartbeating
from .tools import ToolResult

__all__ = ["LLMActivities", "LLMCallInput", "LLMCallResult", "answer_dangling_calls"]

# Native turns a worker keeps in memory (they never change: their keys are their digests).
KEPT_TURNS = 256
# Reads a streamed answer to a request (its deltas to the task's log), under a call's watch.
Streamer = Callable[[LLMRequest, LLMCallWatch], Awaitable[LLMResponse]]


class LLMCallInput(Versioned, WaitsForCapacity):
    """Input of `invoke_llm`. Only the messages that are new since the previous call travel
    through history; the activity appends them to the stored transcript and reads it whole."""

    task_id: str
    conversation: str
    call_key: str
    # The task's, with this call counted; its usage goes up by this call's. None from the
    # loop of 0.1.0+254ae33 (`workflows/legacy.py`), which records the answer itself.
    state: TaskState | None = None
    first_index: int
    new_messages: list[Message]
    inline_bytes: int
    max_content_bytes: int
    model: ModelChoice
    tools: list[ToolDefinition] = Field(default_factory=list)
    # The task's compaction, when this call is to wait for one that is due (`compact`).
    compaction: Compaction | None = None


class LLMCallResult(LLMResponse, MayWait):
    """What `invoke_llm` returns: the model's answer, or (the call not made) how long to wait
    for capacity (`wait`), or that the conversation is to be compacted first (`compact`).
    Histories from before hold plain `LLMResponse`s, which read as this with neither."""

    compact: bool = False

    @classmethod
    def waiting(cls, wait: CapacityWait) -> LLMCallResult:
        return cls(message=Message(role="assistant"), wait=wait)

    @classmethod
    def compacting(cls) -> LLMCallResult:
        return cls(message=Message(role="assistant"), compact=True)


def answer_dangling_calls(messages: list[Message]) -> list[Message]:
    """Every assistant tool call followed by its result, as providers require: an earlier turn
    of the session that ended abruptly (terminated, crashed) may have left calls unanswered."""
    repaired: list[Message] = []
    waiting: list[ToolCall] = []
    for message in messages:
        if message.role != "tool" and waiting:
            repaired += [_no_result(call) for call in waiting]
            waiting = []
        if message.role == "tool":
            waiting = [call for call in waiting if call.id != message.tool_call_id]
        repaired.append(message)
        if message.role == "assistant":
            waiting = list(message.tool_calls)
    return repaired


def _no_result(call: ToolCall) -> Message:
    return ToolResult.error(call, "no result: the task ended before this tool call ran").message()


class LLMActivities:
    def __init__(
        self, providers: ProviderRegistry, store: Store, capacity: Capacity, prices: Prices
    ) -> None:
        self.providers = providers
        self.store = store
        self.capacity = capacity
        self.prices = prices
        self._turns: OrderedDict[str, NativeTurn] = OrderedDict()

    @activity.defn(name="invoke_llm")
    async def invoke_llm(self, input: LLMCallInput) -> LLMCallResult:
        """The model's answer; its `llm.message` and `tool.call` events and the task's state
        are written here before it is returned (again, idempotently, for a kept answer), when
        the input carries the state. Or, the call not made, how long to wait for capacity, or
        that a compaction of the conversation is due (with `input.compaction`)."""
        memo = f"{input.task_id}/llm/{input.call_key}/response"
        kept = await self.store.blobs.get(memo)
        if kept is not None:
            response = LLMCallResult.model_validate_json(kept)
        elif isinstance(called := await self._call(input), CapacityWait):
            return LLMCallResult.waiting(called)
        elif called.compact:
            return called
        else:
            response = called
        if input.state is not None:
            await self._publish(input, response, input.state)
        return response

    async def _call(self, input: LLMCallInput) -> LLMCallResult | CapacityWait:
        blobs = self.store.blobs
        memo = f"{input.task_id}/llm/{input.call_key}/response"
        try:
            messages = await self._conversation(input)
        except ExecutorError as exc:
            raise to_failure(exc) from exc
        if input.compaction is not None and plan(messages, input.compaction) is not None:
            return LLMCallResult.compacting()
        messages, turns = await self._turns_for(input, sent(messages))
        request = LLMRequest(
            model=input.model.model,
            messages=answer_dangling_calls(messages),
            tools=input.tools,
            sampling=input.model,
            reasoning=turns,
            cache_key=hashlib.sha256(input.conversation.encode()).hexdigest()[:32],
        )
        answered = await self.ask(
            input.model,
            request,
            task_id=input.task_id,
            session_id=input.conversation,
            call_key=input.call_key,
            may_wait=input.may_wait,
            stream=partial(self._stream, input) if input.model.stream else None,
        )
        if isinstance(answered, CapacityWait):
            return answered
        response = answered
        message = response.message
        if message.content is not None:
            key = f"{input.task_id}/llm/{input.call_key}"
            content, ref = await offload(blobs, key, message.content, input.inline_bytes)
            message = message.model_copy(update={"content": content, "content_ref": ref})
        if response.native is not None:
            reasoning = await self._keep_turn(input, response.native)
            message = message.model_copy(update={"reasoning": reasoning})
        response = response.model_copy(update={"message": message, "native": None})
        return LLMCallResult.model_validate_json(
            await blobs.put_new(memo, response.model_dump_json())
        )

    async def ask(
        self,
        model: ModelChoice,
        request: LLMRequest,
        *,
        task_id: str,
        session_id: str,
        call_key: str,
        may_wait: bool,
        stream: Streamer | None = None,
    ) -> LLMResponse | CapacityWait:
        """One call of `model` (`stream`: how to read its answer as it streams; None: in one
        piece) under the shared limits, watched (metrics, span), its usage priced; or, the call
        not made, how long to wait for capacity. Failures leave as Temporal failures."""
        gate = self.capacity.llm(model)
        watch = LLMCallWatch(model, task_id=task_id, session_id=session_id)
        try:
            with watch:
                provider = self.providers.check(model.provider, model.model)
                lease = await gate.acquire(f"{task_id}/{call_key}", estimated_tokens(request))
                if isinstance(lease, CapacityWait):
                    watch.refused(lease.limit)
                    return waiting(lease, may_wait)
                async with lease:
                    watch.sent(request)
                    async with heartbeating():
                        if stream is not None:
                            response = await stream(request, watch)
                        else:
                            response = await provider.chat(request)
                    usage = self.prices.priced(model.key, response.usage)
                    if not usage.unreported:  # (else the estimate stays counted)
                        lease.used(usage.total_tokens)
                response = response.model_copy(update={"usage": usage})
                watch.answered(response)
        except ProviderError as exc:
            if exc.status == 429 and (wait := await gate.rate_limited(exc.retry_after)):
                if may_wait:
                    return wait
            raise to_failure(exc) from exc
        except ExecutorError as exc:
            raise to_failure(exc) from exc
        return response

    async def _publish(self, input: LLMCallInput, response: LLMResponse, state: TaskState) -> None:
        message = response.message
        content = await resolve(self.store.blobs, message.content or "", message.content_ref)
        events = [
            NewEvent(
                f"{input.call_key}:message",
                EventType.LLM_MESSAGE,
                {
                    "iteration": state.iterations,
                    "content": content if message.content is not None else None,
                    "tool_calls": [c.model_dump(mode="json") for c in message.tool_calls],
                    "usage": response.usage.report().model_dump(),
                    "finish_reason": response.finish_reason,
                },
            ),
            *(
                NewEvent(
                    f"{input.call_key}:call:{call.id}",
                    EventType.TOOL_CALL,
                    call.model_dump(mode="json"),
                )
                for call in message.tool_calls
            ),
        ]
        await self.store.tasks.save(state.counted(input.model.key, response.usage))
        await self.store.events.append_all(input.task_id, events)

    async def _conversation(self, input: LLMCallInput) -> list[Message]:
        """The session's transcript with the new messages, their contents resolved."""
        transcripts = self.store.transcripts
        await transcripts.put(input.conversation, input.first_index, input.new_messages)
        count = input.first_index + len(input.new_messages)
        messages = await transcripts.get(input.conversation, count)
        if len(messages) != count:
            raise TranscriptError(
                f"transcript of session {input.conversation} has {len(messages)} of {count} "
                "messages"
            )
        return await resolve_messages(self.store.blobs, messages, input.max_content_bytes)

    async def _keep_turn(self, input: LLMCallInput, turn: NativeTurn) -> Reasoning:
        """Keep the model's native turn in the blobs (under its digest, so a racing attempt
        never replaces the turn another's answer names) and name it."""
        data = json.dumps(turn.items, separators=(",", ":"), sort_keys=True)
        digest = hashlib.sha256(data.encode()).hexdigest()[:32]
        key = f"{input.task_id}/llm/{input.call_key}/reasoning/{digest}"
        await self.store.blobs.put(key, data)
        self._remember(key, turn)
        return Reasoning(source=input.model.key, kind=turn.kind, blob=key)

    async def _turns_for(
        self, input: LLMCallInput, messages: list[Message]
    ) -> tuple[list[Message], dict[str, NativeTurn]]:
        """The messages with only the reasoning this model may get back (its own, unedited,
        still stored), and those native turns by key."""
        kept: list[Message] = []
        turns: dict[str, NativeTurn] = {}
        for message in messages:
            reasoning = message.reasoning
            if reasoning is not None:
                turn = None
                if reasoning.source == input.model.key and not reasoning.edited:
                    turn = await self._turn(self.store.blobs, reasoning)
                if turn is None:
                    message = message.model_copy(update={"reasoning": None})
                else:
                    turns[reasoning.blob] = turn
            kept.append(message)
        return kept, turns

    async def _turn(self, blobs: Blobs, reasoning: Reasoning) -> NativeTurn | None:
        turn = self._turns.get(reasoning.blob)
        if turn is None:
            data = await blobs.get(reasoning.blob)
            if data is None:
                return None
            turn = NativeTurn(kind=reasoning.kind, items=json.loads(data))
            self._remember(reasoning.blob, turn)
        self._turns.move_to_end(reasoning.blob)
        return turn

    def _remember(self, key: str, turn: NativeTurn) -> None:
        self._turns[key] = turn
        while len(self._turns) > KEPT_TURNS:
            self._turns.popitem(last=False)

    async def _stream(
        self, input: LLMCallInput, request: LLMRequest, watch: LLMCallWatch
    ) -> LLMResponse:
        provider = self.providers.get(input.model.provider)
        # Temporal's count starts again for a local attempt that is run again, and for the
        # regular activity a local one fell back to: the log's count goes on.
        events = self.store.events
        logged = await events.last_attempt(input.task_id, input.call_key)
        attempt = max(activity.info().attempt, logged + 1)
        deltas = DeltaPublisher(events, input.task_id, input.call_key, attempt)
        summaries = input.model.reasoning is not None and input.model.reasoning.summary
        thoughts = DeltaPublisher(
            events, input.task_id, input.call_key, attempt, EventType.LLM_REASONING
        )
        if attempt > 1:
            await deltas.restart()
        response: LLMResponse | None = None
        try:
            async for chunk in provider.chat_stream(request):
                if chunk.reasoning and summaries:
                    await thoughts.add(chunk.reasoning)
                if chunk.text:
                    watch.first_text()
                    await thoughts.flush()  # the reasoning so far, before the answer
                    await deltas.add(chunk.text)
                if chunk.response is not None:
                    response = chunk.response
        finally:
            await thoughts.close()
            await deltas.close()
        if deltas.superseded or thoughts.superseded:
            raise SupersededError("a newer attempt of this LLM call is running")
        if response is None:
            raise ProviderError("stream ended without a final response", retryable=True)
        return response
