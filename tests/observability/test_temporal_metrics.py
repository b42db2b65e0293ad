"""`TemporalMetrics` without a Temporal core: updates handed to `drain` as core hands them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prometheus_client.registry import CollectorRegistry
from temporalio.runtime import BUFFERED_METRIC_KIND_COUNTER

from temporal_executor.observability.temporal_metrics import KEYS_CACHED, TemporalMetrics


@dataclass
class _Metric:
    name: str
    description: str | None
    unit: str | None
    kind: int


@dataclass
class _Update:
    metric: _Metric
    value: int
    attributes: dict[str, Any]


class _Buffer:
    def __init__(self) -> None:
        self.updates: list[_Update] = []

    def retrieve_updates(self) -> list[_Update]:
        updates, self.updates = self.updates, []
        return updates


def test_attribute_sets_made_per_run_are_not_all_kept() -> None:
    """Core makes a new attributes object for each workflow run and activity: a long-lived
    worker must not hold every one it was ever handed, and equal sets still add up in one
    series."""
    metrics = TemporalMetrics()
    buffer = _Buffer()
    metrics.buffer = buffer  # type: ignore[assignment]
    counter = _Metric("workflow_completed", "Completed workflows", None, 0)
    assert counter.kind == BUFFERED_METRIC_KIND_COUNTER
    runs = 3 * KEYS_CACHED
    for batch in range(3):
        buffer.updates = [
            _Update(counter, 1, {"workflow_type": "AgentExecution", "task_queue": "q"})
            for _ in range(KEYS_CACHED)
        ]
        metrics.drain()
        assert len(metrics._keys) <= KEYS_CACHED, batch
    registry = CollectorRegistry()
    registry.register(metrics)
    value = registry.get_sample_value(
        "workflow_completed_total", {"workflow_type": "AgentExecution", "task_queue": "q"}
    )
    assert value == runs
