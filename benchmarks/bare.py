"""The physical limit: stock Temporal doing the same durable work as the 1-tool task (three
steps: LLM, tool, LLM) at its fastest. A bare workflow runs three no-op activities outside the
workflow sandbox, with the SDK's default (JSON) data converter, on its own worker with our
worker's slot and cache settings, on uvloop (as our services run), in two variants: regular
activities (`BareWorkflow`: each a round trip through the server) and local activities
(`BareLocalWorkflow`: one workflow task, as our workflow runs its calls). The faster of the
two is the limit.

Beside the limit, not instead of it, `BareCallsWorkflow` ("bare calls") makes the task's own
calls in three local activities: the scripted LLM through the OpenAI SDK (twice) and the tool
over HTTP with httpx, and nothing else (no store, no events, no API): what the work itself
costs on stock Temporal, so the rest of our cost is our engine's.

`python -m benchmarks.bare HOST:PORT QUEUE [SCRIPTED_URL]` runs the worker (all workflows;
"bare calls" needs the scripted server's URL); the benchmark starts the workflows."""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import timedelta
from typing import Any, cast

import httpx
import openai
import uvloop
from openai.types.chat import ChatCompletionFunctionToolParam
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


TOOL: ChatCompletionFunctionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get current weather for a location",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
    },
}


class Calls:
    """The task's calls, each an activity: clients made once per worker, as ours are."""

    def __init__(self, scripted_url: str) -> None:
        self.url = scripted_url
        self.openai = openai.AsyncOpenAI(api_key="unused", base_url=f"{scripted_url}/v1")
        self.http = httpx.AsyncClient(timeout=30)

    @activity.defn(name="bare_llm")
    async def llm(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        answer = await self.openai.chat.completions.create(
            model="gpt-4o-mini",
            messages=cast(Any, messages),
            tools=[TOOL],
        )
        return answer.choices[0].message.model_dump(exclude_none=True)

    @activity.defn(name="bare_tool")
    async def tool(self, arguments: str) -> str:
        response = await self.http.post(f"{self.url}/weather", content=arguments)
        response.raise_for_status()
        return response.text


@workflow.defn
class BareCallsWorkflow:
    """LLM, tool, LLM: the same calls as the 1-tool task, as local activities."""

    @workflow.run
    async def run(self, name: str) -> str:
        messages: list[dict[str, Any]] = [{"role": "user", "content": name}]
        options: dict[str, Any] = {"start_to_close_timeout": TIMEOUT}
        asked = await workflow.execute_local_activity("bare_llm", messages, **options)
        call = asked["tool_calls"][0]
        result = await workflow.execute_local_activity(
            "bare_tool", call["function"]["arguments"], **options
        )
        messages += [asked, {"role": "tool", "tool_call_id": call["id"], "content": result}]
        answer = await workflow.execute_local_activity("bare_llm", messages, **options)
        return str(answer["content"])


# Each variant by the name of its workflow (the limit is the faster; "bare calls" is beside it).
VARIANTS = {"bare": "BareWorkflow", "bare local": "BareLocalWorkflow"}
CALLS = {"bare calls": "BareCallsWorkflow"}


async def main(target: str, queue: str, scripted_url: str = "http://127.0.0.1:1") -> None:
    client = await Client.connect(target)  # the SDK's default data converter
    calls = Calls(scripted_url)
    worker = Worker(
        client,
        task_queue=queue,
        workflows=[BareWorkflow, BareLocalWorkflow, BareCallsWorkflow],
        activities=[noop, calls.llm, calls.tool],
        **{**worker_options(ExecutorConfig()), "workflow_runner": UnsandboxedWorkflowRunner()},
    )
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    async with worker:
        print("ready", flush=True)
        await stop.wait()


if __name__ == "__main__":
    # On uvloop, as our services run: 6-10 % more workflows/s and 18-25 % less CPU a workflow
    # than on asyncio's own loop (measured 2026-12-07), so that is the baseline.
    uvloop.run(main(*sys.argv[1:4]))
