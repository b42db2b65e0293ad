"""B1, engine overhead: the 1-tool task (LLM → tool → LLM) over REST, `serve` + `worker`,
against stock Temporal doing the same durable work at its fastest (`bare.py`: three no-op
activities, unsandboxed, the SDK's default converter, its own worker; regular and local
activities), on the same tuned Temporal server (SQLite file in WAL mode, as `dev` runs it).
Beside ours, the same service with encryption at rest on (`security.encryption`, its own
store): what that costs a task, in latency and in our processes' CPU.

All take turns, round by round at each concurrency (a shared machine's speed varies by tens
of percent from minute to minute, so it weighs on all alike). The limit at a concurrency is
the bare variant with the higher throughput there; the ratio is ours over it, taken per
round, and its median reported. CPU per task: our API + worker against the bare worker.
Beside them, "bare calls": stock Temporal making the task's own calls and nothing else (what
the work itself costs; not the limit)."""

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

from temporal_executor.loadtest.runner import Run, load

from .bare import CALLS, VARIANTS
from .common import Proc, merged, python, spawn, temporal_server, wait_http
from .systems import config, rest_task, scripted, split

KEYS_ENV = "BENCH_ENCRYPTION_KEYS"

Call = Callable[[int], Awaitable[None]]


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


async def _costed(call: Call, calls: int, c: int, procs: list[Proc]) -> tuple[Run, float]:
    """A load run, and the CPU seconds `procs` spent on it."""
    before = sum(p.cpu() for p in procs)
    run = await load(call, calls, c)
    return run, sum(p.cpu() for p in procs) - before


def _summarize(results: dict[str, Any], c: str, runs: dict[str, list[tuple[Run, float]]]) -> None:
    """One concurrency's figures into `results`: each system's, the limit, the ratios."""
    for name, each in runs.items():
        tasks = sum(len(r.latencies) + r.failures for r, _ in each)
        cpu = sum(used for _, used in each) / tasks if tasks else float("nan")
        summary = merged([r for r, _ in each]).summary()
        results[name].append({**summary, "cpu_ms_per_task": round(cpu * 1000, 1)})
    fast, slow = sorted(VARIANTS, key=lambda n: -results[n][-1]["per_s"])
    results["limit"][c] = fast
    for into, base in (
        ("ratios", fast),
        ("ratios_vs_other", slow),
        ("ratios_vs_calls", "bare calls"),
    ):
        pairs = zip(runs[base], runs["ours"], strict=True)
        ratios = [o.throughput / b.throughput for (b, _), (o, _) in pairs if b.throughput]
        results[into][c] = round(statistics.median(ratios), 2) if ratios else float("nan")


async def engine(workdir: Path, levels: dict[int, int], rounds: int, warmup: int) -> dict[str, Any]:
    """At each concurrency (`levels`: concurrency → calls a round), `rounds` rounds of each
    system: throughput, latency and CPU a task, the limit (the faster bare variant), the
    median of the rounds' ratios against it, and what encryption costs a task."""
    names = [*VARIANTS, *CALLS, "ours", "encrypted"]
    results: dict[str, Any] = {name: [] for name in names}
    results |= {"limit": {}, "ratios": {}, "ratios_vs_other": {}, "ratios_vs_calls": {}}
    keys = {KEYS_ENV: f"bench:{base64.b64encode(os.urandom(32)).decode()}"}
    with temporal_server(workdir) as (target, _), scripted(workdir) as llm:
        queue = f"bare-{uuid.uuid4().hex[:8]}"
        argv = python("-m", "benchmarks.bare", target, queue, llm)
        encrypted_config = _encrypted(workdir / "encrypted", llm, target)
        with (
            spawn("bare-worker", argv, workdir) as worker,
            split(workdir, config(workdir, llm, target)) as ours,
            split(workdir / "encrypted", encrypted_config, keys) as encrypted,
        ):
            await _wait_ready(worker.log)
            await wait_http(ours.url + "/readyz", ours.procs[0])
            await wait_http(encrypted.url + "/readyz", encrypted.procs[0])
            client = await Client.connect(target)  # the SDK's default converter
            async with (
                httpx.AsyncClient(base_url=ours.url, timeout=300) as http,
                httpx.AsyncClient(base_url=encrypted.url, timeout=300) as sealed,
            ):

                def bare(workflow: str) -> Call:
                    async def run(i: int) -> None:
                        wf_id = f"bare-{uuid.uuid4().hex}"
                        await client.execute_workflow(
                            workflow, f"weather in city {i}", id=wf_id, task_queue=queue
                        )

                    return run

                def task(on: httpx.AsyncClient) -> Call:
                    return lambda i: rest_task(on, llm, f"weather in city {i}")

                systems: dict[str, tuple[Call, list[Proc]]] = {
                    **{name: (bare(wf), [worker]) for name, wf in {**VARIANTS, **CALLS}.items()},
                    "ours": (task(http), ours.procs),
                    "encrypted": (task(sealed), encrypted.procs),
                }
                for call, _ in systems.values():
                    await load(call, warmup, 1)
                for concurrency, calls in levels.items():
                    runs: dict[str, list[tuple[Run, float]]] = {name: [] for name in names}
                    for turn in range(rounds):
                        # Ours and encrypted swap places every round: neither always goes
                        # first after the bare workflows.
                        order = [*VARIANTS, *CALLS, *(["ours", "encrypted"][:: 1 - 2 * (turn % 2)])]
                        for name in order:
                            call, procs = systems[name]
                            runs[name].append(await _costed(call, calls, concurrency, procs))
                    _summarize(results, str(concurrency), runs)
    return results
