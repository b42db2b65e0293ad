"""Schedules on Temporal Schedules, through the REST API: what a bad one is told, a cron
schedule kept as written, paused and resumed, backfills whose runs are tasks (once per time,
however often the time is backfilled), a session the runs share, and deleting; and a
schedule every 5 seconds on two worker processes, one of them killed between its runs; the
`schedule` commands."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from temporal_executor.tasks import schedule_workflow_id
from temporal_executor.workflows import ScheduledRunResult
from tests.conftest import Stack, config_data, fake_requests, running_stack, write_config
from tests.fakes.server import FakeServer
from tests.integration.test_approvals_api import cli
from tests.integration.test_crash import worker_process

MODEL = {"provider": "openai", "model": "gpt-4o-mini"}
TEMPLATE = {"user_message": "good morning [no tools]", "model_config": MODEL}


async def ended(stack: Stack, task_id: str, within: float = 60) -> dict[str, Any]:
    """The task once it has ended (it may not exist yet: a run starts it)."""
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        response = await stack.http.get(f"/api/v1/tasks/{task_id}")
        if response.status_code == 200 and response.json()["status"] in ("completed", "failed"):
            task: dict[str, Any] = response.json()
            return task
        await asyncio.sleep(0.1)
    raise AssertionError(f"task {task_id} did not end")


async def runs_done(stack: Stack, schedule_id: str, count: int) -> list[ScheduledRunResult]:
    """The results of the schedule's `count` latest runs, once all have closed."""
    client = stack.services.client
    for _ in range(300):
        description = await client.get_schedule_handle(schedule_workflow_id(schedule_id)).describe()
        if description.info.num_actions >= count and not description.info.running_actions:
            break
        await asyncio.sleep(0.1)
    results = []
    for action in description.info.recent_actions[-count:]:
        run = action.action.workflow_id  # type: ignore[attr-defined]
        handle = client.get_workflow_handle(run, result_type=ScheduledRunResult)
        results.append(await handle.result())
    return results


BAD: list[tuple[dict[str, Any], int, str]] = [
    ({"cron": "0 9 * * *", "interval": "1h"}, 400, "cron or interval: "),
    ({}, 400, "cron or interval: "),
    ({"cron": "not a cron"}, 422, "cron: a cron expression has 5 fields"),
    ({"cron": "*/5 * * * * *"}, 422, "cron: a cron expression has 5 fields"),
    ({"cron": "61 * * * *"}, 400, "cron: Invalid schedule spec: Minute is not in range"),
    ({"interval": "5x"}, 422, "interval: "),
    ({"interval": "500ms"}, 422, "interval: must be at least 1s"),
    ({"cron": "0 9 * * *", "time_zone": "Mars/Olympus"}, 422, "time_zone: not an IANA"),
    ({"interval": "1h", "overlap": "sometimes"}, 422, "overlap: "),
    ({"interval": "1h", "template": {**TEMPLATE, "task_id": "t"}}, 400, "template.task_id: "),
    (
        {"interval": "1h", "template": {**TEMPLATE, "session_id": "s"}},
        400,
        "template.session_id: ",
    ),
    (
        {"interval": "1h", "template": {**TEMPLATE, "model_config": {"provider": "x"}}},
        422,
        "template.model_config.model: ",
    ),
    (
        {"interval": "1h", "template": {**TEMPLATE, "max_iterations": 99}},
        400,
        "template: max_iterations may be at most",
    ),
    ({"interval": "1h", "template": {**TEMPLATE, "typo": 1}}, 422, "template.typo: "),
]


async def test_a_bad_schedule_is_refused_naming_its_field(stack: Stack) -> None:
    for body, status, says in BAD:
        response = await stack.http.post("/api/v1/schedules", json={"template": TEMPLATE, **body})
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]["message"].startswith(says), (body, response.text)
    assert (await stack.http.get("/api/v1/schedules")).json() == {"schedules": []}


async def test_schedules_run_as_tasks_once_per_time(stack: Stack, openai_fake: FakeServer) -> None:
    http = stack.http

    # A cron schedule in a time zone: kept as written; its next runs at 9:00 there.
    weekdays = {
        "schedule_id": "weekdays",
        "template": TEMPLATE,
        "cron": "0 9 * * MON-FRI",
        "time_zone": "Europe/Berlin",
        "paused": True,
    }
    made = await http.post("/api/v1/schedules", json=weekdays)
    assert made.status_code == 201, made.text
    view = made.json()
    assert (view["cron"], view["interval"], view["overlap"], view["paused"]) == (
        "0 9 * * MON-FRI",
        None,
        "skip",
        True,
    )
    assert view["template"] == TEMPLATE and view["recent_runs"] == []
    berlin = [
        datetime.fromisoformat(t).astimezone(ZoneInfo("Europe/Berlin")) for t in view["next_runs"]
    ]
    assert len(berlin) == 10
    assert all((t.hour, t.minute) == (9, 0) and t.weekday() < 5 for t in berlin), berlin
    assert (await http.post("/api/v1/schedules/weekdays/resume")).json()["paused"] is False
    assert (await http.post("/api/v1/schedules/weekdays/pause")).json()["paused"] is True
    again = await http.post("/api/v1/schedules", json=weekdays)
    assert again.status_code == 409, again.text

    # Hourly, paused: a backfill over the last two hours runs both times now, each a task
    # of its own (a session of its own each), named for the time.
    hourly = {"schedule_id": "hourly", "template": TEMPLATE, "interval": "1h", "paused": True}
    assert (await http.post("/api/v1/schedules", json=hourly)).status_code == 201
    now = datetime.now(UTC)
    window = {"start": (now - timedelta(hours=2)).isoformat(), "end": now.isoformat()}
    backfilled = await http.post("/api/v1/schedules/hourly/backfill", json=window)
    assert backfilled.status_code == 202, backfilled.text
    times = [datetime.fromisoformat(t) for t in backfilled.json()["times"]]
    assert len(times) == 2 and all(t.minute == t.second == 0 for t in times), times
    task_ids = [f"hourly-{t.strftime('%Y-%m-%dT%H:%M:%SZ')}" for t in times]
    for task_id in task_ids:
        task = await ended(stack, task_id)
        assert task["status"] == "completed", task
        assert task["session_id"] == task_id
        assert task["result"]["content"] == "Echo: good morning [no tools]"
    assert [r.started for r in await runs_done(stack, "hourly", 2)] == [True, True]

    # The same window again: two more runs, which start nothing (their tasks exist).
    requests_before = len(await fake_requests(openai_fake))
    again = await http.post("/api/v1/schedules/hourly/backfill", json=window)
    assert again.status_code == 202, again.text
    assert [r.started for r in await runs_done(stack, "hourly", 4)][-2:] == [False, False]
    assert len(await fake_requests(openai_fake)) == requests_before
    listed = (await http.get("/api/v1/tasks?limit=100")).json()["tasks"]
    assert sorted(t["task_id"] for t in listed) == sorted(task_ids)
    view = (await http.get("/api/v1/schedules/hourly")).json()
    assert view["runs"] == 4 and view["paused"] is True
    assert [r["task_id"] for r in view["recent_runs"]] == task_ids * 2

    # Runs that share a session take turns in one conversation: with `buffer_one`, the
    # second time's run waits for the first's task, then goes on from its transcript.
    standup = {
        "schedule_id": "standup",
        "template": {**TEMPLATE, "user_message": "what changed? [no tools]"},
        "interval": "1h",
        "session_id": "standup-session",
        "paused": True,
    }
    assert (await http.post("/api/v1/schedules", json=standup)).status_code == 201
    buffered = {**window, "overlap": "buffer_one"}
    assert (await http.post("/api/v1/schedules/standup/backfill", json=buffered)).status_code == 202
    for moment in times:
        task = await ended(stack, f"standup-{moment.strftime('%Y-%m-%dT%H:%M:%SZ')}")
        assert task["status"] == "completed" and task["session_id"] == "standup-session", task
    session = (await http.get("/api/v1/sessions/standup-session")).json()
    assert [m["role"] for m in session["messages"]] == ["user", "assistant"] * 2
    last_request = (await fake_requests(openai_fake))[-1]
    assert len(last_request["messages"]) == 3  # the first turn, then this one's message

    listed = (await http.get("/api/v1/schedules")).json()["schedules"]
    assert [s["schedule_id"] for s in listed] == ["weekdays", "hourly", "standup"]

    # Deleted: gone from the API and from Temporal; its tasks stay.
    for schedule_id in ("weekdays", "hourly", "standup"):
        assert (await http.delete(f"/api/v1/schedules/{schedule_id}")).status_code == 204
    assert (await http.get("/api/v1/schedules/hourly")).status_code == 404
    assert (await http.post("/api/v1/schedules/hourly/pause")).status_code == 404
    with pytest.raises(RPCError) as gone:
        await stack.services.client.get_schedule_handle(schedule_workflow_id("hourly")).describe()
    assert gone.value.status == RPCStatusCode.NOT_FOUND
    assert (await http.get(f"/api/v1/tasks/{task_ids[0]}")).json()["status"] == "completed"


async def pollers(client: Client, task_queue: str) -> int:
    """How many workers poll the task queue's workflow tasks now."""
    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=task_queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )
    response = await client.workflow_service.describe_task_queue(request)
    return len({poller.identity for poller in response.pollers})


async def test_every_5_seconds_on_two_workers_one_killed(
    temporal: str, openai_fake: FakeServer, tmp_path: Path
) -> None:
    """Three runs, once each, 5 s apart: Temporal fires the ticks, whichever workers are up
    (one is killed after the first run); paused, no run starts any more."""
    data = config_data(temporal, openai_fake.url, tmp_path)
    config_path = write_config(data, tmp_path / "config.yaml")
    async with running_stack(data, worker=False) as stack:
        client = stack.services.client
        handle = client.get_schedule_handle(schedule_workflow_id("often"))

        async def runs(at_least: int) -> list[str]:
            """The tasks of the schedule's runs, once it has made `at_least` of them."""
            for _ in range(400):
                view = (await stack.http.get("/api/v1/schedules/often")).json()
                if len(view["recent_runs"]) >= at_least:
                    break
                await asyncio.sleep(0.1)
            return [run["task_id"] for run in view["recent_runs"]]

        with (
            worker_process(config_path, tmp_path / "first.log") as first,
            worker_process(config_path, tmp_path / "second.log"),
        ):
            for _ in range(600):
                if await pollers(client, stack.config.temporal.task_queue) >= 2:
                    break
                await asyncio.sleep(0.1)
            every = {"schedule_id": "often", "template": TEMPLATE, "interval": "5s"}
            made = await stack.http.post("/api/v1/schedules", json={**every, "overlap": "allow"})
            assert made.status_code == 201, made.text
            (one,) = await runs(1)
            assert (await ended(stack, one))["status"] == "completed"
            os.kill(first.pid, signal.SIGKILL)
            first.wait()

            # Paused once the third run started (on a loaded machine more ticks may have
            # fired by then: each must run once, and none after the pause).
            await runs(3)
            paused = await stack.http.post("/api/v1/schedules/often/pause")
            assert paused.status_code == 200 and paused.json()["paused"] is True
            started = await runs(3)
            assert len(started) >= 3 and len(set(started)) == len(started), started
            for task_id in started:
                assert (await ended(stack, task_id))["status"] == "completed"
            await asyncio.sleep(5.5)  # more than a tick
            assert (await handle.describe()).info.num_actions == len(started)
            assert await runs(3) == started
            for task_id in started:
                counts = Counter(e["event"] for e in await stack.events(task_id))
                assert (counts["task.started"], counts["task.completed"]) == (1, 1), counts
            listed = (await stack.http.get("/api/v1/tasks?limit=100")).json()["tasks"]
            assert sorted(t["task_id"] for t in listed) == sorted(started)
            # One LLM call a run, none again.
            assert len(await fake_requests(openai_fake)) == len(started)
            assert (await stack.http.delete("/api/v1/schedules/often")).status_code == 204

    times = [datetime.strptime(t.removeprefix("often-"), "%Y-%m-%dT%H:%M:%SZ") for t in started]
    assert [(b - a).total_seconds() for a, b in itertools.pairwise(times)] == [5, 5]


async def test_the_schedule_commands(stack: Stack) -> None:
    """`schedule create | list | resume | get | delete` over the API (each command costs a
    process start: `pause` and `backfill` are the same few lines as `resume`)."""
    code, out, err = await cli(
        stack,
        "schedule",
        "create",
        "good evening [no tools]",
        "--cron",
        "30 18 * * *",
        "--time-zone",
        "America/New_York",
        "--id",
        "evening",
        "--paused",
        "--model",
        "gpt-4o-mini",
    )
    assert (code, out.strip()) == (0, "schedule evening"), err
    code, out, err = await cli(stack, "schedule", "list")
    assert code == 0, err
    header, row = out.splitlines()
    assert header.split()[:4] == ["SCHEDULE", "WHEN", "OVERLAP", "STATE"]
    assert row.startswith("evening") and "cron 30 18 * * * (America/New_York)" in row, row
    assert "paused" in row and row.endswith("good evening [no tools]"), row
    code, out, err = await cli(stack, "schedule", "resume", "evening")
    assert (code, out.strip()) == (0, "resumed: schedule evening"), err
    code, out, err = await cli(stack, "schedule", "get", "evening", "--json")
    found = json.loads(out)
    assert (found["paused"], found["template"]["model_config"]["model"]) == (False, "gpt-4o-mini")
    assert (found["cron"], found["time_zone"], found["overlap"]) == (
        "30 18 * * *",
        "America/New_York",
        "skip",
    )
    code, out, err = await cli(stack, "schedule", "delete", "evening")
    assert (code, out.strip()) == (0, "deleted"), err
    assert (await stack.http.get("/api/v1/schedules")).json() == {"schedules": []}
