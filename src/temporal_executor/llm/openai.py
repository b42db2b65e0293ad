"""The OpenAI Chat Completions adapter, on the official `openai` SDK, and the one for any
OpenAI-compatible server (Ollama, vLLM, LM Studio, llama.cpp …).

Those servers speak the same wire format, so a subclass that overrides `_make_client()` (and
perhaps `_model()` / `_max_tokens_key()`) reuses the conversion and the error mapping; Azure
OpenAI is one (`azure.py`). With `config.api: responses` the same providers speak OpenAI's
Responses API instead (`openai_responses.py`), which keeps reasoning across tool calls.

Knobs (`knobs.py` says which a model takes): `reasoning.effort` is `reasoning_effort`;
`tool_choice` and `parallel_tool_calls` go only with tools (the API refuses them without);
OpenAI itself also gets `prompt_cache_key`, a digest of the session, to keep a session's
calls on the same prompt cache.

A user message's images and PDFs are `image_url` and `file` content parts (data URLs). A tool
message takes text only, so the images of a turn's tool results follow its tool messages in
one user message (one between them would break the calls-then-results order), each tool
message saying what follows.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import openai
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionContentPartParam,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessage,
    ChatCompletionMessageFunctionToolCall,
    ChatCompletionMessageParam,
)
from openai.types.chat.chat_completion import Choice
from openai.types.completion_usage import CompletionUsage

from ..errors import ProviderError
from .base import Provider
from .knobs import OPENAI_REASONING_MODEL, uses_responses
from .media import data_url, kind_of
from .messages import LLMRequest, LLMResponse, Message, Part, StreamChunk, ToolCall, Usage
from .openai_common import SDK_ERRORS, provider_error, tool_choice_params
from .openai_responses import ResponsesAPI
from .openai_stream import Accumulator, MalformedChunk, listed
from .settings import CompatibleSettings, OpenAISettings, ProviderSettings
from .wire import parse_arguments

__all__ = ["OpenAICompatibleProvider", "OpenAIProvider"]

_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}
# Requests go through the client's `post` (the SDK's documented way to send a body as is):
# `chat.completions.create` first walks the body against its TypedDicts (`maybe_transform`),
# ~1 ms a call, which changes nothing in a body built in the wire format, as `_params` builds
# it. The client still adds its headers, retries, timeouts, and Azure's deployment path.
COMPLETIONS = "/chat/completions"


class OpenAIProvider(ResponsesAPI, Provider[openai.AsyncOpenAI]):
    """Chat Completions with tools, streaming or not; config keys `base_url`, `organization`,
    `timeout` (`OpenAISettings`).

    Without `base_url` the SDK reads `OPENAI_BASE_URL`, else uses api.openai.com; without
    `api_key_env` it reads `OPENAI_API_KEY`. A configured `api_key_env` is the only key used.
    """

    name = "openai"
    supported_models = tuple(
        "gpt-5.5 gpt-5.4 gpt-5.4-mini gpt-5.4-nano gpt-5.2 gpt-5.1 gpt-5 gpt-5-mini gpt-5-nano "
        "gpt-4.1 gpt-4.1-mini gpt-4.1-nano gpt-4o gpt-4o-mini o4-mini o3 o3-mini o1".split()
    )

    settings_model: ClassVar[type[ProviderSettings]] = OpenAISettings
    # Whether requests carry `prompt_cache_key` (OpenAI's own API; not every server takes it).
    sends_cache_key: ClassVar[bool] = True

    @property
    def label(self) -> str:
        """The name this provider is configured under (`ollama`), for messages."""
        return self.config.name

    def _make_client(self) -> openai.AsyncOpenAI:
        """Build the SDK client; subclasses for OpenAI-compatible endpoints override this."""
        return openai.AsyncOpenAI(
            api_key=self._api_key(),
            base_url=self.settings.base_url,
            organization=self.settings.organization,
            timeout=self.settings.timeout,
            max_retries=0,
        )

    def _api_key(self) -> str | None:
        """The key from `api_key_env`; None when no variable is configured."""
        key = self.config.api_key()
        if self.config.api_key_env and not key:
            raise ProviderError(
                f"{self.label}: missing credentials: environment variable "
                f"{self.config.api_key_env} is not set",
                retryable=False,
            )
        return key

    def _model(self, model: str) -> str:
        """The `model` to send for the request's model name (Azure sends its deployment)."""
        return model

    def _max_tokens_key(self, model: str) -> str:
        """`max_completion_tokens` for OpenAI's reasoning models, which reject `max_tokens`;
        `max_tokens` for the others, which is also what compatible servers understand."""
        return "max_completion_tokens" if OPENAI_REASONING_MODEL.match(model) else "max_tokens"

    def _client_error(self, exc: Exception) -> ProviderError | None:
        return provider_error(exc, self.label) if isinstance(exc, SDK_ERRORS) else None

    async def chat(self, request: LLMRequest) -> LLMResponse:
        if uses_responses(self.settings):
            return await self._respond(request)
        client = self._sdk()
        try:
            completion = await client.post(
                COMPLETIONS, body=self._params(request), cast_to=ChatCompletion
            )
        except SDK_ERRORS as exc:
            raise provider_error(exc, self.label) from exc
        return self._response(completion)

    async def chat_stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        if uses_responses(self.settings):
            async for chunk in self._respond_stream(request):
                yield chunk
            return
        client = self._sdk()
        reply = Accumulator()
        body = {**self._params(request), "stream": True, "stream_options": {"include_usage": True}}
        try:
            # The SDK's own stream (its SSE reading, in-stream errors, timeouts), each chunk
            # as the JSON object it is: building its models cost 60 % of a stream's CPU.
            stream = await client.post(
                COMPLETIONS,
                body=body,
                cast_to=object,
                stream=True,
                stream_cls=openai.AsyncStream[object],
            )
            async with stream:
                async for data in stream:
                    if not isinstance(data, dict):
                        raise MalformedChunk("a stream chunk that is not an object")
                    if data.get("usage"):
                        reply.usage = _usage(CompletionUsage.model_validate(data["usage"]))
                    for choice in listed(data.get("choices"), "choices"):
                        if text := reply.add(choice):
                            yield StreamChunk(text=text)
        except SDK_ERRORS as exc:
            raise provider_error(exc, self.label) from exc
        if reply.finish_reason is None:
            raise ProviderError(
                f"{self.label}: stream ended before the model finished", retryable=True
            )
        calls = [reply.calls[i] for i in sorted(reply.calls)]
        message = Message(
            role="assistant",
            content="".join(reply.text) or None,
            tool_calls=[self._tool_call(c.id, c.name, "".join(c.arguments)) for c in calls],
        )
        response = LLMResponse(
            message=message, usage=reply.usage, finish_reason=reply.finish_reason
        )
        yield StreamChunk(response=response)

    # --- request parameters ---------------------------------------------------------------

    def _params(self, request: LLMRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self._model(request.model),
            "messages": _messages(request),
        }
        if request.tools:
            params["tools"] = [
                ChatCompletionFunctionToolParam(
                    type="function",
                    function={
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters or _EMPTY_SCHEMA,
                    },
                )
                for t in request.tools
            ]
        sampling = request.sampling
        if sampling.max_tokens is not None:
            params[self._max_tokens_key(request.model)] = sampling.max_tokens
        for key in ("temperature", "top_p", "stop", "response_format"):
            if (value := getattr(sampling, key)) is not None:
                params[key] = value
        if sampling.reasoning is not None and sampling.reasoning.effort:
            params["reasoning_effort"] = sampling.reasoning.effort
        if request.tools:
            params |= tool_choice_params(sampling, flat=False)
        if self.sends_cache_key and request.cache_key:
            params["prompt_cache_key"] = request.cache_key
        return params

    # --- replies -> our format ------------------------------------------------------------

    def _response(self, completion: ChatCompletion) -> LLMResponse:
        choices = completion.choices if isinstance(completion, ChatCompletion) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], Choice):
            raise self._malformed("the reply has no choices")
        choice = choices[0]
        message = choice.message
        if not isinstance(message, ChatCompletionMessage):
            raise self._malformed("the reply's choice has no message")
        calls: list[ToolCall] = []
        for call in message.tool_calls or []:
            if not isinstance(call, ChatCompletionMessageFunctionToolCall) or not call.function:
                raise self._malformed(f"unsupported tool call {getattr(call, 'type', call)!r}")
            calls.append(self._tool_call(call.id, call.function.name, call.function.arguments))
        content = message.content if isinstance(message.content, str) else None
        return LLMResponse(
            message=Message(role="assistant", content=content, tool_calls=calls),
            usage=_usage(completion.usage) if completion.usage else Usage.unknown(),
            finish_reason=choice.finish_reason,
        )

    def _tool_call(self, call_id: str | None, name: str | None, raw: str | None) -> ToolCall:
        if not call_id or not name:
            raise self._malformed("a tool call without an id or a function name")
        arguments, error = parse_arguments(raw)
        return ToolCall(id=call_id, name=name, arguments=arguments, arguments_error=error)

    def _malformed(self, what: str) -> ProviderError:
        return ProviderError(f"{self.label}: malformed reply: {what}", retryable=False)


class OpenAICompatibleProvider(OpenAIProvider):
    """Any server speaking Chat Completions (Ollama, vLLM, LM Studio, llama.cpp, a gateway):
    config `base_url` (required), `timeout`, `organization`; `api_key_env` is optional, as
    local servers need no key. Any model name goes, and `max_tokens` is always `max_tokens`.

    Nothing comes from the SDK's environment variables (`OPENAI_API_KEY`, `OPENAI_BASE_URL`,
    `OPENAI_ORG_ID`, `OPENAI_PROJECT_ID`): an OpenAI key must not reach a third-party server.
    """

    name = "openai-compatible"
    supported_models = ()
    settings_model = CompatibleSettings
    sends_cache_key = False

    def _make_client(self) -> openai.AsyncOpenAI:
        client = openai.AsyncOpenAI(
            # The SDK insists on a key; servers that need none ignore the header.
            api_key=self._api_key() or "unused",
            base_url=self.settings.base_url,
            timeout=self.settings.timeout,
            max_retries=0,
        )
        # Given None, the SDK took these from OPENAI_ORG_ID / OPENAI_PROJECT_ID.
        client.organization = self.settings.organization
        client.project = None
        return client

    def _max_tokens_key(self, model: str) -> str:
        return "max_tokens"


# --- our format -> request -----------------------------------------------------------------


def _messages(request: LLMRequest) -> list[ChatCompletionMessageParam]:
    """The conversation; the parts of a run of tool messages in one user message after it."""
    out: list[ChatCompletionMessageParam] = []
    attached: list[ChatCompletionContentPartParam] = []
    for message in request.messages:
        if message.role != "tool" and attached:
            out.append({"role": "user", "content": [_ATTACHED, *attached]})
            attached = []
        out.append(_message(message, request))
        if message.role == "tool":
            attached += [_part(part, request) for part in message.parts]
    if attached:
        out.append({"role": "user", "content": [_ATTACHED, *attached]})
    return out


_ATTACHED: ChatCompletionContentPartParam = {
    "type": "text",
    "text": "The files of the tool results above:",
}


def _part(part: Part, request: LLMRequest) -> ChatCompletionContentPartParam:
    url = data_url(part.media_type, request.content_of(part))
    if kind_of(part.media_type) == "image":
        return {"type": "image_url", "image_url": {"url": url}}
    return {"type": "file", "file": {"file_data": url, "filename": part.name or "file"}}


def _message(message: Message, request: LLMRequest) -> ChatCompletionMessageParam:
    content = message.content or ""
    match message.role:
        case "system":
            return {"role": "system", "content": content}
        case "user" if message.parts:
            parts = [_part(part, request) for part in message.parts]
            text: list[ChatCompletionContentPartParam] = (
                [{"type": "text", "text": content}] if content else []
            )
            return {"role": "user", "content": [*parts, *text]}
        case "user":
            return {"role": "user", "content": content}
        case "assistant" if message.tool_calls:
            return {
                "role": "assistant",
                "content": message.content,
                "tool_calls": [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
                    }
                    for c in message.tool_calls
                ],
            }
        case "assistant":
            return {"role": "assistant", "content": content}
        case "tool":
            # An error result is still a tool message; its text says what went wrong.
            follows = [
                f"[{part.label()}: in the user message after the results]" for part in message.parts
            ]
            content = "\n".join([content, *follows]) if follows else content
            return {"role": "tool", "content": content, "tool_call_id": message.tool_call_id or ""}


def _usage(usage: CompletionUsage) -> Usage:
    prompt, completion = usage.prompt_tokens or 0, usage.completion_tokens or 0
    details = usage.prompt_tokens_details
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=usage.total_tokens or prompt + completion,
        cache_read_tokens=(details.cached_tokens or 0) if details else 0,
        cache_creation_tokens=(details.cache_write_tokens or 0) if details else 0,
    )
