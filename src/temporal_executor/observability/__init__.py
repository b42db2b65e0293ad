"""Observability: Prometheus metrics (`series.py`, the Temporal SDK's in `temporal_metrics.py`,
served by `endpoint.py`), OpenTelemetry traces (`tracing.py`), logs in text or JSON
(`logs.py`), and the two places that feed them from the work itself: LLM and tool calls at
the activity edge (`calls.py`) and tasks starting and ending at the store's append
(`lifecycle.py`). `runtime.py` makes the Temporal runtime that sends the SDK's metrics and
logs here.

This package imports nothing above `tasks.py`, `spec.py`, `llm/messages.py` and `errors.py`,
so the store, the activities and the API can all use it.
"""

from __future__ import annotations

from .calls import LLMCallWatch, ToolCallWatch
from .endpoint import exposition, metrics_app
from .lifecycle import observe_appended
from .logs import bound, configure_logging
from .runtime import temporal_runtime
from .series import (
    CAPACITY_WAITING,
    PUSH_DELIVERIES,
    TASKS_OPEN,
    TASKS_PARKED,
    observe_build,
    subscribed,
)
from .tracing import interceptors, setup_tracing, shutdown_tracing

__all__ = [
    "CAPACITY_WAITING",
    "PUSH_DELIVERIES",
    "TASKS_OPEN",
    "TASKS_PARKED",
    "LLMCallWatch",
    "ToolCallWatch",
    "bound",
    "configure_logging",
    "exposition",
    "interceptors",
    "metrics_app",
    "observe_appended",
    "observe_build",
    "setup_tracing",
    "shutdown_tracing",
    "subscribed",
    "temporal_runtime",
]
