"""The Temporal SDK's own metrics (`temporal_*`: polls, task slots, workflow and activity
latencies, RPCs) in our registry, so one `/metrics` serves them with ours.

The SDK's core writes each update into a `MetricBuffer`; `TemporalMetrics` drains it (every
second from a thread of its own, and at each scrape) and keeps the totals: counters add up
their deltas, gauges keep the last value, histograms count observations into fixed buckets
(seconds; named `…_seconds`, as the SDK's own Prometheus exporter names them). Core hands out
the same attributes object for the same label set, so an update costs two dict lookups;
series are still keyed by label values, since two sets can be equal. Core makes a new set for
each workflow run and activity it starts (about 18 a parked task), so the label keys of at most
`KEYS_CACHED` sets are kept: holding every set it ever made grew the worker ~7 KB a task.
"""

from __future__ import annotations

import bisect
import re
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from temporalio.runtime import (
    BUFFERED_METRIC_KIND_COUNTER,
    BUFFERED_METRIC_KIND_GAUGE,
    MetricBuffer,
    MetricBufferDurationFormat,
)

__all__ = ["TemporalMetrics"]

BUFFER_SIZE = 200_000
KEYS_CACHED = 4096  # attribute sets whose label key is kept (then forgotten all at once)
DRAIN_INTERVAL = 1.0
BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

_NOT_A_NAME = re.compile(r"[^a-zA-Z0-9_:]")


def _name(raw: str) -> str:
    name = _NOT_A_NAME.sub("_", raw)
    return "_" + name if name[:1].isdigit() else name


class _Series:
    __slots__ = ("count", "counts", "labels", "sum", "value")

    def __init__(self, labels: dict[str, str]) -> None:
        self.labels = labels
        self.value = 0.0
        self.counts = [0] * (len(BUCKETS) + 1)  # per bucket, the last one for +Inf
        self.sum = 0.0
        self.count = 0


class _Family:
    def __init__(self, name: str, help: str, kind: int) -> None:
        self.name, self.help, self.kind = name, help, kind
        self.series: dict[tuple[tuple[str, str], ...], _Series] = {}


class TemporalMetrics(Collector):
    """A prometheus-client collector of what the Temporal core writes to `buffer`."""

    def __init__(self) -> None:
        self.buffer = MetricBuffer(BUFFER_SIZE, MetricBufferDurationFormat.SECONDS)
        self._lock = threading.Lock()
        self._families: dict[int, tuple[Any, _Family]] = {}
        # id(attributes) → (the attributes, kept so that the id is not reused; label key)
        self._keys: dict[int, tuple[Mapping[str, Any], tuple[tuple[str, str], ...]]] = {}
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Drain every `DRAIN_INTERVAL` in a daemon thread: a full buffer drops updates."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._drain_forever, daemon=True)
            self._thread.name = "temporal-metrics"
            self._thread.start()

    def _drain_forever(self) -> None:
        stop = threading.Event()
        while not stop.wait(DRAIN_INTERVAL):
            self.drain()

    def drain(self) -> None:
        with self._lock:
            for update in self.buffer.retrieve_updates():
                metric = update.metric
                known = self._families.get(id(metric))
                if known is None:
                    name = _name(metric.name)
                    if metric.unit == "s":  # as Temporal's Prometheus exporter names them
                        name += "_seconds"
                    family = _Family(name, metric.description or metric.name, metric.kind)
                    self._families[id(metric)] = (metric, family)
                else:
                    family = known[1]
                attributes = update.attributes
                keyed = self._keys.get(id(attributes))
                if keyed is None:
                    if len(self._keys) >= KEYS_CACHED:
                        self._keys.clear()
                    key = tuple(sorted((_name(k), str(v)) for k, v in attributes.items()))
                    keyed = self._keys[id(attributes)] = (attributes, key)
                series = family.series.get(keyed[1])
                if series is None:
                    series = family.series[keyed[1]] = _Series(dict(keyed[1]))
                value = update.value
                if family.kind == BUFFERED_METRIC_KIND_COUNTER:
                    series.value += value
                elif family.kind == BUFFERED_METRIC_KIND_GAUGE:
                    series.value = value
                else:
                    series.counts[bisect.bisect_left(BUCKETS, value)] += 1
                    series.sum += value
                    series.count += 1

    def collect(self) -> Iterator[Metric]:
        try:
            self.drain()
        except RuntimeError:  # no Temporal client was made with this buffer yet
            return
        with self._lock:
            families = [family for _, family in self._families.values()]
            for family in families:
                yield _exposed(family)


def _exposed(family: _Family) -> Metric:
    if family.kind == BUFFERED_METRIC_KIND_COUNTER:
        base = family.name.removesuffix("_total")
        metric = Metric(base, family.help, "counter")
        for series in family.series.values():
            metric.add_sample(base + "_total", series.labels, series.value)
        return metric
    if family.kind == BUFFERED_METRIC_KIND_GAUGE:
        metric = Metric(family.name, family.help, "gauge")
        for series in family.series.values():
            metric.add_sample(family.name, series.labels, series.value)
        return metric
    metric = Metric(family.name, family.help, "histogram")
    for series in family.series.values():
        total = 0
        for bound, count in zip((*BUCKETS, float("inf")), series.counts, strict=True):
            total += count
            le = "+Inf" if bound == float("inf") else repr(float(bound))
            metric.add_sample(family.name + "_bucket", {**series.labels, "le": le}, total)
        metric.add_sample(family.name + "_count", series.labels, series.count)
        metric.add_sample(family.name + "_sum", series.labels, series.sum)
    return metric
