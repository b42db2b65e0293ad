"""OpenAI's Responses API for the OpenAI-family providers (`config.api: responses`), as a base
class `OpenAIProvider` (and so Azure's and any compatible server's) inherits.

Why: OpenAI's reasoning models keep their reasoning across tool calls only here. We run it
stateless (`store: false`: OpenAI keeps nothing; the transcript is ours) and ask for each
reasoning item's `encrypted_content`, so a turn can go back whole: a turn this very model
wrote (`NativeTurn`, its output items — reasoning, message, function calls — as they came)
is sent back as it was, in order. Any other assistant turn is rebuilt as a message and its
`function_call`s without their output ids, since the API refuses a call's id without the
reasoning item that preceded it. Non-reasoning models (anything but o-series and gpt-5, as
the API says, "Encrypted content is not supported with this model") get no `include`.

The conversion: system messages are `instructions`; tool results `function_call_output`s
(with a tool's images and files, their `output` is a list: `input_text`, then `input_image` /
`input_file` parts); a user message's images and files are `input_image` (`detail: auto`) and
`input_file` (with its `filename`) parts before its `input_text`, inline as data URLs;
tools are flat (`{"type": "function", "name", "parameters", "strict": false}`: our schemas are
not strict-mode schemas); `max_tokens` is `max_output_tokens`; `response_format` is
`text.format`; `reasoning` is `{effort, summary: "auto"}`. The answer is read from the final
response (`response.completed`, with the complete reasoning items), the stream's deltas only
feed text and reasoning chunks; an `error` event or `response.failed` is our error (the SDK
yields them as events), and a stream that ends without a final response is cut short.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, ClassVar

import openai
from openai.types.responses import Response

from ..errors import ProviderError
from ..spec import Sampling
from .knobs import OPENAI_REASONING_MODEL
from .media import data_url, kind_of
from .messages import (
    LLMRequest,
    LLMResponse,
    Message,
    NativeTurn,
    Part,
    StreamChunk,
    ToolCall,
    Usage,
)
from .openai_common import SDK_ERRORS, provider_error, tool_choice_params
from .wire import parse_arguments

__all__ = ["KIND", "ResponsesAPI"]

KIND = "openai-responses"  # `NativeTurn.kind`: a response's output items
_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}
# Codes of a failed response that another attempt may not meet.
_RETRYABLE_CODES = frozenset({"server_error", "rate_limit_exceeded", "vector_store_timeout"})
_FINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})
_REASONING_DELTAS = frozenset(
    {"response.reasoning_summary_text.delta", "response.reasoning_text.delta"}
)


class ResponsesAPI:
    """`_respond` / `_respond_stream`: one call on the Responses API. The provider class
    provides the attributes below."""

    sends_cache_key: ClassVar[bool]

    if TYPE_CHECKING:  # the provider's

        @property
        def label(self) -> str: ...

        def _sdk(self) -> openai.AsyncOpenAI: ...

        def _model(self, model: str) -> str: ...

    async def _respond(self, request: LLMRequest) -> LLMResponse:
        client = self._sdk()
        try:
            response = await client.responses.create(**self._responses_params(request))
        except SDK_ERRORS as exc:
            raise provider_error(exc, self.label) from exc
        return self._answer(response)

    async def _respond_stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        client = self._sdk()
        final: Response | None = None
        try:
            stream = await client.responses.create(**self._responses_params(request), stream=True)
            async with stream:
                async for event in stream:
                    if event.type == "response.output_text.delta":
                        yield StreamChunk(text=getattr(event, "delta", "") or "")
                    elif event.type in _REASONING_DELTAS:
                        yield StreamChunk(reasoning=getattr(event, "delta", "") or "")
                    elif event.type in _FINAL_EVENTS:
                        final = getattr(event, "response", None)
                    elif event.type == "error":
                        raise self._stream_error(event)
        except SDK_ERRORS as exc:
            raise provider_error(exc, self.label) from exc
        if not isinstance(final, Response):
            raise ProviderError(
                f"{self.label}: stream ended before the model finished", retryable=True
            )
        yield StreamChunk(response=self._answer(final))

    # --- our format -> request ------------------------------------------------------------

    def _responses_params(self, request: LLMRequest) -> dict[str, Any]:
        sampling = request.sampling
        instructions = [m.content for m in request.messages if m.role == "system" and m.content]
        params: dict[str, Any] = {
            "model": self._model(request.model),
            "input": _input(request),
            "store": False,
        }
        if instructions:
            params["instructions"] = "\n\n".join(instructions)
        if request.tools:
            params["tools"] = [
                {
                    "type": "function",
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.parameters or _EMPTY_SCHEMA,
                    "strict": False,
                }
                for t in request.tools
            ]
            params |= tool_choice_params(sampling, flat=True)
        if sampling.max_tokens is not None:
            params["max_output_tokens"] = sampling.max_tokens
        for key in ("temperature", "top_p"):
            if (value := getattr(sampling, key)) is not None:
                params[key] = value
        if (text_format := _text_format(sampling.response_format)) is not None:
            params["text"] = {"format": text_format}
        params |= _reasoning(request.model, sampling)
        if self.sends_cache_key and request.cache_key:
            params["prompt_cache_key"] = request.cache_key
        return params

    # --- replies -> our format ------------------------------------------------------------

    def _answer(self, response: Response) -> LLMResponse:
        if response.status == "failed":
            error = response.error
            code = error.code if error is not None else "error"
            message = error.message if error is not None else "the response failed"
            raise ProviderError(
                f"{self.label}: {code}: {message}", retryable=code in _RETRYABLE_CODES
            )
        reason = response.incomplete_details.reason if response.incomplete_details else None
        if response.status == "incomplete" and reason == "content_filter":
            raise ProviderError(f"{self.label}: content refused: content_filter", retryable=False)
        texts: list[str] = []
        calls: list[ToolCall] = []
        for output in response.output:
            if output.type == "message":
                for part in output.content:
                    if part.type == "refusal":
                        refusal = getattr(part, "refusal", "")
                        raise ProviderError(
                            f"{self.label}: content refused: {refusal}", retryable=False
                        )
                    texts.append(getattr(part, "text", "") or "")
            elif output.type == "function_call":
                arguments, problem = parse_arguments(output.arguments)
                calls.append(
                    ToolCall(
                        id=output.call_id,
                        name=output.name,
                        arguments=arguments,
                        arguments_error=problem,
                    )
                )
        native = None
        if any(item.type == "reasoning" for item in response.output):
            items = [item.model_dump(mode="json", exclude_none=True) for item in response.output]
            native = NativeTurn(kind=KIND, items=items)
        finish = "length" if response.status == "incomplete" else None
        return LLMResponse(
            message=Message(role="assistant", content="".join(texts) or None, tool_calls=calls),
            usage=_usage(response),
            finish_reason=finish or ("tool_calls" if calls else "stop"),
            native=native,
        )

    def _stream_error(self, event: Any) -> ProviderError:
        code = getattr(event, "code", None) or "error"
        message = getattr(event, "message", "") or ""
        return ProviderError(
            f"{self.label}: error in stream: {code}: {message}",
            retryable=code != "invalid_request_error",
        )


def _input(request: LLMRequest) -> list[dict[str, Any]]:
    """The conversation as input items (system messages go to `instructions`)."""
    items: list[dict[str, Any]] = []
    for message in request.messages:
        if message.role == "user" and message.parts:
            text = [{"type": "input_text", "text": message.content}] if message.content else []
            content = [_part(part, request) for part in message.parts] + text
            items.append({"role": "user", "content": content})
        elif message.role == "user":
            items.append({"role": "user", "content": message.content or ""})
        elif message.role == "assistant" and (native := request.native(message, KIND)):
            items += native
        elif message.role == "assistant":
            if message.content:
                items.append({"role": "assistant", "content": message.content})
            items += [
                {
                    "type": "function_call",
                    "call_id": call.id,
                    "name": call.name,
                    "arguments": json.dumps(call.arguments),
                }
                for call in message.tool_calls
            ]
        elif message.role == "tool":
            output: str | list[dict[str, Any]] = message.content or ""
            if message.parts:  # the API takes a tool's images and files in its output
                text = [{"type": "input_text", "text": message.content}] if message.content else []
                output = text + [_part(part, request) for part in message.parts]
            call = {"call_id": message.tool_call_id or ""}
            items.append({"type": "function_call_output", **call, "output": output})
    return items


def _part(part: Part, request: LLMRequest) -> dict[str, Any]:
    """An image (`input_image`) or a file (`input_file`), its content inline as a data URL."""
    url = data_url(part.media_type, request.content_of(part))
    if kind_of(part.media_type) == "image":
        return {"type": "input_image", "image_url": url, "detail": "auto"}
    return {"type": "input_file", "file_data": url, "filename": part.name or "file"}


def _reasoning(model: str, sampling: Sampling) -> dict[str, Any]:
    """`reasoning` for the request's knob, and `include` for a reasoning model's items."""
    params: dict[str, Any] = {}
    reasoning = sampling.reasoning
    if reasoning is not None:
        config: dict[str, Any] = {"effort": reasoning.effort} if reasoning.effort else {}
        if reasoning.summary:
            config["summary"] = "auto"
        if config:
            params["reasoning"] = config
    if reasoning is not None or OPENAI_REASONING_MODEL.match(model):
        params["include"] = ["reasoning.encrypted_content"]
    return params


def _text_format(response_format: dict[str, Any] | None) -> dict[str, Any] | None:
    kind = (response_format or {}).get("type")
    if response_format is None or kind in (None, "text"):
        return None
    if kind == "json_schema":
        inner = response_format.get("json_schema")
        spec = inner if isinstance(inner, dict) else response_format
        text_format = {
            "type": "json_schema",
            "name": spec.get("name") or "answer",
            "schema": spec.get("schema") or _EMPTY_SCHEMA,
        }
        if spec.get("strict") is not None:
            text_format["strict"] = spec["strict"]
        return text_format
    return {"type": kind}


def _usage(response: Response) -> Usage:
    usage = response.usage
    if usage is None:
        return Usage()
    details = usage.input_tokens_details
    return Usage(
        prompt_tokens=usage.input_tokens,
        completion_tokens=usage.output_tokens,
        total_tokens=usage.total_tokens or usage.input_tokens + usage.output_tokens,
        cache_read_tokens=(details.cached_tokens or 0) if details else 0,
        cache_creation_tokens=(getattr(details, "cache_write_tokens", 0) or 0) if details else 0,
    )
