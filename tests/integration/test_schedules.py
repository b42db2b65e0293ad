"""Schedules on Temporal Schedules, through the REST API: what a bad one is told, a cron
schedule kept as written, paused and resumed, backfills whose runs are tasks (once per time,
however often the time is backfilled), a session the runs share, and deleting."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from temporalio.service import RPCError, RPCStatusCode

from temporal_executor.tasks import schedule_workflow_id
from temporal_executor.workflows import ScheduledRunResult
from tests.conftest import Stack, fake_requests
from tests.fakes.server import FakeServer

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
    for time in times:
        task = await ended(stack, f"standup-{time.strftime('%Y-%m-%dT%H:%M:%SZ')}")
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
