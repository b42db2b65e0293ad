"""Our event store vs `temporalio.contrib.workflow_streams`: same workload, same run.

    .venv/bin/python -m benchmarks.streams [--quick]

A task = a workflow publishing 10 status events around one activity that emits N tokens at
R tokens/s. Designs: `store` (our `DeltaPublisher` into the SQLite store, status events
by a local activity), `streams` (a `WorkflowStream` in the workflow; the activity publishes
each token via `WorkflowStreamClient.from_within_activity`, batch 200 ms as in Temporal's LLM
sample, and 20 ms) and `hybrid` (status in the stream, deltas in the store). A token's latency
is its receipt by a subscriber minus its emit in the activity (one process, one clock).
See benchmarks/README.md for what each number means.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import statistics
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import temporalio
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType as HistoryEvent
from temporalio.client import Client
from temporalio.contrib.workflow_streams import (
    PollInput,
    PollResult,
    WorkflowStream,
    WorkflowStreamClient,
)
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from temporal_executor.activities.deltas import DeltaPublisher
from temporal_executor.devserver import DevServer
from temporal_executor.store import Store, open_sqlite_store

STATUS = ("task.started", "llm.message", "tool.call", "tool.result", "llm.message")
STATUS += ("tool.call", "tool.result", "llm.message", "tool.call", "task.completed")
NAMES = {  # (design, publisher batch ms): name; the first is the baseline
    ("store", 0): "event store",
    ("streams", 200): "workflow_streams 200 ms",
    ("streams", 20): "workflow_streams 20 ms",
    ("hybrid", 0): "hybrid",
}
SUBSCRIBERS = {
    "store": ("same process", "2nd instance"),
    "streams": ("subscribe",),
    "hybrid": ("same process", "subscribe"),
}
EMITTED: dict[str, list[float]] = {}  # task id -> perf_counter() at each token's emit


@dataclass
class Job:
    task_id: str
    design: str  # "store" | "streams" | "hybrid"
    tokens: int
    rate: float
    batch_ms: int = 0  # workflow_streams publisher batch_interval


async def _tokens(job: Job) -> Any:
    """The synthetic LLM stream: token i ("i ") is emitted at start + i / rate."""
    emitted = EMITTED.setdefault(job.task_id, [])
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i in range(job.tokens):
        await asyncio.sleep(max(0.0, start + i / job.rate - loop.time()))
        emitted.append(time.perf_counter())
        yield f"{i} "


class Activities:
    def __init__(self, store: Store) -> None:
        self.store = store

    @activity.defn(name="publish_status")
    async def publish_status(self, task_id: str, key: str, type: str) -> None:
        await self.store.events.append(task_id, key, type, {"type": type})

    @activity.defn(name="fake_llm")
    async def fake_llm(self, job: Job) -> str:
        text: list[str] = []
        if job.design == "streams":
            client = WorkflowStreamClient.from_within_activity(
                batch_interval=timedelta(milliseconds=job.batch_ms)
            )
            deltas = client.topic("delta", type=str)
            async with client:
                async for token in _tokens(job):
                    deltas.publish(token)
                    text.append(token)
        else:
            publisher = DeltaPublisher(
                self.store.events, job.task_id, "llm:1", activity.info().attempt
            )
            async for token in _tokens(job):
                await publisher.add(token)
                text.append(token)
            await publisher.close()
        return "".join(text)


@workflow.defn
class BenchWorkflow:
    @workflow.init
    def __init__(self, job: Job) -> None:
        self.stream = WorkflowStream() if job.design != "store" else None

    @workflow.run
    async def run(self, job: Job) -> int:
        text = ""
        for n, type in enumerate(STATUS):
            if n == len(STATUS) // 2:
                text = await workflow.execute_activity(
                    "fake_llm", job, result_type=str, start_to_close_timeout=timedelta(minutes=2)
                )
            if self.stream is not None:
                self.stream.topic("status", type=dict).publish({"type": type})
            else:
                await workflow.execute_local_activity(
                    "publish_status",
                    args=[job.task_id, f"wf:{n}", type],
                    start_to_close_timeout=timedelta(seconds=10),
                )
        return len(text)


@dataclass
class Received:
    at: list[float | None]
    done: float | None = None  # when task.completed arrived

    def tokens(self, text: str, now: float) -> None:
        for token in text.split():
            self.at[int(token)] = now


async def follow_store(store: Store, job: Job, got: Received, until_done: bool) -> None:
    async for event in store.events.follow(job.task_id):
        now = time.perf_counter()
        if event.type == "llm.delta":
            got.tokens(event.data["text"], now)
        elif event.type == "task.completed":
            got.done = now
        if got.done is not None or (not until_done and None not in got.at):
            return


async def follow_stream(client: Client, job: Job, got: Received, cooldown: float) -> None:
    stream = WorkflowStreamClient.create(client, job.task_id)
    async for item in stream.subscribe(poll_cooldown=timedelta(seconds=cooldown)):
        now = time.perf_counter()
        if item.topic == "delta":
            got.tokens(item.data, now)
        elif item.data["type"] == "task.completed":
            got.done = now
            return


@dataclass
class Env:
    args: argparse.Namespace
    client: Client
    queue: str
    path: Path
    store: Store
    other: Store
    last: dict[str, Job] = field(default_factory=dict)


async def run_task(env: Env, design: str, batch_ms: int, tokens: int) -> dict[str, Any]:
    """Run one task; its token latencies per subscriber and its history size."""
    job = Job(f"{design}{batch_ms}-{uuid.uuid4().hex[:8]}", design, tokens, env.args.rate, batch_ms)
    handle = await env.client.start_workflow(
        BenchWorkflow.run, job, id=job.task_id, task_queue=env.queue
    )
    subs = {label: Received([None] * tokens) for label in SUBSCRIBERS[design]}
    followers = {
        "same process": lambda got: follow_store(env.store, job, got, design == "store"),
        "2nd instance": lambda got: follow_store(env.other, job, got, True),
        "subscribe": lambda got: follow_stream(env.client, job, got, env.args.poll_cooldown),
    }
    await asyncio.wait_for(
        asyncio.gather(*(followers[label](got) for label, got in subs.items())),
        tokens / job.rate + 60,
    )
    await handle.result()
    history = (await handle.fetch_history()).events
    kinds = Counter(event.event_type for event in history)
    emitted = EMITTED.pop(job.task_id)
    done = max(got.done for got in subs.values() if got.done is not None)
    latency = {}
    for label, got in subs.items():
        if None not in got.at:  # the hybrid's stream subscriber gets no tokens
            ms = sorted(1000 * (at - sent) for at, sent in zip(got.at, emitted, strict=True))
            end = 1000 * ((got.done or done) - emitted[-1])
            latency[label] = (ms[len(ms) // 2], ms[round(0.95 * (len(ms) - 1))], ms[-1], end)
    env.last[design] = job
    return {
        "latency": latency,
        "events": len(history),
        "bytes": sum(event.ByteSize() for event in history),
        "signals": kinds[HistoryEvent.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED],
        "updates": kinds[HistoryEvent.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED],
        "markers": kinds[HistoryEvent.EVENT_TYPE_MARKER_RECORDED],
    }


def _row(cells: list[Any], widths: list[int]) -> str:
    """One table line: the first cell left-aligned, the others right-aligned."""
    first, *rest = (f"{c:.1f}" if isinstance(c, float) else str(c) for c in cells)
    return f"{first:{widths[0]}}" + "".join(
        f" {c:>{w}}" for c, w in zip(rest, widths[1:], strict=True)
    )


def report(args: argparse.Namespace, runs: dict[tuple[str, int], list[dict[str, Any]]]) -> None:
    print(
        f"\nToken latency, emit in the activity -> receipt by the subscriber: {args.tokens} tokens"
        f" at {args.rate:g}/s, median of {args.repeats} runs. done = last token -> task.completed."
    )
    widths = [48, 7, 7, 7, 7, 6, 6]
    head = ["design, subscriber", "p50 ms", "p95 ms", "max ms", "done ms", "p50 x", "p95 x"]
    print(_row(head, widths))
    base: list[float] = []
    for (design, batch), results in runs.items():
        for label in results[0]["latency"]:
            samples = zip(*(r["latency"][label] for r in results), strict=True)
            p50, p95, top, end = (statistics.median(s) for s in samples)
            base = base or [p50, p95]
            ratios = [f"{p50 / base[0]:.1f}x", f"{p95 / base[1]:.1f}x"]
            print(_row([f"{NAMES[design, batch]}, {label}", p50, p95, top, end, *ratios], widths))

    print(
        f"\nWorkflow history per task (fetch_history, serialized bytes), median of {args.repeats}"
    )
    widths = [30, 7, 7, 7, 7, 7, 8, 7, 10]
    head = ["design", "events", "bytes", "signals", "updates", "markers", "events x", "bytes x"]
    print(_row([*head, "+ev/1k tok"], widths))
    base = []
    for (design, batch), results in runs.items():
        keys = ("events", "bytes", "signals", "updates", "markers")
        m = [int(statistics.median(r[k] for r in results)) for k in keys]
        base = base or [m[0], m[1]]
        extra = (m[0] - base[0]) * 1000 / args.tokens
        ratios = [f"{m[0] / base[0]:.1f}x", f"{m[1] / base[1]:.1f}x", f"{extra:+.0f}"]
        print(_row([NAMES[design, batch], *m, *ratios], widths))


async def late_stream_read(env: Env, job: Job) -> str:
    items, start = 0, time.perf_counter()
    try:
        async with asyncio.timeout(env.args.late_timeout):
            async for _ in WorkflowStreamClient.create(env.client, job.task_id).subscribe():
                items += 1
    except TimeoutError:
        return f"no answer within {env.args.late_timeout:g} s ({items} items read)"
    except Exception as exc:
        return f"{_error(exc)} after {time.perf_counter() - start:.1f} s"
    return f"read {items} items in {1000 * (time.perf_counter() - start):.0f} ms"


async def late_store_read(env: Env, job: Job) -> str:
    store, start = await open_sqlite_store(env.path), time.perf_counter()
    events = await store.events.read(job.task_id, limit=1_000_000)
    await store.close()
    took = 1000 * (time.perf_counter() - start)
    return f"read {len(events)} events (last: {events[-1].type}) in {took:.0f} ms"


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc.__cause__ or exc).splitlines()[0][:80]}"


async def after_close(env: Env, worker: Worker) -> None:
    store_job, stream_job = env.last["store"], env.last["streams"]
    print("\nAfter the workflow closed: a late subscriber reads the whole stream from offset 0")
    print(f"  event store, new instance, worker up:  {await late_store_read(env, store_job)}")
    print(f"  workflow_streams subscribe, worker up: {await late_stream_read(env, stream_job)}")
    handle = env.client.get_workflow_handle(stream_job.task_id)
    try:
        await handle.execute_update(
            "__temporal_workflow_stream_poll", PollInput(), result_type=PollResult
        )
        outcome = "accepted"
    except Exception as exc:
        outcome = _error(exc)
    print(f"  workflow_streams poll Update:          {outcome}")
    await worker.shutdown()
    print(f"  event store, no worker running:        {await late_store_read(env, store_job)}")
    print(f"  workflow_streams subscribe, no worker: {await late_stream_read(env, stream_job)}")


MULTI_HOST = """
Multi-host without PostgreSQL (noted, not measured)
  event store:      one SQLite file = one host (not over NFS); several hosts need PostgreSQL.
  workflow_streams: only Temporal; a closed stream needs retained history + a polling worker.
  hybrid:           status needs only Temporal; token deltas still need a shared store."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def main(args: argparse.Namespace) -> None:
    # A poll Update still waiting when the workflow returns is abandoned with a warning.
    logging.getLogger("temporalio").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="streams-bench-") as tmp:
        server = DevServer(f"127.0.0.1:{free_port()}", free_port(), Path(tmp) / "temporal")
        async with server.running():
            client = await Client.connect(f"{server.ip}:{server.port}")
            path = Path(tmp) / "events.db"
            store = await open_sqlite_store(path, poll_interval=args.poll_interval)
            other = await open_sqlite_store(path, poll_interval=args.poll_interval)
            env = Env(args, client, f"bench-{uuid.uuid4().hex[:6]}", path, store, other)
            acts = Activities(store)
            worker = Worker(
                client,
                task_queue=env.queue,
                workflows=[BenchWorkflow],
                activities=[acts.fake_llm, acts.publish_status],
                workflow_runner=UnsandboxedWorkflowRunner(),
            )
            running = asyncio.create_task(worker.run())
            print(
                f"temporalio {temporalio.__version__}, {os.cpu_count()} CPUs; event store poll"
                f" interval {args.poll_interval * 1000:g} ms; workflow_streams poll cooldown"
                f" {args.poll_cooldown * 1000:g} ms; {len(NAMES) * args.repeats} tasks"
                f" of {args.tokens} tokens + {len(STATUS)} status events"
            )
            for design, batch in NAMES:  # warm-up, not counted
                await run_task(env, design, batch, 10)
            runs: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
            for _ in range(args.repeats):  # interleaved, so drift hits every design alike
                for design, batch in NAMES:
                    runs[design, batch].append(await run_task(env, design, batch, args.tokens))
            report(args, runs)
            await after_close(env, worker)
            await running
            print(MULTI_HOST)
            await store.close()
            await other.close()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.streams", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small run, < 30 s")
    parser.add_argument("--tokens", type=int, default=200, help="tokens per task (200)")
    parser.add_argument("--rate", type=float, default=50.0, help="tokens per second (50)")
    parser.add_argument("--repeats", type=int, default=3, help="tasks per design (3)")
    parser.add_argument("--poll-interval", type=float, default=0.25, help="store poll, s (0.25)")
    parser.add_argument("--poll-cooldown", type=float, default=0.1, help="streams, s (0.1)")
    parser.add_argument("--late-timeout", type=float, default=45.0, help="late read limit, s")
    args = parser.parse_args()
    if args.quick:
        args.tokens, args.repeats, args.late_timeout = 50, 1, 5.0
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
