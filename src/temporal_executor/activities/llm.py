"""`invoke_llm`: one LLM call.

The activity input carries only the messages that are new since the previous call; they are
appended to the stored transcript, which is then read whole and sent to the provider. So
workflow history grows with the conversation, not with its square. When streaming, text
deltas go to the task's event log while the model writes (`deltas.py`).
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from temporalio import activity

from ..errors import ExecutorError, ProviderError, SupersededError, TranscriptError, to_failure
from ..llm.messages import LLMRequest, LLMResponse, Message, ToolCall, ToolDefinition
from ..llm.registry import ProviderRegistry
from ..payloads import offload, resolve_messages
from ..spec import ModelSettings
from ..store import Store
from .deltas import DeltaPublisher
from .heartbeat import heartbeating
from .tools import ToolResult

__all__ = ["LLMActivities", "LLMCallInput", "answer_dangling_calls"]


class LLMCallInput(BaseModel):
    """Input of `invoke_llm`. Only the messages that are new since the previous call travel
    through history; the activity appends them to the stored transcript and reads it whole."""

    model_config = {"protected_namespaces": ()}

    task_id: str
    conversation: str
    call_key: str
    first_index: int
    new_messages: list[Message]
    inline_bytes: int
    max_content_bytes: int
    model: ModelSettings
    tools: list[ToolDefinition] = Field(default_factory=list)


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
    def __init__(self, providers: ProviderRegistry, store: Store) -> None:
        self.providers = providers
        self.store = store

    @activity.defn(name="invoke_llm")
    async def invoke_llm(self, input: LLMCallInput) -> LLMResponse:
        try:
            provider = self.providers.check(input.model.provider, input.model.model)
            request = await self._request(input)
            async with heartbeating():
                if input.model.stream:
                    response = await self._stream(input, request)
                else:
                    response = await provider.chat(request)
        except ExecutorError as exc:
            raise to_failure(exc) from exc
        message = response.message
        if message.content is not None:
            key = f"{input.task_id}/llm/{input.call_key}"
            content, ref = await offload(self.store.blobs, key, message.content, input.inline_bytes)
            message = message.model_copy(update={"content": content, "content_ref": ref})
        return response.model_copy(update={"message": message})

    async def _request(self, input: LLMCallInput) -> LLMRequest:
        transcripts = self.store.transcripts
        await transcripts.put(input.conversation, input.first_index, input.new_messages)
        count = input.first_index + len(input.new_messages)
        messages = await transcripts.get(input.conversation, count)
        if len(messages) != count:
            raise TranscriptError(
                f"transcript of session {input.conversation} has {len(messages)} of {count} "
                "messages"
            )
        messages = await resolve_messages(self.store.blobs, messages, input.max_content_bytes)
        return LLMRequest(
            model=input.model.model,
            messages=answer_dangling_calls(messages),
            tools=input.tools,
            sampling=input.model,
        )

    async def _stream(self, input: LLMCallInput, request: LLMRequest) -> LLMResponse:
        provider = self.providers.get(input.model.provider)
        attempt = activity.info().attempt
        deltas = DeltaPublisher(self.store.events, input.task_id, input.call_key, attempt)
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
            raise SupersededError("a newer attempt of this LLM call is running")
        if response is None:
            raise ProviderError("stream ended without a final response", retryable=True)
        return response
