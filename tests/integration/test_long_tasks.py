"""Long tasks: continue-as-new keeps every run's history bounded, and a recorded history
that spans a continue-as-new replays deterministically."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from pathlib import Path

import httpx
from temporalio.api.enums.v1 import EventType as HistoryEventType
from temporalio.client import WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from temporal_executor.workflows import AgentExecutionWorkflow
from tests.conftest import config_data, running_stack, weather_tool, write_config
from tests.fakes.server import FakeServer

ITERATIONS = 200
HISTORY_LIMIT = 300


async def test_200_tool_iterations_continue_as_new(
    temporal: str, openai_fake: FakeServer, tool_server: FakeServer, tmp_path: Path
) -> None:
    data = config_data(temporal, openai_fake.url, tmp_path, max_iterations=ITERATIONS + 5)
    data["executor"]["history_limit"] = HISTORY_LIMIT
    replies = [
        {"tool_calls": [{"name": "get_weather", "arguments": f'{{"query": "step {i}"}}'}]}
        for i in range(ITERATIONS)
    ] + [{"content": "all done"}]
    async with httpx.AsyncClient() as http:
        await http.post(openai_fake.base_url + "/_fake/enqueue", json=replies)

    async with running_stack(data) as stack:
        await stack.execute(
            task_id="long-1",
            user_message="do many steps",
            model_config={"provider": "openai", "model": "gpt-4o-mini", "stream": False},
            tools=[weather_tool(tool_server)],
        )
        events = await stack.events("long-1")
        task = await stack.task("long-1")
        assert task["status"] == "completed", task
        assert task["result"]["content"] == "all done"
        assert task["iterations"] == ITERATIONS + 1

        assert [e["id"] for e in events] == list(range(1, len(events) + 1))
        counts = Counter(e["event"] for e in events)
        assert counts["tool.call"] == counts["tool.result"] == ITERATIONS
        assert counts["task.started"] == counts["task.completed"] == 1

        # Every run stayed under the limit (plus the few events of one iteration).
        client = stack.services.client
        # (The terminal event is written just before the last run closes: wait for it.)
        await client.get_workflow_handle("agent-execution-long-1").result()
        runs = [run async for run in client.list_workflows("WorkflowId = 'agent-execution-long-1'")]
        assert len(runs) >= 2  # local activities: two markers an iteration, ~400 events in all
        histories, statuses = [], []
        for run in runs:
            handle = client.get_workflow_handle("agent-execution-long-1", run_id=run.run_id)
            statuses.append((await handle.describe()).status)
            history = await handle.fetch_history()
            histories.append(history)
            assert len(history.events) < HISTORY_LIMIT + 40
        # (Visibility lags; describe() per run is exact.)
        assert Counter(statuses) == {
            WorkflowExecutionStatus.COMPLETED: 1,
            WorkflowExecutionStatus.CONTINUED_AS_NEW: len(runs) - 1,
        }

        # The whole transcript is in the store, in order, across runs.
        transcript = await stack.services.store.transcripts.get("long-1")
        assert len(transcript) == 1 + 2 * ITERATIONS + 1
        assert transcript[-1].content == "all done"

        # Recorded histories replay, the continued-as-new runs included.
        replayer = Replayer(
            workflows=[AgentExecutionWorkflow], data_converter=pydantic_data_converter
        )
        for history in histories:
            await replayer.replay_workflow(history)
        # The same through the CLI, which fetches every run itself.
        config_path = write_config(data, tmp_path / "config.yaml")
        replay = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "temporal_executor", "--config", str(config_path),
            "replay", "--task-id", "long-1",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output = (await replay.communicate())[0].decode()
        assert replay.returncode == 0, output
        assert output.count(": ok") == len(runs)

        continued = HistoryEventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
        assert (
            sum(any(e.event_type == continued for e in h.events) for h in histories)
            == len(runs) - 1
        )
