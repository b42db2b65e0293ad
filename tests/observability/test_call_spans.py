"""The LLM and tool watches' spans, with the real OpenTelemetry SDK exporting to memory (a
tracer provider of the test's own, not the process-wide one: the rest of the suite stays
untraced), with and without `observability.capture_content`; and what "tracing off" means."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from opentelemetry.instrumentation.httpx import AsyncOpenTelemetryTransport, HTTPXClientInstrumentor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from temporal_executor.errors import ProviderError
from temporal_executor.llm.messages import LLMRequest, LLMResponse, Message, ToolCall, Usage
from temporal_executor.observability import LLMCallWatch, ToolCallWatch, interceptors, tracing
from temporal_executor.spec import ModelChoice, ToolSpec

PROMPT = "the secret plan for Tuesday"
ANSWER = "stay home"
MODEL = ModelChoice(provider="anthropic", model="claude-x", temperature=0.3)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    state = tracing._state
    saved = state.tracer, state.capture_content
    state.tracer = provider.get_tracer("test")
    try:
        yield exporter
    finally:
        state.tracer, state.capture_content = saved


def _llm_call(fail: bool = False) -> None:
    request = LLMRequest(model=MODEL.model, messages=[Message(role="user", content=PROMPT)])
    watch = LLMCallWatch(MODEL, task_id="t-1", session_id="s-1")
    with watch:
        watch.sent(request)
        if fail:
            raise ProviderError("overloaded", retryable=True)
        watch.answered(
            LLMResponse(
                message=Message(role="assistant", content=ANSWER),
                usage=Usage(
                    prompt_tokens=7, completion_tokens=3, total_tokens=10, cache_read_tokens=2
                ),
                finish_reason="stop",
            )
        )


def _tool_call() -> None:
    spec = ToolSpec(name="lookup", type="http", config={"endpoint": "http://x"})
    with ToolCallWatch(
        spec, ToolCall(id="c-1", name="lookup", arguments={"q": PROMPT}), task_id="t-1"
    ) as watch:
        watch.returned(ANSWER)


def _one(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    (span,) = [s for s in exporter.get_finished_spans() if s.name == name]
    return span


def test_llm_span_has_the_gen_ai_attributes_and_no_content(
    spans: InMemorySpanExporter,
) -> None:
    tracing._state.capture_content = False
    _llm_call()
    span = _one(spans, "chat claude-x")
    assert span.kind == SpanKind.CLIENT
    assert dict(span.attributes or {}) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.system": "anthropic",
        "gen_ai.request.model": "claude-x",
        "gen_ai.request.temperature": 0.3,
        "gen_ai.conversation.id": "s-1",
        "executor.task_id": "t-1",
        "gen_ai.usage.input_tokens": 7,
        "gen_ai.usage.output_tokens": 3,
        "gen_ai.usage.cache_read.input_tokens": 2,  # (no cache writes reported: none)
        "gen_ai.response.finish_reasons": ("stop",),
    }
    _tool_call()
    tool = _one(spans, "execute_tool lookup")
    assert tool.attributes is not None and tool.attributes["gen_ai.tool.name"] == "lookup"
    assert "gen_ai.tool.call.arguments" not in tool.attributes
    assert "gen_ai.tool.call.result" not in tool.attributes


def test_capture_content_puts_prompts_and_answers_on_spans(spans: InMemorySpanExporter) -> None:
    tracing._state.capture_content = True
    _llm_call()
    _tool_call()
    llm = _one(spans, "chat claude-x").attributes or {}
    assert PROMPT in str(llm["gen_ai.input.messages"])
    assert ANSWER in str(llm["gen_ai.output.messages"])
    tool = _one(spans, "execute_tool lookup").attributes or {}
    assert PROMPT in str(tool["gen_ai.tool.call.arguments"])
    assert tool["gen_ai.tool.call.result"] == ANSWER


def test_a_failed_call_is_an_error_span(spans: InMemorySpanExporter) -> None:
    with pytest.raises(ProviderError):
        _llm_call(fail=True)
    span = _one(spans, "chat claude-x")
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes is not None and span.attributes["error.type"] == "llm_error"


def test_tracing_is_off_unless_the_environment_asks() -> None:
    wanted = tracing.tracing_wanted
    assert not wanted({})
    assert wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert wanted({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"})
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
    assert not wanted({**endpoint, "OTEL_SDK_DISABLED": "true"})
    assert not wanted({**endpoint, "OTEL_TRACES_EXPORTER": "none"})
    # This process never set tracing up: nothing is installed, no span is made.
    assert tracing.tracer() is None and list(interceptors()) == []
    assert not HTTPXClientInstrumentor().is_instrumented_by_opentelemetry


@pytest.mark.parametrize("capture", [False, True])
async def test_an_http_spans_query_values_are_content(capture: bool) -> None:
    """An HTTP tool called with GET sends its arguments in the query: the client span (the
    real httpx instrumentation, with the hooks `setup_tracing` installs) keeps the names only,
    unless content is captured."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    transport = AsyncOpenTelemetryTransport(
        httpx.MockTransport(lambda request: httpx.Response(200, json={})),
        tracer_provider=provider,
        request_hook=tracing.async_redact_query,
    )
    saved = tracing._state.capture_content
    tracing._state.capture_content = capture
    try:
        async with httpx.AsyncClient(transport=transport) as client:
            await client.get("http://tool.test/weather", params={"city": PROMPT, "n": "2"})
    finally:
        tracing._state.capture_content = saved
    (span,) = exporter.get_finished_spans()
    attributes = span.attributes or {}
    url = attributes.get("url.full") or attributes["http.url"]
    if capture:
        assert url == "http://tool.test/weather?city=the+secret+plan+for+Tuesday&n=2"
    else:
        assert url == "http://tool.test/weather?city=REDACTED&n=REDACTED"
