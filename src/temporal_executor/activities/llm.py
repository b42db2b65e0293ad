"""`invoke_llm`: one LLM call.

The activity input carries only the messages that are new since the previous call; they are
appended to the stored transcript, which is then read whole and sent to the provider. So
workflow history grows with the conversation, not with its square.

When streaming, text deltas are published as `llm.delta` events while the model writes,
coalesced into one event per `DELTA_WINDOW` so a fast model is not one write per token. A
retried attempt first publishes `llm.restart` (with the attempt number): a client drops the
partial text it has for this call and renders the new stream. Deltas of an older attempt
that is still running are dropped by the store, so two half answers never interleave.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError

from ..errors import ProviderError, RequestError
from ..events import EventStore
from ..llm import ProviderRegistry
from ..models import (
    EventType,
    LLMCallInput,
    LLMRequest,
    LLMResponse,
    Message,
    ToolCall,
    ToolResult,
)
from ..payloads import offload, resolve_messages
from .heartbeat import heartbeating

__all__ = ["DELTA_WINDOW", "LLMActivities", "answer_dangling_calls"]

DELTA_WINDOW = 0.02
DELTA_MAX_CHARS = 2048


class _DeltaPublisher:
    """Buffers text deltas and appends them as few, ordered `llm.delta` events."""

    def __init__(self, store: EventStore, task_id: str, call_key: str, attempt: int) -> None:
        self.store, self.task_id, self.call_key, self.attempt = store, task_id, call_key, attempt
        self._buffer: list[str] = []
        self._buffered = 0
        self._count = 0
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None
        self.superseded = False

    async def restart(self) -> None:
        await self._append(EventType.LLM_RESTART, f"restart:{self.attempt}", {})

    async def add(self, text: str) -> None:
        self._buffer.append(text)
        self._buffered += len(text)
        if self._buffered >= DELTA_MAX_CHARS:
            await self.flush()
        elif self._timer is None:
            self._timer = asyncio.create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(DELTA_WINDOW)
        self._timer = None
        await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            if not self._buffer:
                return
            text = "".join(self._buffer)
            self._buffer.clear()
            self._buffered = 0
            self._count += 1
            await self._append(EventType.LLM_DELTA, f"{self.attempt}:{self._count}", {"text": text})
        activity.heartbeat()

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self.flush()

    async def _append(self, type: EventType, suffix: str, data: dict[str, object]) -> None:
        event = await self.store.append(
            self.task_id,
            f"{self.call_key}:{suffix}",
            type,
            {"call": self.call_key, "attempt": self.attempt, **data},
            stream=self.call_key,
            attempt=self.attempt,
        )
        self.superseded = self.superseded or event is None


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
    content = "no result: the task ended before this tool call ran"
    return ToolResult(
        tool_call_id=call.id, name=call.name, content=content, is_error=True
    ).message()


class LLMActivities:
    def __init__(self, providers: ProviderRegistry, store: EventStore) -> None:
        self.providers = providers
        self.store = store

    @activity.defn(name="invoke_llm")
    async def invoke_llm(self, input: LLMCallInput) -> LLMResponse:
        try:
            provider = self.providers.get(input.model.provider)
            provider.check_model(input.model.model)
        except RequestError as exc:
            raise ApplicationError(
                exc.message, type=type(exc).__name__, non_retryable=True
            ) from exc
        request = await self._request(input)
        try:
            async with heartbeating():
                if input.model.stream:
                    response = await self._stream(input, request)
                else:
                    response = await provider.chat(request)
        except ProviderError as exc:
            delay = timedelta(seconds=exc.retry_after) if exc.retry_after else None
            raise ApplicationError(
                exc.message,
                type="ProviderError",
                non_retryable=not exc.retryable,
                next_retry_delay=delay,
            ) from exc
        message = response.message
        if message.content is not None:
            key = f"{input.task_id}/llm/{input.call_key}"
            content, ref = await offload(self.store, key, message.content, input.inline_bytes)
            message = message.model_copy(update={"content": content, "content_ref": ref})
        return response.model_copy(update={"message": message})

    async def _request(self, input: LLMCallInput) -> LLMRequest:
        await self.store.put_messages(input.conversation, input.first_index, input.new_messages)
        count = input.first_index + len(input.new_messages)
        messages = await self.store.get_messages(input.conversation, count)
        if len(messages) != count:
            raise ApplicationError(
                f"transcript of session {input.conversation} has {len(messages)} of {count} "
                "messages",
                type="TranscriptError",
                non_retryable=True,
            )
        model = input.model
        messages = await resolve_messages(self.store, messages, input.max_content_bytes)
        return LLMRequest(
            model=model.model,
            messages=answer_dangling_calls(messages),
            tools=input.tools,
            temperature=model.temperature,
            max_tokens=model.max_tokens,
            top_p=model.top_p,
            stop=model.stop,
            response_format=model.response_format,
        )

    async def _stream(self, input: LLMCallInput, request: LLMRequest) -> LLMResponse:
        provider = self.providers.get(input.model.provider)
        attempt = activity.info().attempt
        deltas = _DeltaPublisher(self.store, input.task_id, input.call_key, attempt)
        if attempt > 1:
            await deltas.restart()
        response: LLMResponse | None = None
        try:
            async for chunk in provider.chat_stream(request):
                if chunk.text:
                    await deltas.add(chunk.text)
                if chunk.response is not None:
                    response = chunk.response
        finally:
            await deltas.close()
        if deltas.superseded:
            raise ApplicationError("a newer attempt of this LLM call is running", type="Superseded")
        if response is None:
            raise ProviderError("stream ended without a final response", retryable=True)
        return response
