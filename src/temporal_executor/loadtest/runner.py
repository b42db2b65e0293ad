"""A bounded load runner: `call(i)` for i in 0 … total-1, so many at a time, each call's
latency kept, and percentiles. Shared by `temporal-executor load` and the benchmarks."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Run", "load", "ms", "percentile"]


@dataclass
class Run:
    """One load run: each call's latency (seconds) and the run's wall time."""

    concurrency: int
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    failures: int = 0

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "concurrency": self.concurrency,
            "calls": len(self.latencies),
            "failures": self.failures,
            "per_s": round(self.throughput, 2),
            "p50_ms": ms(percentile(self.latencies, 50)),
            "p95_ms": ms(percentile(self.latencies, 95)),
            "p99_ms": ms(percentile(self.latencies, 99)),
        }


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[min(int(p), 99) - 1]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


async def load(call: Callable[[int], Awaitable[None]], total: int, concurrency: int) -> Run:
    """`call(i)` for i in 0 … total-1, `concurrency` at a time; a failed call is counted."""
    run = Run(concurrency)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)

    async def lane() -> None:
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            start = time.perf_counter()
            try:
                await call(i)
            except Exception:
                run.failures += 1
                continue
            run.latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    run.elapsed = time.perf_counter() - start
    return run
