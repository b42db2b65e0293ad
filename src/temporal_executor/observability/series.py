"""Every Prometheus series the service exports, in one registry (the README's Metrics section
lists the same).

Cardinality is bounded: no task, session or call ids as labels; `provider` and tool `type`
come from config; `model` and `tool` are named by callers, so each keeps the first
`BoundedLabel.limit` values it sees and reports the rest as `other`. Writing a series is a
dict lookup and an add under a lock: cheap enough for every LLM call, tool call and append
(never per token).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)

from .. import __version__

__all__ = [
    "APPEND_SECONDS",
    "BUILD_INFO",
    "CAPACITY_WAITING",
    "CAPACITY_WAITS",
    "LLM_CALLS",
    "LLM_COST",
    "LLM_SECONDS",
    "LLM_TOKENS",
    "LLM_TTFT_SECONDS",
    "LLM_USAGE_UNREPORTED",
    "MODELS",
    "PUSH_DELIVERIES",
    "REGISTRY",
    "STREAM_SUBSCRIBERS",
    "TASKS_ENDED",
    "TASKS_OPEN",
    "TASKS_PARKED",
    "TASKS_STARTED",
    "TASK_SECONDS",
    "TOOLS",
    "TOOL_CALLS",
    "TOOL_SECONDS",
    "BoundedLabel",
    "observe_build",
    "subscribed",
]

# `*_created` series double every counter's size for a value dashboards do not use.
disable_created_metrics()  # type: ignore[no-untyped-call]

REGISTRY = CollectorRegistry(auto_describe=True)
for _collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
    REGISTRY.register(_collector)


class BoundedLabel:
    """A label whose values callers choose: the first `limit` distinct ones are kept, any
    later one is `other`, so a caller inventing names cannot grow the series without end."""

    OTHER = "other"

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        with self._lock:
            if len(self._seen) >= self.limit:
                return self.OTHER
            self._seen.add(value)
        return value


MODELS = BoundedLabel(50)
TOOLS = BoundedLabel(100)

_TASK_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600)
_CALL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120)
_TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)
_APPEND_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)

BUILD_INFO = Gauge(
    "executor_build_info", "The version and build id running (always 1).",
    ["version", "build_id"], registry=REGISTRY,
)  # fmt: skip


def observe_build(build_id: str) -> None:
    """The one `executor_build_info` series: set when the services open (the build id may
    come from config, which this package does not read)."""
    BUILD_INFO.clear()
    BUILD_INFO.labels(__version__, build_id).set(1)


TASKS_STARTED = Counter(
    "executor_tasks_started", "Tasks started (their task.started event written).", [],
    registry=REGISTRY,
)  # fmt: skip
TASKS_ENDED = Counter(
    "executor_tasks_ended", "Tasks ended, by final status.", ["status"], registry=REGISTRY
)
TASK_SECONDS = Histogram(
    "executor_task_duration_seconds",
    "From the task's first event (task.started, or task.queued) to its last, by status.",
    ["status"], buckets=_TASK_BUCKETS, registry=REGISTRY,
)  # fmt: skip
TASKS_OPEN = Gauge(
    "executor_tasks_open",
    "Tasks that have not ended, by status (running, awaiting_approval, ...), as the store "
    "has them when scraped (API processes only).",
    ["status"], registry=REGISTRY,
)  # fmt: skip
TASKS_PARKED = Gauge(
    "executor_tasks_parked",
    "Tasks waiting for a person (awaiting_approval or awaiting_input), as the store has them "
    "when scraped (API processes only).",
    registry=REGISTRY,
)

LLM_CALLS = Counter(
    "executor_llm_calls", "LLM calls (attempts) by outcome: ok, retryable_error, error, "
    "cancelled.", ["provider", "model", "outcome"], registry=REGISTRY,
)  # fmt: skip
LLM_SECONDS = Histogram(
    "executor_llm_call_duration_seconds", "LLM call latency, whole answer.",
    ["provider", "model"], buckets=_CALL_BUCKETS, registry=REGISTRY,
)  # fmt: skip
LLM_TTFT_SECONDS = Histogram(
    "executor_llm_time_to_first_token_seconds", "Streaming LLM calls: time to the first text.",
    ["provider", "model"], buckets=_TTFT_BUCKETS, registry=REGISTRY,
)  # fmt: skip
LLM_TOKENS = Counter(
    "executor_llm_tokens", "Tokens the providers reported, by type: input or output (a call "
    "whose server reported none adds nothing here: see executor_llm_usage_unreported).",
    ["provider", "model", "type"], registry=REGISTRY,
)  # fmt: skip
LLM_CACHED_TOKENS = Counter(
    "executor_llm_cached_tokens", "Prompt tokens the providers reported as read from their "
    "prompt cache (type read) or written to it (type write); part of the input tokens.",
    ["provider", "model", "type"], registry=REGISTRY,
)  # fmt: skip
LLM_USAGE_UNREPORTED = Counter(
    "executor_llm_usage_unreported", "LLM calls whose server reported no token usage (an "
    "OpenAI-compatible server that streams none): their tokens are unknown, not 0.",
    ["provider", "model"], registry=REGISTRY,
)  # fmt: skip
LLM_COST = Counter(
    "executor_llm_cost_usd", "What LLM calls cost, in US dollars, by the price table "
    "(llm.prices); calls of a model with no price, or with no usage reported, add nothing.",
    ["provider", "model"], registry=REGISTRY,
)  # fmt: skip

TOOL_CALLS = Counter(
    "executor_tool_calls", "Tool calls (attempts) by outcome: ok, error (an error result for "
    "the LLM), retryable_error, cancelled.", ["tool", "type", "outcome"], registry=REGISTRY,
)  # fmt: skip
TOOL_SECONDS = Histogram(
    "executor_tool_call_duration_seconds", "Tool call latency.", ["tool", "type"],
    buckets=_CALL_BUCKETS, registry=REGISTRY,
)  # fmt: skip

APPEND_SECONDS = Histogram(
    "executor_event_append_duration_seconds", "Event store appends (one transaction each).",
    buckets=_APPEND_BUCKETS, registry=REGISTRY,
)  # fmt: skip
STREAM_SUBSCRIBERS = Gauge(
    "executor_stream_subscribers", "Clients following a task live, by transport: sse, a2a.",
    ["transport"], registry=REGISTRY,
)  # fmt: skip
CAPACITY_WAITS = Counter(
    "executor_capacity_waits", "Calls refused for want of capacity under a shared limit "
    "(config: llm.providers[].limits, tools.limits), by limit and reason: concurrency, "
    "requests_per_minute, tokens_per_minute, rate_limited (a 429).", ["limit", "reason"],
    registry=REGISTRY,
)  # fmt: skip
CAPACITY_WAITING = Gauge(
    "executor_capacity_waiting",
    "Calls waiting for capacity now, by limit, as the store has them when scraped (API "
    "processes only).",
    ["limit"], registry=REGISTRY,
)  # fmt: skip
PUSH_DELIVERIES = Counter(
    "executor_push_deliveries", "A2A push notifications, by outcome: delivered, failed "
    "(refused, or every retry spent).", ["outcome"], registry=REGISTRY,
)  # fmt: skip


@contextlib.contextmanager
def subscribed(transport: str) -> Iterator[None]:
    """Count a client following a task live over `transport` while the block runs."""
    gauge = STREAM_SUBSCRIBERS.labels(transport)
    gauge.inc()
    try:
        yield
    finally:
        gauge.dec()
