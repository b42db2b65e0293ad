"""The physical limit: a bare workflow with as many no-op activities as the 1-tool task has
(LLM, tool, LLM), on our worker settings and data converter. `python -m benchmarks.bare
HOST:PORT QUEUE` runs its worker; `BareWorkflow` is started by the benchmark."""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from temporal_executor.config import ExecutorConfig
    from temporal_executor.worker import worker_options

ACTIVITIES = 3


@activity.defn
async def noop(step: int) -> int:
    return step


@workflow.defn
class BareWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        for step in range(ACTIVITIES):
            await workflow.execute_activity(
                noop, step, start_to_close_timeout=timedelta(seconds=30)
            )
        return name


async def main(target: str, queue: str) -> None:
    client = await Client.connect(target, data_converter=pydantic_data_converter)
    worker = Worker(
        client,
        task_queue=queue,
        workflows=[BareWorkflow],
        activities=[noop],
        **worker_options(ExecutorConfig()),
    )
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    async with worker:
        print("ready", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
