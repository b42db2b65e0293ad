"""The physical limit: stock Temporal doing the same durable work as the 1-tool task (three
steps: LLM, tool, LLM) at its fastest. A bare workflow runs three no-op activities outside the
workflow sandbox, with the SDK's default (JSON) data converter, on its own worker with our
worker's slot and cache settings, in two variants: regular activities (`BareWorkflow`: each a
round trip through the server) and local activities (`BareLocalWorkflow`: one workflow task,
as our workflow runs its calls). The faster of the two is the limit.

`python -m benchmarks.bare HOST:PORT QUEUE` runs the worker (both workflows); the benchmark
starts the workflows."""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from temporal_executor.config import ExecutorConfig
from temporal_executor.worker import worker_options

ACTIVITIES = 3
TIMEOUT = timedelta(seconds=30)


@activity.defn
async def noop(step: int) -> int:
    return step


@workflow.defn
class BareWorkflow:
    """Three regular activities."""

    @workflow.run
    async def run(self, name: str) -> str:
        for step in range(ACTIVITIES):
            await workflow.execute_activity(noop, step, start_to_close_timeout=TIMEOUT)
        return name


@workflow.defn
class BareLocalWorkflow:
    """Three local activities."""

    @workflow.run
    async def run(self, name: str) -> str:
        for step in range(ACTIVITIES):
            await workflow.execute_local_activity(noop, step, start_to_close_timeout=TIMEOUT)
        return name


# Each variant by the name of its workflow.
VARIANTS = {"bare": "BareWorkflow", "bare local": "BareLocalWorkflow"}


async def main(target: str, queue: str) -> None:
    client = await Client.connect(target)  # the SDK's default data converter
    worker = Worker(
        client,
        task_queue=queue,
        workflows=[BareWorkflow, BareLocalWorkflow],
        activities=[noop],
        **{**worker_options(ExecutorConfig()), "workflow_runner": UnsandboxedWorkflowRunner()},
    )
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    async with worker:
        print("ready", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
