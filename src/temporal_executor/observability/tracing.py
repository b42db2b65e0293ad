"""Tracing with OpenTelemetry, configured by the standard `OTEL_*` variables.

Tracing is on when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set
(and neither `OTEL_SDK_DISABLED=true` nor `OTEL_TRACES_EXPORTER=none`): spans go over OTLP,
http/protobuf unless `OTEL_EXPORTER_OTLP[_TRACES]_PROTOCOL=grpc`; `OTEL_SERVICE_NAME`,
`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`, `OTEL_BSP_*` and the exporter's headers,
timeout and certificate variables mean what the SDK says.

What is traced then: HTTP requests (FastAPI's own telemetry turns on with a tracer
provider), outgoing httpx and httpx2 calls (provider SDKs, HTTP tools, webhooks), and
Temporal: `TracingInterceptor` on the client carries the context from the request that
started or signalled a workflow through it to every activity, local ones included; LLM and
tool calls get GenAI spans (`calls.py`). Off, nothing of this is installed: no provider, no
interceptor, no wrapper.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from opentelemetry import trace
from temporalio.client import Interceptor

from .. import __version__
from ..errors import ConfigError

if TYPE_CHECKING:  # the SDK is imported only when tracing is on
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = [
    "ENDPOINT_VARIABLES",
    "capture_content",
    "gen_ai_provider",
    "interceptors",
    "setup_tracing",
    "shutdown_tracing",
    "tracer",
    "tracing_wanted",
]

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
SERVICE_NAME = "temporal-executor"

# `gen_ai.provider.name` values of the GenAI semantic conventions, by our provider names.
_GEN_AI_PROVIDERS = {
    "openai": "openai",
    "azure-openai": "azure.ai.openai",
    "anthropic": "anthropic",
    "vertexai": "gcp.vertex_ai",
    "gemini": "gcp.gemini",
}


class _Tracing:
    provider: TracerProvider | None = None
    tracer: trace.Tracer | None = None
    capture_content = False


_state = _Tracing()


def tracing_wanted(env: Mapping[str, str] = os.environ) -> bool:
    """Whether the environment asks for traces (module docstring)."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return False
    return any(env.get(name, "").strip() for name in ENDPOINT_VARIABLES)


def setup_tracing(*, capture_content: bool = False, role: str = "service") -> bool:
    """Install the tracer provider, the OTLP exporter and the httpx instrumentation when the
    environment asks for traces (once a process); whether tracing is on."""
    _state.capture_content = capture_content
    if _state.provider is not None:
        return True
    if not tracing_wanted():
        return False
    from opentelemetry.instrumentation import httpx as instrumentation
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=_resource(role))
    provider.add_span_processor(BatchSpanProcessor(_exporter()))
    trace.set_tracer_provider(provider)
    # httpx for tools and webhooks; httpx2 is what the OpenAI and Anthropic SDKs send with.
    hooks = {"request_hook": redact_query, "async_request_hook": async_redact_query}
    instrumentation.HTTPXClientInstrumentor().instrument(tracer_provider=provider, **hooks)
    if importlib.util.find_spec("httpx2") is not None:
        instrumentation.HTTPX2ClientInstrumentor().instrument(tracer_provider=provider, **hooks)
    _state.provider = provider
    _state.tracer = provider.get_tracer("temporal_executor", __version__)
    return True


def redact_query(span: trace.Span, request: Any) -> None:
    """An HTTP client span's URL without its query's values, unless content is captured:
    they are content (an HTTP tool called with GET sends its arguments there)."""
    if _state.capture_content or not span.is_recording():
        return
    parts = urlsplit(str(request.url))
    if not parts.query:
        return
    names = [(name, "REDACTED") for name, _ in parse_qsl(parts.query, keep_blank_values=True)]
    url = urlunsplit(parts._replace(query=urlencode(names)))
    attributes = getattr(span, "attributes", None) or {}
    for key in ("url.full", "http.url"):  # the semantic conventions' new and old names
        if key in attributes:
            span.set_attribute(key, url)


async def async_redact_query(span: trace.Span, request: Any) -> None:
    redact_query(span, request)


def shutdown_tracing() -> None:
    """Send the spans still buffered (at exit)."""
    if _state.provider is not None:
        _state.provider.shutdown()


def tracer() -> trace.Tracer | None:
    """Our tracer; None when tracing is off (callers then make no span at all)."""
    return _state.tracer


def capture_content() -> bool:
    """Whether spans carry prompts, answers, tool arguments and results."""
    return _state.capture_content


def interceptors() -> Sequence[Interceptor]:
    """The Temporal client's interceptors: `TracingInterceptor` when tracing is on. Workers
    built from the client inherit it (so it must not be given to them again)."""
    if _state.provider is None:
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]


def gen_ai_provider(provider: str) -> str:
    """Our provider name as the GenAI conventions name it (`gen_ai.provider.name`)."""
    return _GEN_AI_PROVIDERS.get(provider, provider)


def _resource(role: str) -> Resource:
    from opentelemetry.sdk.resources import Resource

    # Resource.create() reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; what we pass
    # would override those, so our service name only fills in when they name none.
    resource = Resource.create({"service.version": __version__, "temporal_executor.role": role})
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": SERVICE_NAME}))
    return resource


def _exporter() -> SpanExporter:
    protocol = (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    exporter: Any
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    elif protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HTTPSpanExporter,
        )

        exporter = HTTPSpanExporter()
    else:
        raise ConfigError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: use http/protobuf (default) or grpc"
        )
    result: SpanExporter = exporter
    return result
