"""The Temporal SDK runtime of this process: its metrics go to our registry
(`temporal_metrics.py`) and its core's logs to Python logging (logger `temporalio.core`), so
they reach the same `/metrics` and the same log stream as ours.

One runtime a process, made by the first client (`temporal_runtime()`); the SDK starts a
thread pool for each runtime, and a runtime does not survive a fork.
"""

from __future__ import annotations

import logging

from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

from .logs import CORE_LOGGER, json_enabled
from .series import REGISTRY
from .temporal_metrics import TemporalMetrics

__all__ = ["temporal_runtime"]

_runtime: Runtime | None = None


def temporal_runtime() -> Runtime:
    """The process's Temporal runtime (made on first use, after logging is configured)."""
    global _runtime
    if _runtime is None:
        metrics = TemporalMetrics()
        text = not json_enabled()  # JSON lines carry the core's target and fields as keys
        forwarding = LogForwardingConfig(
            logger=logging.getLogger(CORE_LOGGER),
            append_target_to_name=False,
            prepend_target_on_message=text,
            append_log_fields_to_message=text,
        )
        _runtime = Runtime(
            telemetry=TelemetryConfig(
                metrics=metrics.buffer,
                logging=LoggingConfig(
                    filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
                    forwarding=forwarding,
                ),
                attach_service_name=False,
            )
        )
        REGISTRY.register(metrics)
        metrics.start()
    return _runtime
