"""B7, priority and fairness: a backlog queued in Temporal (submitted while no worker runs, as
after an outage, or a batch that came faster than the workers take it), then one `worker`
process drains it. `serve` + `worker` on the dev server as `dev` runs it (fairness on, one
task-queue partition); the 1-tool task against the scripted LLM and tool.

- priority: `backlog` tasks of priority 1, then one of priority 5 (target: it finishes before
  at least 90 % of them); beside it the same with the last task at priority 1 too;
- fairness: `backlog` tasks sent with the API key `batch`, then `few` with the key
  `interactive` (`executor.fairness_key: api_key`; target: all of them finish within the
  first third of the drain, counted in tasks finished; the share of its time is printed
  beside, which a freshly started worker's slow first tasks inflate in a short drain);
  beside it the same with every task sent with `batch`.

The worker takes at most `executor.max_concurrent_workflows` tasks' steps at once (`slots`):
those run on whatever comes after them, so the urgent task can do no better than about
`slots + 1`-th. Order comes from the workflows' close times in Temporal."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import yaml
from temporalio.client import Client

from .common import Proc, python, spawn, temporal_server, wait_http
from .systems import KEY_ENV, MODEL, api_url, config, scripted, weather_tool

KEYS_ENV = "BENCH_API_KEYS"
KEYS = {"batch": "bench-batch-key", "interactive": "bench-interactive-key"}
SUBMITTERS = 20  # submissions at once


async def priority_fairness(workdir: Path, backlog: int, few: int, slots: int) -> dict[str, Any]:
    env = {KEYS_ENV: ",".join(f"{name}:{key}" for name, key in KEYS.items()), KEY_ENV: "sk-bench"}
    with temporal_server(workdir) as (target, _), scripted(workdir) as llm:
        path = config(workdir, llm, target, max_concurrent_workflows=slots, fairness_key="api_key")
        data = yaml.safe_load(path.read_text())
        data["server"]["api_keys_env"] = KEYS_ENV
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        command = python("-m", "temporal_executor", "--config", str(path))
        queue = data["temporal"]["task_queue"]
        with spawn("api", [*command, "serve"], workdir, env=env) as api:
            await wait_http(api_url(path) + "/readyz", api)
            client = await Client.connect(target)
            bench = _Bench(workdir, command, env, api_url(path), llm, client, queue)
            bench.metrics = f"http://127.0.0.1:{data['observability']['metrics_port']}/metrics"
            results: dict[str, Any] = {"slots": slots, "backlog": backlog}
            results["priority"] = await bench.priority(backlog, urgent=5)
            results["priority_baseline"] = await bench.priority(backlog, urgent=1)
            results["fairness"] = await bench.fairness(backlog, few, "interactive")
            results["fairness_baseline"] = await bench.fairness(backlog, few, "batch")
    return results


class _Bench:
    def __init__(
        self,
        workdir: Path,
        command: list[str],
        env: dict[str, str],
        url: str,
        llm: str,
        client: Client,
        queue: str,
    ) -> None:
        self.workdir, self.command, self.env, self.url = workdir, command, env, url
        self.llm, self.client, self.queue = llm, client, queue
        self.metrics = ""
        self.phase = 0

    async def priority(self, backlog: int, urgent: int) -> dict[str, Any]:
        """`backlog` tasks of priority 1, then one of priority `urgent`."""
        batch = await self._submit("batch", backlog, priority=1)
        (last,) = await self._submit("batch", 1, priority=urgent)
        order, drain = await self._drain([*batch, last])
        rank = order.index(last) + 1
        return {
            "urgent_priority": urgent,
            "urgent_rank": rank,
            "finished_before_pct": round(100 * (len(order) - rank) / backlog, 1),
            **drain,
        }

    async def fairness(self, backlog: int, few: int, key: str) -> dict[str, Any]:
        """`backlog` tasks with the key `batch`, then `few` with `key`."""
        batch = await self._submit("batch", backlog)
        others = await self._submit(key, few)
        order, drain = await self._drain([*batch, *others], others)
        ranks = sorted(order.index(task) + 1 for task in others)
        return {"key": key, "few": few, "few_ranks": ranks, **drain}

    async def _submit(self, key: str, count: int, **body: Any) -> list[str]:
        self.phase += 1
        ids = [f"p{self.phase}-{key}-{i}" for i in range(count)]
        headers = {"Authorization": f"Bearer {KEYS[key]}"}
        tool = weather_tool(self.llm)
        async with httpx.AsyncClient(base_url=self.url, headers=headers, timeout=60) as http:
            queue = list(reversed(ids))

            async def submitter() -> None:
                while queue:
                    task_id = queue.pop()
                    request = {
                        "task_id": task_id,
                        "user_message": f"weather in {task_id}",
                        "model_config": MODEL,
                        "tools": [tool],
                        **body,
                    }
                    response = await http.post("/api/v1/execute", json=request)
                    if response.status_code != 202:
                        raise RuntimeError(f"not accepted: {response.text[:300]}")

            await asyncio.gather(*(submitter() for _ in range(SUBMITTERS)))
        return ids

    async def _drain(
        self, ids: list[str], tracked: list[str] | None = None
    ) -> tuple[list[str], dict[str, Any]]:
        """Start a worker, wait until every task closed; the tasks by close time, and the
        drain's figures (`tracked`: when the last of those closed, as a share of the drain)."""
        async with self._worker():
            start = time.time()
            closed = await self._closed(ids)
        order = sorted(ids, key=lambda task: closed[task][0])
        failed = sum(1 for _, status in closed.values() if status != "COMPLETED")
        end = max(at for at, _ in closed.values())
        figures: dict[str, Any] = {
            "tasks": len(ids),
            "failures": failed,
            "drain_s": round(end - start, 1),
            "tasks_per_s": round(len(ids) / (end - start), 1),
        }
        if tracked:
            last = max(closed[task][0] for task in tracked)
            figures["few_done_at_share"] = round((last - start) / (end - start), 3)
        return order, figures

    @contextlib.asynccontextmanager
    async def _worker(self) -> AsyncIterator[Proc]:
        """A worker process, once it serves its metrics (it polls by then)."""
        with spawn("worker", [*self.command, "worker"], self.workdir, env=self.env) as proc:
            await wait_http(self.metrics, proc)
            yield proc

    async def _closed(self, ids: list[str], within: float = 900) -> dict[str, tuple[float, str]]:
        """Each task's workflow close time (epoch seconds) and status, once all closed."""
        wanted = {f"agent-execution-{task}": task for task in ids}
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            found: dict[str, tuple[float, str]] = {}
            query = f"TaskQueue = '{self.queue}' AND ExecutionStatus != 'Running'"
            async for run in self.client.list_workflows(query):
                task = wanted.get(run.id)
                if task is not None and run.close_time is not None and run.status is not None:
                    found[task] = (run.close_time.timestamp(), run.status.name)
            if len(found) == len(ids):
                return found
        raise RuntimeError(f"tasks still open after {within:.0f} s")
