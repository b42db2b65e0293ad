"""B6, provider limits shared by every worker: the 1-tool task (two LLM calls) submitted all at
once, `tasks` of them, on `serve` + 3 `worker`s, against the scripted provider as a
rate-limited one: `concurrency` completions at once, `requests_per_minute` in any 60 s (a
sliding minute), `latency` seconds each, 429 with Retry-After beyond.

Two runs, each with a fresh provider, store and task queue on one Temporal server: first
without limits (the baseline: each call retries its 429s alone, honouring Retry-After, as
before limits existed), then with `llm.providers[].limits` set to what the provider allows.
Printed for each: tasks completed and failed, the provider's 429s and their share of its
answers, the most completions it had in flight at once, p50 / p95 latency of the completed
tasks (submitted → ended) and the time to drain (first submitted → last ended)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from temporal_executor.loadtest.runner import load, ms, percentile

from .common import temporal_server, wait_http
from .systems import config, rest_task, scripted, split

WORKERS = 3


async def _polled_by(target: str, queue: str, workers: int) -> None:
    """Until `workers` workers poll the task queue's workflow tasks (their start-up is not
    the run's)."""
    client = await Client.connect(target)
    request = DescribeTaskQueueRequest(
        namespace="default",
        task_queue=TaskQueue(name=queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )
    for _ in range(1200):
        found = await client.workflow_service.describe_task_queue(request)
        if len({p.identity for p in found.pollers}) >= workers:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{workers} workers did not poll {queue} within 2 min")


async def _run(
    workdir: Path, target: str, tasks: int, allows: dict[str, Any], limited: bool
) -> dict[str, Any]:
    options = ["--concurrency", str(allows["concurrency"]), "--latency", str(allows["latency"]),
               "--requests-per-minute", str(allows["requests_per_minute"])]  # fmt: skip
    with scripted(workdir, options=options) as llm:
        path = config(workdir, llm, target)
        data = yaml.safe_load(path.read_text())
        if limited:
            limits = {k: allows[k] for k in ("concurrency", "requests_per_minute")}
            data["llm"]["providers"][0]["limits"] = limits
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        with split(workdir, path, workers=WORKERS) as ours:
            await wait_http(ours.url + "/readyz", ours.procs[0])
            await _polled_by(target, data["temporal"]["task_queue"], WORKERS)
            pool = httpx.Limits(max_connections=None, max_keepalive_connections=None)
            async with httpx.AsyncClient(base_url=ours.url, timeout=None, limits=pool) as http:

                async def task(i: int) -> None:
                    await rest_task(http, llm, f"weather in city {i}")

                started = time.monotonic()
                run = await load(task, tasks, tasks)  # all at once
                drained = time.monotonic() - started
                stats = (await http.get(f"{llm}/stats")).json()
    requests = stats["requests"]
    return {
        "tasks": tasks,
        "completed": len(run.latencies),
        "failures": run.failures,
        "provider_requests": requests,
        "provider_429s": stats["rate_limited"],
        "share_429": round(stats["rate_limited"] / requests, 4) if requests else 0.0,
        "peak_in_flight": stats["peak_in_flight"],
        "p50_ms": ms(percentile(run.latencies, 50)),
        "p95_ms": ms(percentile(run.latencies, 95)),
        "drain_s": round(drained, 1),
    }


async def limits(workdir: Path, tasks: int, allows: dict[str, Any]) -> dict[str, Any]:
    """Both runs against a provider that `allows` {concurrency, requests_per_minute,
    latency}; the baseline's failed tasks are what it measures, not a benchmark failure."""
    runs: dict[str, Any] = {}
    with temporal_server(workdir) as (target, _):
        for name, limited in (("without limits", False), ("with limits", True)):
            here = workdir / name.replace(" ", "-")
            here.mkdir()
            runs[name] = await _run(here, target, tasks, allows, limited)
    # The baseline's failures are expected: kept apart from the `failures` the suite counts.
    baseline = runs["without limits"]
    baseline["failed_tasks"] = baseline.pop("failures")
    return {"provider": allows, "workers": WORKERS, "runs": runs}
