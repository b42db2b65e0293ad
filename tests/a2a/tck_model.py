"""The agent behaviour the A2A conformance kit (a2a-tck) expects, as a model provider.

The kit drives its system under test by the prefix of each message's `messageId` (its
`scenarios/*.feature`: `tck-complete-task` → complete with "Hello from TCK",
`tck-input-required` → wait for input, …). In temporal-executor the agent's behaviour is the
model's, so this is a model: everything else, workflow, approvals, event log, A2A server,
is the real service. It reads the client's message id of the newest user turn, which the
transcript keeps (`Message.id`), and answers:

- `tck-input-required…`: a call to the agent's first tool, which needs approval, so the task
  goes `input-required`; the client's next message answers it (and is the next user turn);
- `test-resubscribe-message-id…`: an answer after `2 * TCK_STREAMING_TIMEOUT` seconds;
- `tck-reject-task…`: a non-retryable model error, so the task fails;
- `tck-artifact-file…`, `tck-artifact-file-url…`, `tck-artifact-data…`: a call to the MCP tool
  (`tck_file`, `tck_link`, `tck_data`: see `tck.yaml`) whose result is the artifact the kit
  expects: an embedded `output.txt`, a link to one, the structured `{"key": "value",
  "count": 42}`; the task's artifacts come from the tool, as any tool's do;
- a known prefix with a text answer: that text (`tck-stream-artifact-chunked` in two chunks);
- after tool results with no user turn after them (the call was approved): "Done.";
- anything else: "Echo: <text>".

A direct Message reply (`tck-message-response`) is not agent behaviour a model can produce
here: a task is always a task.

Use: `llm.providers: [{name: tck, class: "tests.a2a.tck_model:ScenarioModel"}]`, with the
repository root on PYTHONPATH; `tests/a2a/tck.yaml` is a whole config.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

from temporal_executor.errors import ProviderError
from temporal_executor.llm import (
    LLMRequest,
    LLMResponse,
    Message,
    Provider,
    StreamChunk,
    ToolCall,
    Usage,
)

__all__ = ["ScenarioModel"]

# The tool call of each artifact scenario (longest prefix first: `-file-url` is a `-file`).
ARTIFACT_CALLS = {
    "tck-artifact-file-url": (
        "tck_link",
        {"url": "https://example.com/output.txt", "name": "output.txt", "media_type": "text/plain"},
    ),
    "tck-artifact-file": (
        "tck_file",
        {"name": "output.txt", "media_type": "text/plain", "text": "tck"},
    ),
    "tck-artifact-data": ("tck_data", {"value": {"key": "value", "count": 42}}),
}
ANSWERS = {
    "tck-complete-task": ["Hello from TCK"],
    "tck-artifact-text": ["Generated text content"],
    "tck-stream-001": ["Stream hello from TCK"],
    "tck-stream-003": ["Stream task lifecycle"],
    "tck-stream-ordering-001": ["Ordered output"],
    "tck-stream-artifact-text": ["Streamed text content"],
    "tck-stream-artifact-chunked": ["chunk-1 ", "chunk-2"],
}


class ScenarioModel(Provider):
    name = "tck"

    async def chat(self, request: LLMRequest) -> LLMResponse:
        pieces, calls = await self._reply(request)
        return _response("".join(pieces), calls)

    async def chat_stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        pieces, calls = await self._reply(request)
        for piece in pieces:
            yield StreamChunk(text=piece)
        yield StreamChunk(response=_response("".join(pieces), calls))

    async def _reply(self, request: LLMRequest) -> tuple[list[str], list[ToolCall]]:
        last = request.messages[-1]
        if last.role == "tool":
            return ["Done."], []
        user = next((m for m in reversed(request.messages) if m.role == "user"), last)
        message_id = user.id or ""
        if message_id.startswith("tck-input-required"):
            if not request.tools:
                raise ProviderError("tck-input-required needs a tool that requires approval")
            call_id = f"call-{len(request.messages)}"
            return [], [ToolCall(id=call_id, name=request.tools[0].name, arguments={})]
        if message_id.startswith("test-resubscribe-message-id"):
            await asyncio.sleep(2 * float(os.environ.get("TCK_STREAMING_TIMEOUT", "2")))
            return ["Still here after the wait"], []
        if message_id.startswith("tck-reject-task"):
            raise ProviderError("rejected", retryable=False)
        for prefix, (tool, arguments) in ARTIFACT_CALLS.items():
            if message_id.startswith(prefix):
                call_id = f"call-{len(request.messages)}"
                return [], [ToolCall(id=call_id, name=tool, arguments=arguments)]
        for prefix, pieces in ANSWERS.items():
            if message_id.startswith(prefix):
                return pieces, []
        return [f"Echo: {user.content or ''}"], []


def _response(text: str, calls: list[ToolCall]) -> LLMResponse:
    message = Message(role="assistant", content=text or None, tool_calls=calls)
    return LLMResponse(message=message, usage=Usage(prompt_tokens=1, completion_tokens=1))
