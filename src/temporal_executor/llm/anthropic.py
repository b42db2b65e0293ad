"""The Anthropic Messages API adapter on the official `anthropic` SDK, and Claude on Vertex AI.

What the conversion does beyond renaming fields:
- system messages become the top-level `system` parameter (joined by blank lines);
- the results of one turn's tool calls travel as ONE user message of `tool_result` blocks: the
  API wants every `tool_use` answered in the very next message;
- the API rejects empty text blocks, so an empty message is left out (the API merges
  consecutive messages of one role anyway) and an empty tool result has no `content`;
- `max_tokens` is required: the request's, else config `default_max_tokens` (4096);
- `temperature` and `top_p` are not parameters of `messages.create` in this SDK (newer models
  reject them): when a request sets them they go as extra body fields, and a model that does
  not take them answers 400 with its reason;
- `response_format` `{"type": "json_schema", "json_schema": {"schema": …}}` (OpenAI's shape) or
  `{"type": "json_schema", "schema": …}` becomes `output_config.format` (structured outputs);
  `json_object` has no equivalent and is dropped, with a debug log.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import anthropic
import httpx2
from anthropic.types import Message as Reply
from anthropic.types import (
    MessageParam,
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStreamEvent,
    ToolParam,
    ToolResultBlockParam,
)

from ..errors import ProviderError, ProviderNotConfiguredError
from .base import Provider
from .messages import LLMRequest, LLMResponse, Message, StreamChunk, ToolCall, Usage
from .settings import AnthropicSettings, ProviderSettings, VertexAISettings
from .wire import parse_arguments, retry_after, status_error

__all__ = ["AnthropicProvider", "AnthropicVertexProvider"]

logger = logging.getLogger(__name__)

_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}
_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
}
# `error` events inside a 200 stream name the error type that a status code would have said.
_RETRYABLE_ERROR_TYPES = frozenset(
    {"overloaded_error", "api_error", "rate_limit_error", "timeout_error"}
)
# The SDK's errors; httpx2's when the connection breaks mid-stream (the SDK does not wrap those);
# ValueError (JSONDecodeError) for a body cut off mid-JSON.
_SDK_ERRORS: tuple[type[Exception], ...] = (
    anthropic.AnthropicError,
    httpx2.TransportError,
    ValueError,
)

_USAGE_KEYS = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)
_NOT_AN_OBJECT = "invalid JSON arguments from the model: expected a JSON object"

_Client = anthropic.AsyncAnthropic | anthropic.AsyncAnthropicVertex


def _google_auth() -> Any:
    """`google.auth` with its `exceptions`, or None: the optional `anthropic[vertex]` extra."""
    try:
        import google.auth
        import google.auth.exceptions
    except ImportError:
        return None
    return google.auth


def _google_auth_errors() -> tuple[type[Exception], ...]:
    google_auth = _google_auth()
    return () if google_auth is None else (google_auth.exceptions.GoogleAuthError,)


# Raised while the Vertex client gets or refreshes a token from Application Default Credentials.
_GOOGLE_AUTH_ERRORS = _google_auth_errors()


class AnthropicProvider(Provider):
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
    _client: _Client | None = None
    _errors: ClassVar[tuple[type[Exception], ...]] = _SDK_ERRORS

    def _make_client(self) -> _Client:
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

    def _get_client(self) -> _Client:
        if self._client is None:
            try:
                self._client = self._make_client()
            except (anthropic.AnthropicError, ValueError) as exc:
                raise _provider_error(exc, self.name) from exc
        return self._client

    async def chat(self, request: LLMRequest) -> LLMResponse:
        client = self._get_client()
        try:
            reply = await client.messages.create(**self._params(request))
        except self._errors as exc:
            raise _provider_error(exc, self.name) from exc
        return self._response(reply)

    async def chat_stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        client = self._get_client()
        reply = _Accumulator()
        try:
            stream = await client.messages.create(**self._params(request), stream=True)
            async with stream:
                async for event in stream:
                    if text := reply.add(event):
                        yield StreamChunk(text=text)
        except self._errors as exc:
            raise _provider_error(exc, self.name) from exc
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
            usage=_usage(reply.usage),
            finish_reason=_FINISH_REASONS.get(reply.stop_reason, reply.stop_reason),
        )
        yield StreamChunk(response=response)

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()

    # --- our format -> request ------------------------------------------------------------

    def _params(self, request: LLMRequest) -> dict[str, Any]:
        system, messages = _messages(request.messages)
        params: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.sampling.max_tokens or self.settings.default_max_tokens,
            "messages": messages,
        }
        if system:
            params["system"] = system
        if request.tools:
            params["tools"] = [_tool(t.name, t.description, t.parameters) for t in request.tools]
        sampling = request.sampling
        if sampling.stop:
            params["stop_sequences"] = sampling.stop
        extra = {k: v for k in ("temperature", "top_p") if (v := getattr(sampling, k)) is not None}
        if extra:
            params["extra_body"] = extra
        if (output_format := _output_format(sampling.response_format)) is not None:
            params["output_config"] = {"format": output_format}
        return params

    # --- replies -> our format ------------------------------------------------------------

    def _response(self, reply: Reply) -> LLMResponse:
        content = reply.content if isinstance(reply, Reply) else None
        if not isinstance(content, list):
            raise self._malformed("the reply has no content")
        self._check_refusal(reply.stop_reason, reply.stop_details)
        texts: list[str] = []
        calls: list[ToolCall] = []
        for block in content:
            if block.type == "text" and isinstance(getattr(block, "text", None), str):
                texts.append(getattr(block, "text", ""))
            elif block.type == "tool_use":
                raw = getattr(block, "input", None)
                arguments = (raw, None) if isinstance(raw, dict) else ({}, _NOT_AN_OBJECT)
                calls.append(
                    self._tool_call(getattr(block, "id", ""), getattr(block, "name", ""), arguments)
                )
            else:
                logger.debug("%s: ignoring a %r content block", self.name, block.type)
        stop_reason = reply.stop_reason
        return LLMResponse(
            message=Message(role="assistant", content="".join(texts) or None, tool_calls=calls),
            usage=_usage(_counts(reply.usage)),
            finish_reason=_FINISH_REASONS.get(stop_reason, stop_reason) if stop_reason else None,
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


class AnthropicVertexProvider(AnthropicProvider):
    """Claude on Google Vertex AI (`rawPredict` / `streamRawPredict`, the model in the URL and
    `anthropic_version` in the body, both done by the SDK); config as `VertexAISettings`:
    `project_id`, `location`, `access_token_env` (else Google Application Default
    Credentials), `base_url`, `timeout`, `default_max_tokens`."""

    name = "vertexai-claude"
    # Vertex AI also names the 4.5 models with their date after an `@`.
    supported_models = (
        *AnthropicProvider.supported_models,
        "claude-opus-4-5@20251101",
        "claude-sonnet-4-5@20250929",
        "claude-haiku-4-5@20251001",
    )
    settings_model = VertexAISettings
    settings: VertexAISettings
    _errors = (*_SDK_ERRORS, *_GOOGLE_AUTH_ERRORS)
    _credentials_found = False

    def check(self) -> None:
        super().check()
        settings, where = self.settings, f"provider {self.config.name!r}"
        for key in ("project_id", "location"):
            if not getattr(settings, key):
                raise ProviderNotConfiguredError(
                    f"{where}: config.{key} is required for Claude on Vertex AI"
                )
        if token_env := settings.access_token_env:
            if not os.environ.get(token_env):
                raise ProviderNotConfiguredError(
                    f"{where}: environment variable {token_env} (access_token_env) is not set "
                    "on this server"
                )
            return
        if self._credentials_found:
            return
        # The lookup may probe the GCE metadata server, so a success is not repeated.
        google_auth = _google_auth()
        if google_auth is None:
            raise ProviderNotConfiguredError(
                f"{where}: no access_token_env, and google-auth is not installed for "
                "Application Default Credentials (pip install 'anthropic[vertex]')"
            )
        try:
            google_auth.default()
        except google_auth.exceptions.GoogleAuthError as exc:
            raise ProviderNotConfiguredError(
                f"{where}: no access_token_env and no Google Application Default Credentials: {exc}"
            ) from exc
        self._credentials_found = True

    def _make_client(self) -> _Client:
        settings = self.settings
        if not settings.project_id or not settings.location:
            raise ProviderError(
                f"{self.name}: config.project_id and config.location are required",
                retryable=False,
            )
        token = None  # the SDK then uses Application Default Credentials
        if token_env := settings.access_token_env:
            token = os.environ.get(token_env)
            if not token:
                raise ProviderError(
                    f"{self.name}: environment variable {token_env} is not set", retryable=False
                )
        # `base_url` is the Vertex AI endpoint root, shared with Gemini (whose SDK adds its own
        # API version); Anthropic's Vertex client wants the version in it.
        base_url = settings.base_url
        if base_url and not base_url.rstrip("/").endswith("/v1"):
            base_url = f"{base_url.rstrip('/')}/v1"
        return anthropic.AsyncAnthropicVertex(
            project_id=settings.project_id,
            region=settings.location,
            base_url=base_url,
            access_token=token,
            timeout=settings.timeout,
            max_retries=0,
        )


@dataclass
class _Block:
    kind: str
    id: str = ""
    name: str = ""
    parts: list[str] = field(default_factory=list)


@dataclass
class _Accumulator:
    """The streamed reply so far: content blocks by index, stop reason, usage counts."""

    blocks: dict[int, _Block] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=dict)
    stop_reason: str | None = None
    refusal: object = None
    stopped: bool = False

    def add(self, event: RawMessageStreamEvent) -> str:
        """Take one stream event; return its text delta ("" if none)."""
        # The SDK builds unknown event types as the first model of its union, so test `type`.
        if event.type == "message_start" and isinstance(event, RawMessageStartEvent):
            self._count(getattr(event.message, "usage", None))
        elif event.type == "content_block_start" and isinstance(event, RawContentBlockStartEvent):
            block = event.content_block
            self.blocks[event.index] = _Block(
                kind=block.type, id=getattr(block, "id", ""), name=getattr(block, "name", "")
            )
            text = getattr(block, "text", None) if block.type == "text" else None
            if isinstance(text, str) and text:
                self.blocks[event.index].parts.append(text)
                return text
        elif event.type == "content_block_delta" and isinstance(event, RawContentBlockDeltaEvent):
            delta = event.delta
            if delta.type == "text_delta":
                text = getattr(delta, "text", None) or ""
                self.blocks.setdefault(event.index, _Block("text")).parts.append(text)
                return text
            if delta.type == "input_json_delta":
                piece = getattr(delta, "partial_json", None) or ""
                self.blocks.setdefault(event.index, _Block("tool_use")).parts.append(piece)
        elif event.type == "message_delta" and isinstance(event, RawMessageDeltaEvent):
            self.stop_reason = event.delta.stop_reason or self.stop_reason
            self.refusal = event.delta.stop_details or self.refusal
            self._count(event.usage)
        elif event.type == "message_stop":
            self.stopped = True
        return ""

    def _count(self, usage: object) -> None:
        # Counts are cumulative: a later event's count replaces an earlier one.
        self.usage |= _counts(usage)


# --- our format -> request -----------------------------------------------------------------


def _messages(messages: list[Message]) -> tuple[str, list[MessageParam]]:
    """The `system` text and the `messages` list for the request."""
    system: list[str] = []
    out: list[MessageParam] = []
    results: list[ToolResultBlockParam] = []
    for message in messages:
        if message.role == "tool":
            results.append(_tool_result(message))
            continue
        if results:
            out.append({"role": "user", "content": results})
            results = []
        text = message.content if message.content and message.content.strip() else None
        if message.role == "system" and text:
            system.append(text)
        elif message.role == "user" and text:
            out.append({"role": "user", "content": text})
        elif message.role == "assistant" and (text or message.tool_calls):
            blocks: list[Any] = [{"type": "text", "text": text}] if text else []
            blocks += [
                {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
                for c in message.tool_calls
            ]
            out.append({"role": "assistant", "content": blocks})
    if results:
        out.append({"role": "user", "content": results})
    return "\n\n".join(system), out


def _tool_result(message: Message) -> ToolResultBlockParam:
    block: ToolResultBlockParam = {"type": "tool_result", "tool_use_id": message.tool_call_id or ""}
    if message.content and message.content.strip():
        block["content"] = message.content
    if message.is_error:
        block["is_error"] = True
    return block


def _tool(name: str, description: str, parameters: dict[str, Any]) -> ToolParam:
    tool: ToolParam = {"name": name, "input_schema": parameters or _EMPTY_SCHEMA}
    if description:
        tool["description"] = description
    return tool


def _output_format(response_format: dict[str, Any] | None) -> dict[str, Any] | None:
    kind = (response_format or {}).get("type")
    if response_format is None or kind in (None, "text"):
        return None
    if kind == "json_schema":
        inner = response_format.get("json_schema")
        schema = inner.get("schema") if isinstance(inner, dict) else response_format.get("schema")
        if isinstance(schema, dict):
            return {"type": "json_schema", "schema": schema}
    logger.debug("anthropic: response_format %r has no Messages API equivalent; ignored", kind)
    return None


def _counts(usage: object) -> dict[str, int]:
    """The token counts an SDK usage object has."""
    values = {key: getattr(usage, key, None) for key in _USAGE_KEYS}
    return {key: value for key, value in values.items() if isinstance(value, int)}


def _usage(counts: dict[str, int]) -> Usage:
    """Anthropic's `input_tokens` leave out the prompt tokens read from or written to the
    cache; our `prompt_tokens` count them all."""
    cache_read = counts.get("cache_read_input_tokens") or 0
    cache_creation = counts.get("cache_creation_input_tokens") or 0
    prompt = (counts.get("input_tokens") or 0) + cache_read + cache_creation
    completion = counts.get("output_tokens") or 0
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        cache_read_tokens=cache_read,
        cache_creation_tokens=cache_creation,
    )


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
    if isinstance(exc, _GOOGLE_AUTH_ERRORS):
        # A token endpoint that failed for the moment says so with `retryable`.
        return ProviderError(
            f"{provider}: Google credentials: {str(exc)[:300]}",
            retryable=bool(getattr(exc, "retryable", False)),
        )
    return ProviderError(f"{provider}: {str(exc)[:300]}", retryable=False)


def _error_message(exc: anthropic.APIStatusError) -> str:
    """`error.message` of the body (Anthropic's and Google's error format agree on it)."""
    if isinstance(exc.api_message, str) and exc.api_message:
        return exc.api_message
    if isinstance(exc.body, str) and exc.body.strip():
        return exc.body.strip()[:500]
    return exc.response.reason_phrase
