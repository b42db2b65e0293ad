"""Tasks another release started, on this release's worker and API (a real Temporal server).

A task of 0.1.0+254ae33 is started here with the very input that release wrote (taken from
its recorded histories, `tests/replay/releases/0.1.0+254ae33/`): it runs that release's steps
(`workflows/legacy.py`) on this release's activities, refuses the decisions it never knew,
naming the field, and once it continues as new goes on in this release's loop. A task whose
input this release cannot decode (one from a newer release) is not "ended": an approval gets
a 503 that says its workflow task is failing.
"""

from __future__ import annotations

import asyncio
import json

from temporalio.api.enums.v1 import EventType as HistoryEventType

from temporal_executor.workflows import workflow_id
from tests.conftest import Stack, weather_tool
from tests.fakes.server import FakeServer
from tests.integration.test_agent_task import assert_gap_free, calls_to, types, wait_status
from tests.replay.record import recorded_input, start_released

OLD = "0.1.0+254ae33"


async def local_activities(stack: Stack, task_id: str) -> list[set[str]]:
    """Per run of the task (oldest first), the local activities its history recorded."""
    client = stack.services.client
    runs = [r async for r in client.list_workflows(f"WorkflowId = '{workflow_id(task_id)}'")]
    found = []
    for run in sorted(runs, key=lambda r: r.start_time):
        history = await client.get_workflow_handle(run.id, run_id=run.run_id).fetch_history()
        names = set()
        for e in history.events:
            if e.event_type == HistoryEventType.EVENT_TYPE_MARKER_RECORDED:
                if e.marker_recorded_event_attributes.marker_name == "core_patch":
                    continue  # a `workflow.patched` marker, not a local activity
                marker = e.marker_recorded_event_attributes.details["data"].payloads[0]
                names.add(json.loads(marker.data)["activity_type"])
        found.append(names)
    return found


async def test_tasks_of_other_releases(stack: Stack, tool_server: FakeServer) -> None:
    """0.1.0+254ae33's tasks run its steps, refuse what it lacked, move on when new; a task
    of a newer release (its input's `v` beyond this code's) cannot progress: 503."""
    newer = {**recorded_input(OLD, "approval", task_id="newer-1", session_id="newer-1"), "v": 99}
    await start_released(stack, newer)
    tools = [weather_tool(tool_server)]
    await start_released(
        stack, recorded_input(OLD, "approval", task_id="old-1", session_id="old-1", tools=tools)
    )
    # Continued as new before its second LLM call: the next run is this release's loop.
    long = recorded_input(OLD, "tools", task_id="old-2", session_id="old-2", tools=tools)
    long["policies"] = {**long["policies"], "history_limit": 15}
    await start_released(stack, long)

    parked = await wait_status(stack, "old-1", "awaiting_approval")
    (call,) = parked["pending_approval"]["tool_calls"]
    url = f"/api/v1/approve/{workflow_id('old-1')}"
    edited = await stack.http.post(url, json={"approved": True, "arguments": {"query": "x"}})
    assert edited.status_code == 400, edited.text
    assert edited.json()["error"]["message"].startswith(
        "arguments: this task was started by release 0.1.0+254ae33"
    )
    per_call = {"tool_calls": {call["id"]: {"approved": True, "remember": "session"}}}
    remember = await stack.http.post(url, json=per_call)
    assert remember.status_code == 400, remember.text
    assert remember.json()["error"]["message"].startswith("remember: this task was started")
    assert (await stack.http.post(url, json={"approved": True})).status_code == 200

    for task_id, tools_step in (
        ("old-1", ["tool.call", "approval.required", "approval.decided", "tool.result"]),
        ("old-2", ["tool.call", "tool.result"]),
    ):
        events = await stack.events(task_id)
        assert_gap_free(events)
        ends = ["llm.message", "task.completed"]
        assert types(events) == ["task.started", "llm.message", *tools_step, *ends]
        task = await stack.task(task_id)
        assert task["status"] == "completed", task
        assert task["result"]["content"].startswith("Tool results: get_weather=")
        assert task["iterations"] == 2 and task["usage"]["total_tokens"] > 0
    decided = next(e for e in await stack.events("old-1") if e["event"] == "approval.decided")
    assert [c["approved"] for c in decided["data"]["calls"]] == [True]
    assert len(await calls_to(tool_server)) == 2  # one call each, run once

    legacy = {"publish_event", "open_session", "save_state"}
    (one_run,) = await local_activities(stack, "old-1")
    assert one_run == legacy
    first, second = await local_activities(stack, "old-2")
    assert first == legacy and second == {"record"}

    # Temporal refuses an update at once from the third attempt of a failing workflow task
    # (before, it waits for the task to complete), as it will when a person comes to decide.
    handle = stack.services.client.get_workflow_handle(workflow_id("newer-1"))
    for _ in range(400):
        if (await handle.describe()).raw_description.pending_workflow_task.attempt >= 3:
            break
        await asyncio.sleep(0.05)
    response = await stack.http.post(
        f"/api/v1/approve/{workflow_id('newer-1')}", json={"approved": True}
    )
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "task_unavailable"
    assert "workflow task is failing; see the worker's logs" in error["message"]
    await handle.terminate("test over")
