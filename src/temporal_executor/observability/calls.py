"""LLM and tool calls as the activities make them: their metrics, their GenAI span (when
tracing is on) and a log line when one fails, in one place each.

`LLMCallWatch` and `ToolCallWatch` are context managers around the call itself (not around
a kept result being returned again). Their outcome comes from how the block ends: normally
`ok`; with an error that Temporal retries `retryable_error`; with one that it does not (or a
tool error that goes to the LLM as its result) `error`; cancelled `cancelled`.

Spans follow the GenAI semantic conventions: `chat {model}` (client) with
`gen_ai.operation.name`, `gen_ai.provider.name` (and the older `gen_ai.system`),
`gen_ai.request.*`, `gen_ai.usage.input_tokens` / `output_tokens` (and
`gen_ai.usage.cache_read.input_tokens` / `cache_creation.input_tokens`, part of the input),
`gen_ai.response.finish_reasons`, `gen_ai.conversation.id` (the session); `execute_tool
{tool}` with `gen_ai.tool.name` and `gen_ai.tool.call.id`. Prompts, answers, arguments and
results only with `observability.capture_content`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from types import TracebackType
from typing import Any, Self

from opentelemetry import context, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from ..errors import ExecutorError
from ..llm.messages import LLMRequest, LLMResponse, Message, ToolCall
from ..spec import ModelChoice, ToolSpec
from . import series
from .logs import bind, unbind
from .tracing import capture_content, gen_ai_provider, tracer

__all__ = ["LLMCallWatch", "ToolCallWatch", "outcome_of"]

logger = logging.getLogger(__name__)


def outcome_of(exc: BaseException | None) -> str:
    """`ok`, `retryable_error`, `error` or `cancelled` for a call that ended with `exc`."""
    if exc is None:
        return "ok"
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    if isinstance(exc, ExecutorError):
        return "retryable_error" if exc.retryable else "error"
    return "retryable_error"  # anything unforeseen: Temporal retries it


class _Watch:
    """What both watches share: the clock, the span made current, the log fields."""

    def __init__(self, name: str, kind: SpanKind, attributes: dict[str, Any], **fields: Any):
        self._name, self._kind, self._attributes = name, kind, attributes
        self._fields = fields
        self._span: trace.Span | None = None
        self._token: object = None
        self._log_token: Any = None
        self.started = 0.0

    def __enter__(self) -> Self:
        self._log_token = bind(**self._fields)
        active = tracer()
        if active is not None:
            self._span = active.start_span(self._name, kind=self._kind, attributes=self._attributes)
            self._token = context.attach(trace.set_span_in_context(self._span))
        self.started = time.perf_counter()
        return self

    def _close(self, exc: BaseException | None, outcome: str) -> None:
        span = self._span
        if span is not None:
            if outcome != "ok":
                span.set_attribute("error.type", getattr(exc, "code", type(exc).__name__))
                span.set_status(Status(StatusCode.ERROR, str(exc)[:200]))
            span.end()
            context.detach(self._token)  # type: ignore[arg-type]
        unbind(self._log_token)

    def _set(self, key: str, value: Any) -> None:
        if self._span is not None:
            self._span.set_attribute(key, value)


class LLMCallWatch(_Watch):
    """One LLM call (one attempt) of `model` for task `task_id` in session `session_id`."""

    def __init__(self, model: ModelChoice, *, task_id: str, session_id: str) -> None:
        self.provider, self.model = model.provider, series.MODELS(model.model)
        name = gen_ai_provider(model.provider)
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": name,
            "gen_ai.system": name,
            "gen_ai.request.model": model.model,
            "gen_ai.conversation.id": session_id,
            "executor.task_id": task_id,
        }
        for key in ("temperature", "max_tokens", "top_p"):
            if (value := getattr(model, key)) is not None:
                attributes[f"gen_ai.request.{key}"] = value
        super().__init__(
            f"chat {model.model}",
            SpanKind.CLIENT,
            attributes,
            task_id=task_id,
            session_id=session_id,
        )
        self.first_text_at: float | None = None
        self._refused: str | None = None

    def refused(self, limit: str) -> None:
        """No call is made: no capacity under the shared limit `limit` (the span says so;
        the call's metrics count only calls made)."""
        self._refused = limit
        self._set("executor.waiting_for_capacity", limit)

    def sent(self, request: LLMRequest) -> None:
        """The request is being sent: the call's latency counts from here (not from reading
        the transcript); its messages go on the span with `capture_content`."""
        self.started = time.perf_counter()
        if self._span is not None and capture_content():
            self._set("gen_ai.input.messages", _messages_json(request.messages))

    def first_text(self) -> None:
        """Text has arrived (time to first token, for streaming calls)."""
        if self.first_text_at is None:
            self.first_text_at = time.perf_counter()

    def answered(self, response: LLMResponse) -> None:
        usage = response.usage
        if usage.unreported:
            series.LLM_USAGE_UNREPORTED.labels(self.provider, self.model).inc()
        elif not usage.unpriced:
            series.LLM_COST.labels(self.provider, self.model).inc(usage.cost)
        tokens = series.LLM_TOKENS
        if usage.prompt_tokens:
            tokens.labels(self.provider, self.model, "input").inc(usage.prompt_tokens)
        if usage.completion_tokens:
            tokens.labels(self.provider, self.model, "output").inc(usage.completion_tokens)
        cached = series.LLM_CACHED_TOKENS
        if usage.cache_read_tokens:
            cached.labels(self.provider, self.model, "read").inc(usage.cache_read_tokens)
        if usage.cache_creation_tokens:
            cached.labels(self.provider, self.model, "write").inc(usage.cache_creation_tokens)
        if self._span is not None:
            if not usage.unreported:  # (unknown: no attribute, rather than 0)
                self._set("gen_ai.usage.input_tokens", usage.prompt_tokens)
                self._set("gen_ai.usage.output_tokens", usage.completion_tokens)
            if usage.cache_read_tokens:
                self._set("gen_ai.usage.cache_read.input_tokens", usage.cache_read_tokens)
            if usage.cache_creation_tokens:
                self._set("gen_ai.usage.cache_creation.input_tokens", usage.cache_creation_tokens)
            if response.finish_reason:
                self._set("gen_ai.response.finish_reasons", [response.finish_reason])
            if capture_content():
                output = [{**_message(response.message), "finish_reason": response.finish_reason}]
                self._set("gen_ai.output.messages", json.dumps(output, ensure_ascii=False))

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        elapsed = time.perf_counter() - self.started
        outcome = outcome_of(exc)
        if self._refused is not None:
            self._close(None, "ok")
            return
        series.LLM_CALLS.labels(self.provider, self.model, outcome).inc()
        if outcome == "ok":
            series.LLM_SECONDS.labels(self.provider, self.model).observe(elapsed)
            if self.first_text_at is not None:
                ttft = self.first_text_at - self.started
                series.LLM_TTFT_SECONDS.labels(self.provider, self.model).observe(ttft)
        elif outcome != "cancelled":
            logger.warning(
                "LLM call %s/%s failed (%s) after %.2fs: %s",
                self.provider, self.model, outcome, elapsed, _reason(exc),
            )  # fmt: skip
        self._close(exc, outcome)


class ToolCallWatch(_Watch):
    """One call (one attempt) of the tool `spec` for task `task_id`."""

    def __init__(self, spec: ToolSpec, call: ToolCall, *, task_id: str) -> None:
        self.tool, self.type = series.TOOLS(spec.name), spec.type
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": spec.name,
            "gen_ai.tool.call.id": call.id,
            "executor.tool.type": spec.type,
            "executor.task_id": task_id,
        }
        if capture_content():
            attributes["gen_ai.tool.call.arguments"] = json.dumps(call.arguments)
        name = f"execute_tool {spec.name}"
        super().__init__(name, SpanKind.INTERNAL, attributes, task_id=task_id)

    def returned(self, content: str) -> None:
        if self._span is not None and capture_content():
            self._set("gen_ai.tool.call.result", content)

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        elapsed = time.perf_counter() - self.started
        outcome = outcome_of(exc)
        series.TOOL_CALLS.labels(self.tool, self.type, outcome).inc()
        series.TOOL_SECONDS.labels(self.tool, self.type).observe(elapsed)
        if outcome not in ("ok", "cancelled"):
            logger.warning(
                "tool %s (%s) failed (%s) after %.2fs: %s",
                self.tool, self.type, outcome, elapsed, _reason(exc),
            )  # fmt: skip
        self._close(exc, outcome)


def _reason(exc: BaseException | None) -> str:
    return exc.message if isinstance(exc, ExecutorError) else repr(exc)


def _message(message: Message) -> dict[str, Any]:
    """A message as the GenAI conventions' `gen_ai.*.messages` write it."""
    parts: list[dict[str, Any]] = []
    if message.role == "tool":
        parts.append(
            {"type": "tool_call_response", "id": message.tool_call_id, "response": message.content}
        )
    elif message.content is not None:
        parts.append({"type": "text", "content": message.content})
    for call in message.tool_calls:
        parts.append(
            {"type": "tool_call", "id": call.id, "name": call.name, "arguments": call.arguments}
        )
    return {"role": message.role, "parts": parts}


def _messages_json(messages: list[Message]) -> str:
    return json.dumps([_message(m) for m in messages], ensure_ascii=False)
