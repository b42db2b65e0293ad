"""B1, engine overhead: the 1-tool task (LLM → tool → LLM) over REST, `serve` + `worker`,
against a bare workflow with three no-op activities: same tuned Temporal server (SQLite file
in WAL mode, as `dev` runs it), same worker settings, same data converter. Beside ours, the
same service with encryption at rest on (`security.encryption`, its own store): what that
costs a task, in latency and in our processes' CPU.

All run side by side and take turns, round by round at each concurrency, so that the
machine's changing speed (a shared machine's varies by tens of percent from minute to
minute) weighs on them alike; the ratio is taken per round, and its median reported."""

from __future__ import annotations

import asyncio
import base64
import os
import statistics
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import yaml
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from temporal_executor.loadtest.runner import Run, load

from .bare import BareWorkflow
from .common import Proc, merged, python, spawn, temporal_server, wait_http
from .systems import config, rest_task, scripted, split

KEYS_ENV = "BENCH_ENCRYPTION_KEYS"


def _says_ready(log: Path) -> bool:
    return log.exists() and "ready" in log.read_text()


async def _wait_ready(log: Path) -> None:
    for _ in range(600):
        if _says_ready(log):
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"the bare worker did not start; see {log}")


def _encrypted(workdir: Path, scripted_url: str, target: str) -> Path:
    """Our config in `workdir`, with encryption at rest on."""
    workdir.mkdir()
    path = config(workdir, scripted_url, target)
    data = yaml.safe_load(path.read_text())
    data["security"] = {"encryption": {"enabled": True, "keys_env": KEYS_ENV}}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


async def _costed(
    call: Callable[[int], Awaitable[None]], calls: int, concurrency: int, procs: list[Proc]
) -> tuple[Run, float]:
    """A load run, and the CPU seconds `procs` spent on it."""
    before = sum(p.cpu() for p in procs)
    run = await load(call, calls, concurrency)
    return run, sum(p.cpu() for p in procs) - before


def _per_task(runs: list[tuple[Run, float]]) -> dict[str, Any]:
    """Runs at one concurrency: their summary, and CPU ms per task."""
    tasks = sum(len(r.latencies) + r.failures for r, _ in runs)
    cpu = sum(c for _, c in runs) / tasks if tasks else float("nan")
    return {**merged([r for r, _ in runs]).summary(), "cpu_ms_per_task": round(cpu * 1000, 1)}


async def engine(workdir: Path, levels: dict[int, int], rounds: int, warmup: int) -> dict[str, Any]:
    """At each concurrency (`levels`: concurrency → calls a round), `rounds` rounds of each:
    throughput and latency of all three, the median of the rounds' ratios (ours / bare),
    and what encryption costs a task (encrypted minus ours: p50 and CPU ms)."""
    results: dict[str, Any] = {"bare": [], "ours": [], "encrypted": [], "ratios": {}}
    keys = {KEYS_ENV: f"bench:{base64.b64encode(os.urandom(32)).decode()}"}
    with temporal_server(workdir) as (target, _), scripted(workdir) as llm:
        queue = f"bare-{uuid.uuid4().hex[:8]}"
        argv = python("-m", "benchmarks.bare", target, queue)
        encrypted_config = _encrypted(workdir / "encrypted", llm, target)
        with (
            spawn("bare-worker", argv, workdir) as worker,
            split(workdir, config(workdir, llm, target)) as ours,
            split(workdir / "encrypted", encrypted_config, keys) as encrypted,
        ):
            await _wait_ready(worker.log)
            await wait_http(ours.url + "/readyz", ours.procs[0])
            await wait_http(encrypted.url + "/readyz", encrypted.procs[0])
            client = await Client.connect(target, data_converter=pydantic_data_converter)
            async with (
                httpx.AsyncClient(base_url=ours.url, timeout=300) as http,
                httpx.AsyncClient(base_url=encrypted.url, timeout=300) as sealed,
            ):

                async def bare(i: int) -> None:
                    await client.execute_workflow(
                        BareWorkflow.run, str(i), id=f"bare-{uuid.uuid4().hex}", task_queue=queue
                    )

                async def task(i: int) -> None:
                    await rest_task(http, llm, f"weather in city {i}")

                async def sealed_task(i: int) -> None:
                    await rest_task(sealed, llm, f"weather in city {i}")

                for each in (bare, task, sealed_task):
                    await load(each, warmup, 1)
                for concurrency, calls in levels.items():
                    runs: dict[str, list[tuple[Run, float]]] = {k: [] for k in ("b", "o", "e")}
                    for turn in range(rounds):
                        runs["b"].append((await load(bare, calls, concurrency), 0.0))
                        # Ours and encrypted swap places every round: neither always goes
                        # first after the bare workflow.
                        pair = [("o", task, ours.procs), ("e", sealed_task, encrypted.procs)]
                        for name, call, procs in pair[:: 1 if turn % 2 == 0 else -1]:
                            runs[name].append(await _costed(call, calls, concurrency, procs))
                    results["bare"].append(merged([b for b, _ in runs["b"]]).summary())
                    results["ours"].append(_per_task(runs["o"]))
                    results["encrypted"].append(_per_task(runs["e"]))
                    ratios = [
                        o.throughput / b.throughput
                        for (b, _), (o, _) in zip(runs["b"], runs["o"], strict=True)
                        if b.throughput
                    ]
                    results["ratios"][str(concurrency)] = round(statistics.median(ratios), 2)
    return results
