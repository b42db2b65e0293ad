"""The Anthropic Messages API adapter on the official `anthropic` SDK (Claude on Vertex AI,
`vertex.py`, reuses it).

What the conversion does beyond renaming fields:
- system messages become the top-level `system` parameter (joined by blank lines);
- the results of one turn's tool calls travel as ONE user message of `tool_result` blocks: the
  API wants every `tool_use` answered in the very next message;
- the API rejects empty text blocks, so an empty message is left out (the API merges
  consecutive messages of one role anyway) and an empty tool result has no `content`;
- a message's images and PDFs are `image` and `document` blocks (base64; images before the
  text, as Anthropic advises), in a user message or in a tool result's `content`;
- `max_tokens` is required: the request's, else config `default_max_tokens` (4096);
- `temperature` and `top_p` are not parameters of `messages.create` in this SDK (newer models
  reject them): when a request sets them they go as extra body fields, and a model that does
  not take them answers 400 with its reason;
- `response_format` `{"type": "json_schema", "json_schema": {"schema": …}}` (OpenAI's shape) or
  `{"type": "json_schema", "schema": …}` becomes `output_config.format` (structured outputs);
  `json_object` has no equivalent and is dropped, with a debug log;
- `reasoning` is thinking (`knob_params`): its blocks, signed, come back unchanged in the
  assistant turn that wrote them (the whole turn is kept, `NativeTurn`), as the API requires
  with tools. When the turn the request's final tool results answer has no thinking to send
  (another model wrote it, a person edited its calls), that one request goes without
  thinking, as the API's error advises ("To avoid this requirement, disable `thinking`");
- prompt caching (`prompt_cache`, on by default): breakpoints on the stable prefix
  (`mark_cache`); the system prompt then goes as a text block.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import anthropic
import httpx2
from anthropic.types import Message as Reply

from ..errors import ProviderError
from .anthropic_format import (
    FINISH_REASONS,
    KIND,
    StreamReply,
    counts,
    knob_params,
    mark_cache,
    native_blocks,
    output_format,
    replays_thinking,
    request_messages,
    tool_param,
    usage,
)
from .base import Provider
from .messages import LLMRequest, LLMResponse, Message, NativeTurn, StreamChunk, ToolCall
from .settings import AnthropicSettings, ProviderSettings, VertexAISettings
from .wire import parse_arguments, retry_after, status_error

__all__ = ["SDK_ERRORS", "AnthropicClient", "AnthropicProvider"]

logger = logging.getLogger(__name__)

# `error` events inside a 200 stream name the error type that a status code would have said.
_RETRYABLE_ERROR_TYPES = frozenset(
    {"overloaded_error", "api_error", "rate_limit_error", "timeout_error"}
)
# The SDK's errors; httpx2's when the connection breaks mid-stream (the SDK does not wrap those);
# ValueError (JSONDecodeError) for a body cut off mid-JSON.
SDK_ERRORS: tuple[type[Exception], ...] = (
    anthropic.AnthropicError,
    httpx2.TransportError,
    ValueError,
)
_NOT_AN_OBJECT = "invalid JSON arguments from the model: expected a JSON object"

AnthropicClient = anthropic.AsyncAnthropic | anthropic.AsyncAnthropicVertex


class AnthropicProvider(Provider[AnthropicClient]):
    """Claude through the Messages API, streaming or not; config keys `base_url`, `timeout`,
    `default_max_tokens` (`AnthropicSettings`)."""

    name = "anthropic"
    supported_models = tuple(
        "claude-opus-5-5 claude-sonnet-5-5 claude-haiku-5-5 claude-opus-5 claude-sonnet-5 "
        "claude-fable-5-2 claude-fable-5-1 claude-fable-5 claude-mythos-5-2 claude-mythos-5-1 "
        "claude-mythos-5 claude-opus-4-8 claude-opus-4-7 claude-opus-4-6 claude-sonnet-4-6 "
        "claude-haiku-4-5 claude-haiku-4-5-20251001 claude-opus-4-5 claude-opus-4-5-20251101 "
        "claude-sonnet-4-5 claude-sonnet-4-5-20250929".split()
    )

    settings_model: ClassVar[type[ProviderSettings]] = AnthropicSettings
    settings: AnthropicSettings | VertexAISettings
    _errors: ClassVar[tuple[type[Exception], ...]] = SDK_ERRORS

    def _make_client(self) -> AnthropicClient:
        """Build the SDK client; `AnthropicVertexProvider` overrides this."""
        key = self.config.api_key()
        if self.config.api_key_env and not key:
            raise ProviderError(
                f"{self.name}: environment variable {self.config.api_key_env} is not set",
                retryable=False,
            )
        client = anthropic.AsyncAnthropic(
            api_key=key,
            base_url=self.settings.base_url,
            timeout=self.settings.timeout,
            max_retries=0,
        )
        # Without `api_key_env` the SDK looks in its own places (ANTHROPIC_API_KEY, profiles).
        if client.api_key is None and client.auth_token is None and client.credentials is None:
            raise ProviderError(f"{self.name}: no API key: set api_key_env", retryable=False)
        return client

    def _translate(self, exc: Exception) -> ProviderError:
        """An SDK error as ours (`AnthropicVertexProvider` adds Google's)."""
        return _provider_error(exc, self.name)

    def _client_error(self, exc: Exception) -> ProviderError | None:
        known = isinstance(exc, anthropic.AnthropicError | ValueError)
        return self._translate(exc) if known else None

    async def chat(self, request: LLMRequest) -> LLMResponse:
        client = self._sdk()
        try:
            reply = await client.messages.create(**self._params(request))
        except self._errors as exc:
            raise self._translate(exc) from exc
        return self._response(reply)

    async def chat_stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        client = self._sdk()
        reply = StreamReply()
        try:
            stream = await client.messages.create(**self._params(request), stream=True)
            async with stream:
                async for event in stream:
                    text, thought = reply.add(event)
                    if text or thought:
                        yield StreamChunk(text=text, reasoning=thought)
        except self._errors as exc:
            raise self._translate(exc) from exc
        if not reply.stopped:
            raise ProviderError(
                f"{self.name}: stream ended before the model finished", retryable=True
            )
        if reply.stop_reason is None:
            raise self._malformed("the stream has no stop reason")
        self._check_refusal(reply.stop_reason, reply.refusal)
        blocks = [reply.blocks[i] for i in sorted(reply.blocks)]
        calls = [
            self._tool_call(b.id, b.name, parse_arguments("".join(b.parts)))
            for b in blocks
            if b.kind == "tool_use"
        ]
        text = "".join("".join(b.parts) for b in blocks if b.kind == "text")
        message = Message(role="assistant", content=text or None, tool_calls=calls)
        response = LLMResponse(
            message=message,
            usage=usage(reply.usage),
            finish_reason=FINISH_REASONS.get(reply.stop_reason, reply.stop_reason),
            native=_turn(reply.native()),
        )
        yield StreamChunk(response=response)

    # --- our format -> request ------------------------------------------------------------

    def _params(self, request: LLMRequest) -> dict[str, Any]:
        system, messages = request_messages(request)
        sampling = request.sampling
        tools = [tool_param(t.name, t.description, t.parameters) for t in request.tools]
        params: dict[str, Any] = {
            "model": request.model,
            "messages": messages,
            **knob_params(sampling, self.settings.default_max_tokens, bool(tools)),
        }
        if "thinking" in params and not replays_thinking(messages):
            logger.debug(
                "%s: this request's tool turn has no thinking to send: no thinking", self.name
            )
            del params["thinking"]
        blocks: list[Any] = [{"type": "text", "text": system}] if system else []
        if self.settings.prompt_cache:
            mark_cache(blocks, tools, messages)
            if blocks:
                params["system"] = blocks
        if system and "system" not in params:
            params["system"] = system
        if tools:
            params["tools"] = tools
        if sampling.stop:
            params["stop_sequences"] = sampling.stop
        extra = {k: v for k in ("temperature", "top_p") if (v := getattr(sampling, k)) is not None}
        if extra:
            params["extra_body"] = extra
        if (structured := output_format(sampling.response_format)) is not None:
            params["output_config"] = {**params.get("output_config", {}), "format": structured}
        return params

    # --- replies -> our format ------------------------------------------------------------

    def _response(self, reply: Reply) -> LLMResponse:
        content = reply.content if isinstance(reply, Reply) else None
        if not isinstance(content, list):
            raise self._malformed("the reply has no content")
        self._check_refusal(reply.stop_reason, reply.stop_details)
        texts: list[str] = []
        calls: list[ToolCall] = []
        params: list[dict[str, Any] | None] = []
        for block in content:
            if block.type == "text" and isinstance(getattr(block, "text", None), str):
                texts.append(getattr(block, "text", ""))
            elif block.type == "tool_use":
                raw = getattr(block, "input", None)
                arguments = (raw, None) if isinstance(raw, dict) else ({}, _NOT_AN_OBJECT)
                calls.append(
                    self._tool_call(getattr(block, "id", ""), getattr(block, "name", ""), arguments)
                )
            elif block.type not in ("thinking", "redacted_thinking"):
                logger.debug("%s: ignoring a %r content block", self.name, block.type)
            params.append(_param(block))
        stop_reason = reply.stop_reason
        return LLMResponse(
            message=Message(role="assistant", content="".join(texts) or None, tool_calls=calls),
            usage=usage(counts(reply.usage)),
            finish_reason=FINISH_REASONS.get(stop_reason, stop_reason) if stop_reason else None,
            native=_turn(native_blocks(params, [block.type for block in content])),
        )

    def _tool_call(
        self, call_id: str | None, name: str | None, arguments: tuple[dict[str, Any], str | None]
    ) -> ToolCall:
        if not call_id or not name:
            raise self._malformed("a tool_use block without an id or a name")
        values, error = arguments
        return ToolCall(id=call_id, name=name, arguments=values, arguments_error=error)

    def _check_refusal(self, stop_reason: str | None, details: object) -> None:
        if stop_reason == "refusal":
            explanation = getattr(details, "explanation", None)
            reason = f": {explanation}" if isinstance(explanation, str) and explanation else ""
            raise ProviderError(f"{self.name}: content refused{reason}", retryable=False)

    def _malformed(self, what: str) -> ProviderError:
        return ProviderError(f"{self.name}: malformed reply: {what}", retryable=False)


def _param(block: Any) -> dict[str, Any] | None:
    """A reply's content block as it goes back to the API (None: one not sent back)."""
    fields = {
        "thinking": ("thinking", "signature"),
        "redacted_thinking": ("data",),
        "text": ("text",),
        "tool_use": ("id", "name", "input"),
    }.get(block.type)
    if fields is None:
        return None
    return {"type": block.type, **{name: getattr(block, name, None) for name in fields}}


def _turn(blocks: list[dict[str, Any]] | None) -> NativeTurn | None:
    return NativeTurn(kind=KIND, items=blocks) if blocks is not None else None


# --- errors --------------------------------------------------------------------------------


def _provider_error(exc: Exception, provider: str = "anthropic") -> ProviderError:
    """Translate an SDK error into our `ProviderError`; the only place that knows them."""
    if isinstance(exc, anthropic.APITimeoutError | httpx2.TimeoutException):
        return ProviderError(f"{provider}: request timed out", retryable=True)
    if isinstance(exc, anthropic.APIConnectionError):
        return ProviderError(f"{provider}: connection failed: {exc.message}", retryable=True)
    if isinstance(exc, httpx2.TransportError):
        return ProviderError(f"{provider}: connection lost: {type(exc).__name__}", retryable=True)
    if isinstance(exc, anthropic.APIStatusError) and exc.status_code < 400:
        # An `error` event inside a 200 stream: the server failed mid-answer.
        kind = exc.type or "error"
        return ProviderError(
            f"{provider}: error in stream: {kind}: {exc.api_message or exc.message[:200]}",
            retryable=kind in _RETRYABLE_ERROR_TYPES,
        )
    if isinstance(exc, anthropic.APIStatusError):
        return status_error(
            provider, exc.status_code, _error_message(exc), retry_after(exc.response.headers)
        )
    if isinstance(exc, anthropic.APIResponseValidationError):
        return ProviderError(f"{provider}: malformed reply: {exc.message}", retryable=False)
    if isinstance(exc, json.JSONDecodeError):
        return ProviderError(f"{provider}: malformed reply: {str(exc)[:200]}", retryable=False)
    return ProviderError(f"{provider}: {str(exc)[:300]}", retryable=False)


def _error_message(exc: anthropic.APIStatusError) -> str:
    """`error.message` of the body (Anthropic's and Google's error format agree on it)."""
    if isinstance(exc.api_message, str) and exc.api_message:
        return exc.api_message
    if isinstance(exc.body, str) and exc.body.strip():
        return exc.body.strip()[:500]
    return exc.response.reason_phrase
