"""B3, parked tasks: N tasks that each wait for a human to approve their tool call, held by
`serve` + `worker` on the tuned Temporal dev server (SQLite file, as `dev` runs it). What each
parked task costs in resident memory, in the API, the worker and the Temporal server; then a
sample of them approved, to show they are still live.

A parked task is a workflow waiting on a signal: the worker keeps at most
`executor.max_concurrent_workflows` of them in its cache (Temporal replays the others from
history when they wake), the API keeps nothing per task, so neither should grow with N."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx

from temporal_executor.loadtest.runner import load

from .common import Proc, temporal_server, wait_http
from .systems import MODEL, config, scripted, split, weather_tool

SAMPLE = 20  # parked tasks approved at the end


async def _park(http: httpx.AsyncClient, llm: str, i: int) -> str:
    body = {
        "user_message": f"weather in city {i}",
        "model_config": MODEL,
        "tools": [weather_tool(llm)],
        "require_approval": True,
    }
    task = (await http.post("/api/v1/execute?wait=true", json=body)).json()
    if task.get("status") != "awaiting_approval":
        raise RuntimeError(f"task not parked: {str(task)[:300]}")
    return str(task["task_id"])


async def _approve(http: httpx.AsyncClient, task_id: str) -> None:
    decision = {"approved": True}
    response = await http.post(f"/api/v1/approve/agent-execution-{task_id}", json=decision)
    response.raise_for_status()
    task = (await http.get(f"/api/v1/tasks/{task_id}")).json()
    for _ in range(600):
        if task["status"] == "completed":
            return
        await asyncio.sleep(0.02)
        task = (await http.get(f"/api/v1/tasks/{task_id}")).json()
    raise RuntimeError(f"approved task did not complete: {str(task)[:300]}")


async def _parked(http: httpx.AsyncClient) -> int:
    count, offset = 0, 0
    while offset is not None:
        params: dict[str, str | int] = {
            "status": "awaiting_approval",
            "limit": 500,
            "offset": offset,
        }
        page = (await http.get("/api/v1/tasks", params=params)).json()
        count += len(page["tasks"])
        offset = page["next_offset"]
    return count


def _rss(procs: dict[str, Proc]) -> dict[str, int]:
    return {name: proc.rss() for name, proc in procs.items()}


async def parked(workdir: Path, counts: list[int], warmup: int = 20) -> dict[str, Any]:
    """Park `counts[0]` tasks, measure, then more up to each next count, measure again."""
    results: dict[str, Any] = {"levels": []}
    with temporal_server(workdir) as (target, temporal), scripted(workdir) as llm:
        with split(workdir, config(workdir, llm, target)) as ours:
            api, worker = ours.procs
            procs = {"api": api, "worker": worker, "temporal": temporal}
            await wait_http(ours.url + "/readyz", api)
            async with httpx.AsyncClient(base_url=ours.url, timeout=300) as http:
                ids: list[str] = []

                async def park(i: int) -> None:
                    ids.append(await _park(http, llm, i))

                await load(park, warmup, 5)
                await load(lambda i: _approve(http, ids[i]), warmup, 5)
                ids.clear()
                base = _rss(procs)
                results["rss_mb_before"] = {k: round(v / 2**20, 1) for k, v in base.items()}
                for count in counts:
                    start = time.perf_counter()
                    run = await load(park, count - len(ids), 20)
                    took = time.perf_counter() - start
                    now = _rss(procs)
                    held = await _parked(http)
                    results["levels"].append(
                        {
                            "parked": held,
                            "park_failures": run.failures,
                            "parked_per_s": round(run.throughput, 1),
                            "seconds": round(took, 1),
                            "rss_mb": {k: round(v / 2**20, 1) for k, v in now.items()},
                            "kb_per_parked_task": {
                                k: round((now[k] - base[k]) / 1024 / max(held, 1), 1) for k in now
                            },
                        }
                    )
                approve = await load(lambda i: _approve(http, ids[i]), min(SAMPLE, len(ids)), 5)
                results["sample_approved"] = len(approve.latencies)
                results["sample_failures"] = approve.failures
    return results
