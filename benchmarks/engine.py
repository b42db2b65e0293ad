"""B1, engine overhead: the 1-tool task (LLM → tool → LLM) over REST, `serve` + `worker`,
against a bare workflow with three no-op activities: same tuned Temporal server (SQLite file
in WAL mode, as `dev` runs it), same worker settings, same data converter.

Both run side by side and take turns, round by round at each concurrency, so that the
machine's changing speed (a shared machine's varies by tens of percent from minute to
minute) weighs on both alike; the ratio is taken per round, and its median reported."""

from __future__ import annotations

import asyncio
import statistics
import uuid
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from temporal_executor.loadtest.runner import Run, load

from .bare import BareWorkflow
from .common import merged, python, spawn, temporal_server, wait_http
from .systems import config, rest_task, scripted, split


def _says_ready(log: Path) -> bool:
    return log.exists() and "ready" in log.read_text()


async def _wait_ready(log: Path) -> None:
    for _ in range(600):
        if _says_ready(log):
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"the bare worker did not start; see {log}")


async def engine(workdir: Path, levels: dict[int, int], rounds: int, warmup: int) -> dict[str, Any]:
    """At each concurrency (`levels`: concurrency → calls a round), `rounds` rounds of each:
    throughput and latency of both, and the median of the rounds' ratios."""
    results: dict[str, Any] = {"bare": [], "ours": [], "ratios": {}}
    with temporal_server(workdir) as (target, _), scripted(workdir) as llm:
        queue = f"bare-{uuid.uuid4().hex[:8]}"
        argv = python("-m", "benchmarks.bare", target, queue)
        with (
            spawn("bare-worker", argv, workdir) as worker,
            split(workdir, config(workdir, llm, target)) as ours,
        ):
            await _wait_ready(worker.log)
            await wait_http(ours.url + "/readyz", ours.procs[0])
            client = await Client.connect(target, data_converter=pydantic_data_converter)
            async with httpx.AsyncClient(base_url=ours.url, timeout=300) as http:

                async def bare(i: int) -> None:
                    await client.execute_workflow(
                        BareWorkflow.run, str(i), id=f"bare-{uuid.uuid4().hex}", task_queue=queue
                    )

                async def task(i: int) -> None:
                    await rest_task(http, llm, f"weather in city {i}")

                await load(bare, warmup, 1)
                await load(task, warmup, 1)
                for concurrency, calls in levels.items():
                    pairs: list[tuple[Run, Run]] = []
                    for _ in range(rounds):
                        pairs.append(
                            (
                                await load(bare, calls, concurrency),
                                await load(task, calls, concurrency),
                            )
                        )
                    results["bare"].append(merged([b for b, _ in pairs]).summary())
                    results["ours"].append(merged([o for _, o in pairs]).summary())
                    ratios = [o.throughput / b.throughput for b, o in pairs if b.throughput]
                    results["ratios"][str(concurrency)] = round(statistics.median(ratios), 2)
    return results
