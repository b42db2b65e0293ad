"""Gemini on the official `google-genai` SDK: the Gemini Developer API (`GeminiProvider`; Gemini
on Vertex AI, `vertex.py`, reuses it).

The SDK never retries (`HttpRetryOptions(attempts=1)`, no automatic continuation) and never
calls a tool itself (automatic function calling off): Temporal owns retries, the workflow owns
tools. Gemini may send function calls without ids; we then derive ids from the response id
(or, lacking one, the conversation), so the same reply always gets the same ids while the turns
of a conversation never share one (HTTP tools use the id as an idempotency key), and send them
back as no id at all. A turn that holds thought signatures is kept whole and goes back as it
came to the model that wrote it (`gemini_thinking.py`); any other model turn is rebuilt from
our message, its first call carrying Google's documented `skip_thought_signature_validator`
placeholder, which Gemini 3 accepts where a turn has no signature of its own.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import google.auth
import google.auth.exceptions
from google import genai
from google.genai import types

from ..errors import ProviderError, ProviderNotConfiguredError
from .base import Provider
from .gemini_errors import SDK_ERRORS, provider_error
from .gemini_thinking import KIND, Turn, model_content, thinking_config, tool_config
from .messages import LLMRequest, LLMResponse, Message, NativeTurn, StreamChunk, ToolCall, Usage
from .settings import GeminiSettings, ProviderSettings, VertexAISettings

__all__ = ["GeminiProvider"]

_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}
_SKIP_SIGNATURE = b"skip_thought_signature_validator"
_LOCAL_ID = re.compile(r"^gcall_[0-9a-f]{16}_\d+$")
# Finish reasons that mean "the output was withheld": asking again gets the same answer.
_REFUSED = frozenset(
    "SAFETY PROHIBITED_CONTENT BLOCKLIST RECITATION SPII LANGUAGE IMAGE_SAFETY "
    "IMAGE_PROHIBITED_CONTENT IMAGE_RECITATION MODEL_ARMOR JAILBREAK".split()
)
# Finish reasons of a bad sample: another attempt is likely to do better.
_BAD_SAMPLE = frozenset({"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "MALFORMED_RESPONSE"})


class GeminiProvider(Provider[genai.Client]):
    """The Gemini Developer API; `api_key_env` names the key's variable; config keys
    `base_url`, `api_version`, `timeout` (`GeminiSettings`)."""

    name = "gemini"
    supported_models = tuple(
        "gemini-4-argon gemini-3.8-flash gemini-3.7-flash gemini-3.6-flash gemini-3.5-flash "
        "gemini-3.5-flash-lite gemini-3.1-pro-preview gemini-3.1-flash-lite "
        "gemini-3-flash-preview gemini-2.5-pro gemini-2.5-flash gemini-2.5-flash-lite".split()
    )

    settings_model: ClassVar[type[ProviderSettings]] = GeminiSettings
    settings: GeminiSettings | VertexAISettings

    def check(self) -> None:
        if not self.config.api_key_env:
            raise ProviderNotConfiguredError(
                f"provider {self.config.name!r}: set api_key_env to the environment variable "
                "that holds the Gemini API key"
            )
        super().check()

    def _make_client(self) -> genai.Client:
        """Build the SDK client; `VertexGeminiProvider` overrides this."""
        key = self.config.api_key()
        if not key:
            raise ProviderError(f"{self.name}: no API key (see api_key_env)", retryable=False)
        return genai.Client(vertexai=False, api_key=key, http_options=self._http_options())

    def _http_options(self) -> types.HttpOptions:
        settings = self.settings
        return types.HttpOptions(
            base_url=settings.base_url,
            api_version=settings.api_version,
            timeout=max(1, round(settings.timeout * 1000)),  # milliseconds
            retry_options=types.HttpRetryOptions(attempts=1),
        )

    def _client_error(self, exc: Exception) -> ProviderError | None:
        if isinstance(exc, ValueError | google.auth.exceptions.GoogleAuthError):
            return ProviderError(f"{self.name}: {exc}", retryable=False)
        return None

    async def chat(self, request: LLMRequest) -> LLMResponse:
        client = self._sdk()
        contents, config = self._params(request)
        reply = _Accumulator()
        try:
            reply.add(
                await client.aio.models.generate_content(
                    model=request.model, contents=contents, config=config
                )
            )
        except SDK_ERRORS as exc:
            raise provider_error(exc, self.name) from exc
        return reply.response(self.name, request, stream=False)

    async def chat_stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        client = self._sdk()
        contents, config = self._params(request)
        reply = _Accumulator()
        try:
            stream = await client.aio.models.generate_content_stream(
                model=request.model, contents=contents, config=config
            )
            try:
                async for chunk in stream:
                    text, thought = reply.add(chunk)
                    if text or thought:
                        yield StreamChunk(text=text, reasoning=thought)
            finally:
                if close := getattr(stream, "aclose", None):
                    await close()
        except SDK_ERRORS as exc:
            raise provider_error(exc, self.name) from exc
        yield StreamChunk(response=reply.response(self.name, request, stream=True))

    async def _close_client(self, client: genai.Client) -> None:
        await client.aio.aclose()
        client.close()

    # --- our format -> request ------------------------------------------------------------

    def _params(
        self, request: LLMRequest
    ) -> tuple[list[types.Content], types.GenerateContentConfig]:
        system = [
            types.Part(text=m.content) for m in request.messages if m.role == "system" and m.content
        ]
        sampling = request.sampling
        config = types.GenerateContentConfig(
            system_instruction=types.Content(parts=system) if system else None,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            max_output_tokens=sampling.max_tokens,
            stop_sequences=sampling.stop or None,
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
            automatic_continuation=False,
            **self._response_format(sampling.response_format),
        )
        if request.tools:
            declarations = [
                types.FunctionDeclaration(
                    name=t.name,
                    description=t.description or None,
                    parameters_json_schema=t.parameters or _EMPTY_SCHEMA,
                )
                for t in request.tools
            ]
            config.tools = [types.Tool(function_declarations=declarations)]
            config.tool_config = tool_config(sampling)
        config.thinking_config = thinking_config(request.model, sampling)
        return self._contents(request), config

    def _contents(self, request: LLMRequest) -> list[types.Content]:
        messages = request.messages
        names = {call.id: call.name for m in messages for call in m.tool_calls}
        contents: list[types.Content] = []
        results: types.Content | None = None  # the turn of tool results being merged, if any
        for message in messages:
            if message.role != "tool":
                results = None
            if message.role == "user":
                contents.append(
                    types.Content(role="user", parts=[types.Part(text=message.content or "")])
                )
            elif message.role == "assistant" and (native := request.native(message, KIND)):
                contents.append(model_content(native))
            elif message.role == "assistant":
                parts = [types.Part(text=message.content)] if message.content else []
                for index, call in enumerate(message.tool_calls):
                    function_call = types.FunctionCall(
                        id=_wire_id(call.id), name=call.name, args=call.arguments
                    )
                    signature = _SKIP_SIGNATURE if index == 0 else None
                    parts.append(
                        types.Part(function_call=function_call, thought_signature=signature)
                    )
                if parts:
                    contents.append(types.Content(role="model", parts=parts))
            elif message.role == "tool":
                name = message.name or names.get(message.tool_call_id or "")
                if not name:
                    raise ProviderError(
                        f"{self.name}: a tool result without the tool's name", retryable=False
                    )
                response = {"error" if message.is_error else "output": message.content or ""}
                part = types.Part(
                    function_response=types.FunctionResponse(
                        id=_wire_id(message.tool_call_id), name=name, response=response
                    )
                )
                if results is None:  # consecutive results are one user turn for Gemini
                    results = types.Content(role="user", parts=[])
                    contents.append(results)
                results.parts = [*(results.parts or []), part]
        return contents

    def _response_format(self, spec: dict[str, Any] | None) -> dict[str, Any]:
        kind = (spec or {}).get("type", "text")
        if spec is None or kind == "text":
            return {}
        if kind == "json_object":
            return {"response_mime_type": "application/json"}
        if kind == "json_schema":
            inner = spec.get("json_schema")
            schema = inner.get("schema") if isinstance(inner, dict) else spec.get("schema")
            if isinstance(schema, dict):
                return {"response_mime_type": "application/json", "response_json_schema": schema}
            raise ProviderError(
                f"{self.name}: response_format json_schema needs json_schema.schema",
                retryable=False,
            )
        raise ProviderError(f"{self.name}: unsupported response_format {kind!r}", retryable=False)


# --- replies -> our format ------------------------------------------------------------------


@dataclass
class _Accumulator:
    """The reply so far (one JSON reply, or the chunks of a stream)."""

    text: list[str] = field(default_factory=list)
    calls: list[types.FunctionCall] = field(default_factory=list)
    turn: Turn = field(default_factory=Turn)
    finish_reason: str | None = None
    finish_message: str | None = None
    block_reason: str | None = None
    response_id: str | None = None
    usage: Usage = field(default_factory=Usage.unknown)  # until a reply has usage_metadata
    chunks: int = 0
    candidates: int = 0

    def add(self, reply: types.GenerateContentResponse) -> tuple[str, str]:
        """Take one reply or chunk; return its answer text and its thought text ("" if none)."""
        self.chunks += 1
        self.response_id = self.response_id or reply.response_id
        if reply.usage_metadata:
            self.usage = _usage(reply.usage_metadata)
        if reply.prompt_feedback and reply.prompt_feedback.block_reason:
            self.block_reason = _value(reply.prompt_feedback.block_reason)
        if not reply.candidates:
            return "", ""
        self.candidates += 1
        candidate = reply.candidates[0]
        if candidate.finish_reason:
            self.finish_reason = _value(candidate.finish_reason)
            self.finish_message = candidate.finish_message
        text, thoughts = [], []
        for part in (candidate.content.parts if candidate.content else None) or []:
            self.turn.add(part)
            if part.function_call:
                self.calls.append(part.function_call)
            elif part.text and part.thought:
                thoughts.append(part.text)
            elif part.text:
                text.append(part.text)
        self.text += text
        return "".join(text), "".join(thoughts)

    def response(self, provider: str, request: LLMRequest, *, stream: bool) -> LLMResponse:
        """The whole reply, or the error it amounts to."""
        if self.block_reason:
            raise ProviderError(
                f"{provider}: content refused: the prompt was blocked ({self.block_reason})",
                retryable=False,
            )
        if stream and (not self.chunks or (self.candidates and self.finish_reason is None)):
            raise ProviderError(
                f"{provider}: stream ended before the model finished", retryable=True
            )
        if not self.candidates:
            raise ProviderError(f"{provider}: malformed reply: no candidates", retryable=False)
        reason = self.finish_reason or "STOP"
        detail = f": {self.finish_message}" if self.finish_message else ""
        if reason in _REFUSED:
            raise ProviderError(f"{provider}: content refused: {reason}{detail}", retryable=False)
        if reason in _BAD_SAMPLE:
            raise ProviderError(f"{provider}: unusable reply: {reason}{detail}", retryable=True)
        seed = self.response_id or request.model_dump_json()
        digest = hashlib.sha256(seed.encode()).hexdigest()[:16]
        calls: list[ToolCall] = []
        for index, call in enumerate(self.calls):
            if not call.name:
                raise ProviderError(
                    f"{provider}: malformed reply: a function call without a name",
                    retryable=False,
                )
            call_id = call.id or f"gcall_{digest}_{index}"
            calls.append(ToolCall(id=call_id, name=call.name, arguments=call.args or {}))
        if reason in ("MAX_TOKENS", "CONTINUATION"):
            finish = "length"
        else:
            finish = "tool_calls" if calls else reason.lower()
        message = Message(role="assistant", content="".join(self.text) or None, tool_calls=calls)
        native = self.turn.native()
        return LLMResponse(
            message=message,
            usage=self.usage,
            finish_reason=finish,
            native=NativeTurn(kind=KIND, items=native) if native is not None else None,
        )


def _wire_id(call_id: str | None) -> str | None:
    """The id to send back: Gemini's own, not one we made up for it."""
    return None if not call_id or _LOCAL_ID.match(call_id) else call_id


def _value(enum: Any) -> str:
    return str(getattr(enum, "value", enum))


def _usage(usage: types.GenerateContentResponseUsageMetadata) -> Usage:
    prompt = (usage.prompt_token_count or 0) + (usage.tool_use_prompt_token_count or 0)
    completion = (usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=usage.total_token_count or prompt + completion,
        cache_read_tokens=usage.cached_content_token_count or 0,
    )
